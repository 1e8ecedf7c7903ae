"""Deterministic, offline market data: the default provider for development and tests.

A ticker's history is generated year by year with random generators seeded from (seed, ticker,
year), so a ticker and date always give the same bar whatever range was asked for, and a range
costs only the years it touches. Each year's total log return is drawn first (from a stream of
its own), then the year's daily path is a Brownian bridge to that total; the price level is
pinned at the end of ANCHOR_YEAR. Sessions follow the ticker's calendar (`calendar_for` of its
exchange and type); nothing is dated after today. Close is split-adjusted as of today and not
dividend-adjusted; adj_close is adjusted for both (see docs/PROVIDERS.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Final

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from rm_pipeline.core.calendars import ALWAYS_OPEN, calendar_for, session_days
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.frames import (
    CorporateActionFrame,
    DailyBarFrame,
    FundamentalsFrame,
    SecurityFrame,
    columns,
)
from rm_pipeline.providers.fx import concat_raw_rates, pair_currency, raw_rates, start_fx_outcomes
from rm_pipeline.providers.markets import guessed_security
from rm_pipeline.providers.snapshot import TickerHistory, price_snapshot
from rm_pipeline.providers.universe import default_tickers, default_universe
from rm_pipeline.providers.validation import (
    actions_result,
    bars_result,
    frame_result,
    fx_result,
    start_outcomes,
)

ORIGIN: Final = date(2000, 1, 3)
"""Every generated history starts at the first session on or after this date."""

ANCHOR_YEAR: Final = 2024
"""The generated price level is pinned at the last close of this year, so recent prices are
plausible; earlier years are derived backwards from it."""

MAX_YEAR: Final = ORIGIN.year + 149
"""Yearly shocks are drawn for a fixed span so none depends on today's date."""

DIVIDENDS_PER_YEAR: Final = 4
DIVIDEND_SPACING: Final = 63
"""Sessions between the quarterly ex-dividend dates within a year."""

# Annual drift and volatility of the log price, by sector or, for funds, by security type.
_DYNAMICS: Final[dict[str, tuple[float, float]]] = {
    "Technology": (0.12, 0.32),
    "Communication Services": (0.09, 0.30),
    "Consumer Cyclical": (0.09, 0.30),
    "Consumer Defensive": (0.06, 0.17),
    "Healthcare": (0.07, 0.21),
    "Financial Services": (0.07, 0.25),
    "Energy": (0.05, 0.30),
    "Industrials": (0.07, 0.24),
    "Utilities": (0.04, 0.16),
    "Basic Materials": (0.06, 0.26),
    "Real Estate": (0.05, 0.22),
    "etf": (0.07, 0.17),
    "index": (0.07, 0.18),
    "crypto": (0.35, 0.70),
}
_DEFAULT_DYNAMICS: Final = (0.06, 0.30)

# Typical price/earnings, price/sales, price/book and EV/EBITDA by sector.
_VALUATION: Final[dict[str, tuple[float, float, float, float]]] = {
    "Technology": (30.0, 7.0, 9.0, 20.0),
    "Communication Services": (22.0, 4.0, 4.5, 12.0),
    "Consumer Cyclical": (24.0, 2.0, 5.0, 14.0),
    "Consumer Defensive": (22.0, 1.8, 5.0, 15.0),
    "Healthcare": (20.0, 3.5, 4.5, 14.0),
    "Financial Services": (13.0, 3.0, 1.4, 10.0),
    "Energy": (11.0, 1.2, 1.8, 6.0),
    "Industrials": (20.0, 2.2, 4.0, 13.0),
    "Utilities": (18.0, 2.8, 2.0, 12.0),
}
_DEFAULT_VALUATION: Final = (18.0, 2.5, 3.0, 12.0)

# A few real splits, at their real dates: (ex-date, new shares per old share).
SPLITS: Final[dict[str, tuple[tuple[date, float], ...]]] = {
    "AAPL": ((date(2000, 6, 21), 2.0), (date(2005, 2, 28), 2.0), (date(2014, 6, 9), 7.0),
             (date(2020, 8, 31), 4.0)),
    "NVDA": ((date(2021, 7, 20), 4.0), (date(2024, 6, 10), 10.0)),
    "TSLA": ((date(2020, 8, 31), 5.0), (date(2022, 8, 25), 3.0)),
    "GOOGL": ((date(2022, 7, 18), 20.0),),
    "AMZN": ((date(2022, 6, 6), 20.0),),
    "AVGO": ((date(2024, 7, 15), 10.0),),
    "NFLX": ((date(2015, 7, 15), 7.0), (date(2025, 11, 17), 10.0)),
    "GE": ((date(2021, 8, 2), 0.125),),
    "7203.T": ((date(2021, 9, 29), 5.0),),
    "SHOP.TO": ((date(2022, 6, 29), 10.0),),
}  # fmt: skip


FX_LEVELS: Final[dict[str, float]] = {
    "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.13, "CAD": 0.73, "HKD": 0.128,
    "AUD": 0.66, "NZD": 0.60, "SEK": 0.095, "DKK": 0.145, "NOK": 0.093, "PLN": 0.25,
    "CNY": 0.138, "TWD": 0.031, "KRW": 0.00073, "SGD": 0.74, "INR": 0.012, "BRL": 0.19,
    "MXN": 0.055, "ZAR": 0.054, "ILS": 0.27,
}  # fmt: skip
"""US dollars per unit around which each currency's generated rate moves: every major currency
of the markets in `rm_pipeline/core/calendars.py`."""

FX_PEGGED: Final = frozenset({"HKD"})
"""Currencies held in a narrow band against USD: their rate barely moves."""

FX_SWING: Final = 0.05
"""Amplitude (in log terms) of a floating rate's slow swings around its level."""
FX_DAILY_SD: Final = 0.004
"""Standard deviation of a floating rate's day-to-day noise, in log terms."""
FX_SWING_DAYS: Final = (520.0, 90.0)
"""Periods of the two slow swings, in calendar days."""


@cache
def _universe_index() -> dict[str, tuple[dict[str, object], float]]:
    """Universe rows by ticker: the SecurityFrame row and the annual dividend yield."""
    index = {}
    for record in default_universe().to_dict("records"):
        dividend_yield = float(record.pop("dividend_yield"))
        row: dict[str, object] = {str(k): (None if pd.isna(v) else v) for k, v in record.items()}
        index[str(row["ticker"])] = (row, dividend_yield)
    return index


@lru_cache(maxsize=64)
def _calendar_years(calendar: str, last_year: int) -> dict[int, np.ndarray]:
    """The calendar's sessions from ORIGIN through last_year by year, as datetime64[ns]. Taken
    from `session_days`, which cuts them out of one span per calendar that it builds once for all
    its users (the validation's session check among them) and keeps on disk for later
    processes."""
    values = session_days(calendar, ORIGIN, date(last_year, 12, 31)).astype("datetime64[ns]")
    years = range(ORIGIN.year, last_year + 1)
    firsts = np.array([f"{year}-01-01" for year in [*years, last_year + 1]], dtype=values.dtype)
    bounds = np.searchsorted(values, firsts)
    return {year: values[bounds[i] : bounds[i + 1]] for i, year in enumerate(years)}


def _seed_words(seed: int, ticker: str) -> list[int]:
    """Entropy for (seed, ticker) that is stable across processes, unlike hash()."""
    digest = hashlib.blake2b(ticker.encode(), digest_size=16).digest()
    return [seed, *np.frombuffer(digest, dtype="<u4").tolist()]


@dataclass(frozen=True)
class _Profile:
    """A ticker's fixed synthetic character; `drift` and `sd` are per session, in log terms."""

    reference: dict[str, object]
    words: list[int]
    calendar: str
    drift: float
    sd: float
    anchor_price: float
    avg_volume: float
    shares: float
    dividend_yield: float
    dividend_phase: int
    multiples: tuple[float, ...]
    year_shocks: np.ndarray

    @property
    def ticker(self) -> str:
        return str(self.reference["ticker"])

    @property
    def kind(self) -> str:
        return str(self.reference["security_type"])


@dataclass(frozen=True)
class _Block:
    """Consecutive calendar years in ANCHOR_YEAR share units: rows open, high, low, close,
    volume, and the dividends by position in the block."""

    dates: np.ndarray
    bars: np.ndarray
    dividend_index: np.ndarray
    dividend_values: np.ndarray


_HistoryKey = tuple[str, int, int, date]
"""A stitched history: ticker, first and last year generated, and today."""


@dataclass(frozen=True)
class _Window:
    """Bars, dividends and splits of one ticker over a requested range, as stored."""

    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adj_close: np.ndarray
    volume: np.ndarray
    dividend_dates: np.ndarray
    dividend_values: np.ndarray
    split_dates: np.ndarray
    split_ratios: np.ndarray


def _make_profile(
    words: list[int], reference: dict[str, object], dividend_yield: float | None
) -> _Profile:
    """Draw a ticker's character from its own stream; made-up tickers may pay dividends too."""
    rng = np.random.Generator(np.random.PCG64([*words, 0]))
    kind, sector = str(reference["security_type"]), str(reference["sector"])
    if dividend_yield is None:
        pays = kind == "equity" and rng.random() < 0.5
        dividend_yield = float(rng.uniform(0.005, 0.04)) if pays else 0.0
    exchange = reference.get("exchange")
    calendar = calendar_for(str(exchange) if exchange else None, kind, str(reference["ticker"]))
    per_year = 365 if calendar == ALWAYS_OPEN else 252
    annual_drift, annual_vol = _DYNAMICS.get(kind, _DYNAMICS.get(sector, _DEFAULT_DYNAMICS))
    sd = annual_vol * float(np.exp(0.2 * rng.standard_normal())) / np.sqrt(per_year)
    drift = annual_drift + 0.02 * rng.standard_normal() - dividend_yield
    price_range = {"index": (2000.0, 20000.0), "crypto": (1.0, 50000.0), "etf": (50.0, 500.0)}
    volume_range = {"etf": (6.5, 7.9), "index": (8.5, 9.5), "crypto": (4.0, 5.0)}
    low_price, high_price = price_range.get(kind, (20.0, 400.0))
    return _Profile(
        reference=reference,
        words=words,
        calendar=calendar,
        drift=drift / per_year - sd**2 / 2,
        sd=float(sd),
        anchor_price=float(np.exp(rng.uniform(np.log(low_price), np.log(high_price))))
        * _units_per_dollar(str(reference.get("currency") or "USD")),
        avg_volume=float(10 ** rng.uniform(*volume_range.get(kind, (6.0, 7.7)))),
        shares=float(10 ** rng.uniform(8.5, 10.2)),
        dividend_yield=dividend_yield if per_year == 252 else 0.0,
        dividend_phase=int(rng.integers(1, DIVIDEND_SPACING)),
        multiples=tuple(
            float(m * np.exp(0.25 * rng.standard_normal()))
            for m in _VALUATION.get(sector, _DEFAULT_VALUATION)
        ),
        year_shocks=rng.standard_normal(MAX_YEAR - ORIGIN.year + 1),
    )


def _units_per_dollar(currency: str) -> float:
    """What a dollar buys in `currency` at its generated level, so a price drawn in dollars is
    plausible in the listing's own currency (a Tokyo share in thousands of yen). A code spelled
    the way Yahoo spells minor units (GBp, ZAc: a lower-case last letter) is a hundredth of its
    major currency; a currency without a generated level counts as the dollar."""
    major = currency.upper()
    hundredths = 100.0 if currency[-1:].islower() else 1.0
    return hundredths / FX_LEVELS.get(major, 1.0) if major != "USD" else hundredths


def _year_start_levels(profile: _Profile, years: dict[int, np.ndarray]) -> np.ndarray:
    """Log close before each year's first session (indexed from ORIGIN.year), pinned so the
    last close of ANCHOR_YEAR is the anchor price."""
    counts = np.array([len(days) for days in years.values()], dtype=float)
    shocks = profile.year_shocks[: len(counts)]
    totals = counts * profile.drift + np.sqrt(counts) * profile.sd * shocks
    ends = np.concatenate(([0.0], np.cumsum(totals)))
    return ends + np.log(profile.anchor_price) - ends[ANCHOR_YEAR - ORIGIN.year + 1]


def _make_block(
    profile: _Profile, years: range, dates: list[np.ndarray], start_levels: np.ndarray
) -> _Block:
    """Years of geometric Brownian motion, each bridged to its drawn total return from its
    start level (`dates` and `start_levels` by year).

    Each year has its own random stream and its own bridge, so no bar depends on which range
    was requested; only those go year by year, the rest is done for all the years at once.
    """
    counts = np.array([len(days) for days in dates])
    bounds = np.concatenate(([0], np.cumsum(counts)))
    shock, gap, up, down, noise = _draws(profile, years, bounds)
    sd = profile.sd
    shocks = profile.year_shocks[years.start - ORIGIN.year : years.stop - ORIGIN.year]
    totals = counts * profile.drift + np.sqrt(counts) * sd * shocks
    levels = _bridge(profile.drift + sd * shock, bounds, totals, start_levels)
    previous = np.empty_like(levels)
    previous[1:] = levels[:-1]
    previous[bounds[:-1]] = start_levels
    close = np.exp(levels)
    open_ = np.exp(previous + 0.25 * sd * gap)
    high = np.maximum(open_, close) * np.exp(0.5 * sd * np.abs(up))
    low = np.minimum(open_, close) * np.exp(-0.5 * sd * np.abs(down))
    busy = (1 + 0.5 * np.abs(shock)) / (1 + 0.5 * np.sqrt(2 / np.pi))
    volume = profile.avg_volume * np.exp(0.4 * noise - 0.08) * busy
    in_year = profile.dividend_phase + DIVIDEND_SPACING * np.arange(DIVIDENDS_PER_YEAR)
    in_year = in_year if profile.dividend_yield > 0 else in_year[:0]
    index = (bounds[:-1, None] + in_year)[in_year < counts[:, None]]
    values = profile.dividend_yield / DIVIDENDS_PER_YEAR * close[index - 1]
    bars = np.stack([open_, high, low, close, volume])
    return _Block(np.concatenate(dates), bars, index, values)


def _draws(profile: _Profile, years: range, bounds: np.ndarray) -> np.ndarray:
    """Rows shock, gap, up, down and noise of standard normals for the sessions of the years
    (year i's are columns bounds[i] to bounds[i + 1]), each year's from its own stream."""
    draws = np.empty((5, bounds[-1]))
    for year, first, stop in zip(years, bounds[:-1], bounds[1:], strict=True):
        rng = np.random.Generator(np.random.PCG64([*profile.words, year]))
        draws[:, first:stop] = rng.standard_normal((5, stop - first))
    return draws


def _bridge(
    steps: np.ndarray, bounds: np.ndarray, totals: np.ndarray, start_levels: np.ndarray
) -> np.ndarray:
    """Log closes: each year's steps (columns as in `_draws`) shifted, in place, to add up to
    the year's total, then summed up from the year's start level."""
    levels = np.empty_like(steps)
    for first, stop, total, level in zip(
        bounds[:-1], bounds[1:], totals, start_levels, strict=True
    ):
        year = steps[first:stop]
        year += (total - year.sum()) / max(stop - first, 1)
        levels[first:stop] = level + np.cumsum(year)
    return levels


def _split_factor(ticker: str, day: date) -> float:
    """Product of the ticker's split ratios up to `day`."""
    return float(np.prod([ratio for when, ratio in SPLITS.get(ticker, ()) if when <= day]))


def _dividend_adjusted(close: np.ndarray, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Back-adjust closes: before each ex-date multiply by 1 - dividend / previous close."""
    step = np.ones_like(close)
    step[index] = 1.0 - values / close[index - 1]
    after = np.cumprod(step[::-1])[::-1]
    return close * np.append(after[1:], 1.0)


class SyntheticProvider:
    """Generated prices, actions, fundamentals and reference data; needs no network.

    Tickers outside the built-in universe get generated data too, with reference data made up
    from the symbol (name = ticker, sector Unknown), so large benchmark universes work.

    Each ticker's character and year levels are cached (`cache_size` tickers). The histories
    generated for one request are kept until the next, so a batch's corporate actions reuse its
    bars' and a long history of many tickers does not pile up in memory.
    """

    name = "synthetic"

    def __init__(
        self, seed: int = 7, today: Callable[[], date] = date.today, cache_size: int = 512
    ) -> None:
        self.seed = seed
        self._today = today
        self._profile = lru_cache(maxsize=cache_size)(self._build_profile)
        self._levels = lru_cache(maxsize=cache_size)(self._build_levels)
        self._histories: dict[_HistoryKey, _Window] = {}

    def _build_profile(self, ticker: str) -> _Profile:
        reference, dividend_yield = _universe_index().get(ticker, (guessed_security(ticker), None))
        return _make_profile(_seed_words(self.seed, ticker), reference, dividend_yield)

    def _build_levels(self, ticker: str, last_year: int) -> np.ndarray:
        profile = self._profile(ticker)
        return _year_start_levels(profile, _calendar_years(profile.calendar, last_year))

    def _build_history(self, key: _HistoryKey) -> _Window:
        ticker, first_year, last, today = key
        profile = self._profile(ticker)
        last_year = max(today.year, ANCHOR_YEAR)
        calendar = _calendar_years(profile.calendar, last_year)
        years = range(first_year, last + 1)
        levels = self._levels(ticker, last_year)[first_year - ORIGIN.year : last + 1 - ORIGIN.year]
        block = _make_block(profile, years, [calendar[year] for year in years], levels)
        factor = _split_factor(ticker, today) / _split_factor(ticker, date(ANCHOR_YEAR, 12, 31))
        return _stitch(block, factor, today)

    def _windows(
        self, tickers: list[str], start: date, end: date, today: date
    ) -> dict[str, _Window]:
        """Each ticker's window of [start, end]; the histories stitched for them replace those
        kept from the previous request."""
        kept: dict[_HistoryKey, _Window] = {}
        windows = {ticker: self._window(ticker, start, end, today, kept) for ticker in tickers}
        self._histories = kept
        return windows

    def _window(
        self, ticker: str, start: date, end: date, today: date, kept: dict[_HistoryKey, _Window]
    ) -> _Window:
        """The stored view of [start, end]: split-adjusted as of today, never after today. The
        stitched history it is cut from is taken from the previous request's if there, and put
        in `kept`.

        Dividend payers are generated through today, because adj_close depends on every later
        dividend.
        """
        profile = self._profile(ticker)
        first, stop = max(start, ORIGIN), min(end, today)
        if first > stop:
            return _empty_window()
        last = today.year if profile.dividend_yield > 0 else stop.year
        key = (ticker, first.year, last, today)
        history = kept.get(key) or self._histories.get(key) or self._build_history(key)
        kept[key] = history
        dates = history.dates
        window = np.array([first, stop], dtype="datetime64[ns]")
        lo, hi = np.searchsorted(dates, window[0]), np.searchsorted(dates, window[1], "right")
        splits = [(w, r) for w, r in SPLITS.get(ticker, ()) if first <= w <= stop]
        split_at = np.searchsorted(dates, np.array([w for w, _ in splits], dtype="datetime64[ns]"))
        split_kept = (split_at >= lo) & (split_at < hi)
        paid = (history.dividend_dates >= window[0]) & (history.dividend_dates <= window[1])
        return _Window(
            dates=dates[lo:hi],
            open=history.open[lo:hi],
            high=history.high[lo:hi],
            low=history.low[lo:hi],
            close=history.close[lo:hi],
            adj_close=history.adj_close[lo:hi],
            volume=history.volume[lo:hi],
            dividend_dates=history.dividend_dates[paid],
            dividend_values=history.dividend_values[paid],
            split_dates=dates[split_at[split_kept]],
            split_ratios=np.array([r for _, r in splits], dtype=float)[split_kept],
        )

    def securities(self, tickers: Sequence[str] | None = None) -> ProviderResult:
        """Reference data; None means the built-in universe of well-known listings."""
        requested = default_tickers() if tickers is None else tickers
        valid, invalid = start_outcomes(requested)
        rows = [self._profile(ticker).reference for ticker in valid]
        raw = pd.DataFrame(rows, columns=columns(SecurityFrame))
        return frame_result(SecurityFrame, raw, _ok(valid) + invalid)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        today = self._today()
        valid, invalid = start_outcomes(tickers)
        windows = self._windows(valid, start, end, today)
        return bars_result(_bars_frame(windows), _ok(valid) + invalid, start, end, today)

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        today = self._today()
        valid, invalid = start_outcomes(tickers)
        raw = _actions_frame(self._windows(valid, start, end, today))
        return actions_result(raw, _ok(valid) + invalid, start, end, today)

    def fundamentals(self, tickers: Sequence[str]) -> ProviderResult:
        """A snapshot as of the last session, consistent with the generated bars."""
        today = self._today()
        valid, invalid = start_outcomes(tickers)
        year_ago = date(today.year - 1, 1, 1)
        windows = self._windows(valid, year_ago, today, today)
        rows = [_fundamentals_row(self._profile(t), windows[t]) for t in valid]
        raw = pd.DataFrame([r for r in rows if r], columns=columns(FundamentalsFrame))
        return frame_result(FundamentalsFrame, raw, _ok(valid) + invalid)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        """Weekday rates from ORIGIN to today: each currency's level (FX_LEVELS) with slow
        swings and small daily noise, the same for a date whatever range was asked for."""
        today = self._today()
        pairs, invalid = start_fx_outcomes(currencies)
        known = [pair for pair in pairs if pair_currency(pair) in FX_LEVELS]
        dates = pd.bdate_range(max(start, ORIGIN), min(end, today)).as_unit("ns")
        raw = concat_raw_rates([raw_rates(p, dates, self._fx_path(p, dates)) for p in known])
        outcomes = [
            TickerOutcome(p, TickerStatus.OK)
            if p in known
            else TickerOutcome(p, TickerStatus.NO_DATA, f"no synthetic rate for {pair_currency(p)}")
            for p in pairs
        ]
        return fx_result(raw, outcomes + invalid, start, end, today)

    def _fx_path(self, pair: str, dates: pd.DatetimeIndex) -> np.ndarray:
        currency = str(pair_currency(pair))
        scale = 0.02 if currency in FX_PEGGED else 1.0
        words = _seed_words(self.seed, pair)
        phases = np.random.Generator(np.random.PCG64([*words, 0])).uniform(0, 2 * np.pi, 2)
        days = (dates - pd.Timestamp(ORIGIN)).days.to_numpy(dtype=float)
        swing = sum(
            weight * np.sin(2 * np.pi * days / period + phase)
            for weight, period, phase in zip((0.7, 0.3), FX_SWING_DAYS, phases, strict=True)
        )
        years, day_of_year = dates.year.to_numpy(), dates.day_of_year.to_numpy()
        noise = np.zeros(len(dates))
        for year in np.unique(years):
            in_year = years == year
            draws = np.random.Generator(np.random.PCG64([*words, int(year)])).standard_normal(366)
            noise[in_year] = draws[day_of_year[in_year] - 1]
        log_rate = np.log(FX_LEVELS[currency]) + scale * (FX_SWING * swing + FX_DAILY_SD * noise)
        return np.round(np.exp(log_rate), 10)


def _stitch(block: _Block, factor: float, today: date) -> _Window:
    """Generated years up to today, in today's shares (prices divided by `factor`, the split
    ratio since ANCHOR_YEAR), rounded as stored, with adj_close. No splits."""
    dates = block.dates
    upto = np.searchsorted(dates, np.datetime64(today, "ns"), side="right")
    bars = block.bars[:, :upto]
    open_, high, low, close = np.round(bars[:4] / factor, 4)
    index, values = block.dividend_index, np.round(block.dividend_values / factor, 4)
    index, values = index[index < upto], values[index < upto]
    return _Window(
        dates=dates[:upto],
        open=open_,
        high=np.maximum(high, np.maximum(open_, close)),
        low=np.minimum(low, np.minimum(open_, close)),
        close=close,
        adj_close=np.round(_dividend_adjusted(close, index, values), 6) if len(index) else close,
        volume=np.round(bars[4] * factor).astype(np.int64),
        dividend_dates=dates[index],
        dividend_values=values,
        split_dates=np.array([], dtype="datetime64[ns]"),
        split_ratios=np.array([], dtype=float),
    )


def _ok(tickers: list[str]) -> list[TickerOutcome]:
    return [TickerOutcome(ticker, TickerStatus.OK) for ticker in tickers]


def _empty_window() -> _Window:
    none = np.array([], dtype=float)
    return _Window(
        np.array([], dtype="datetime64[ns]"), none, none, none, none, none,
        np.array([], dtype=np.int64), np.array([], dtype="datetime64[ns]"), none,
        np.array([], dtype="datetime64[ns]"), none,
    )  # fmt: skip


def _bars_frame(windows: dict[str, _Window]) -> pd.DataFrame:
    """One DataFrame from many windows, built column by column."""
    counts = [len(window.dates) for window in windows.values()]
    data: dict[str, np.ndarray | ExtensionArray] = {"ticker": _repeated(list(windows), counts)}
    fields = {"date": "dates"} | {name: name for name in columns(DailyBarFrame)[2:]}
    for column, field in fields.items():
        pieces = [getattr(window, field) for window in windows.values()]
        data[column] = np.concatenate(pieces) if pieces else np.array([])
    return pd.DataFrame(data, columns=columns(DailyBarFrame))


def _repeated(labels: list[str], counts: list[int]) -> np.ndarray | ExtensionArray:
    """Each label `counts` times, typed as pandas types a column of those strings (object when
    there are none): repeating the few labels is much cheaper than having pandas check every
    repeated string."""
    positions = np.repeat(np.arange(len(labels)), counts)
    if not len(positions):
        return np.array([], dtype=object)
    return pd.Index(labels).array.take(positions)


def _actions_frame(windows: dict[str, _Window]) -> pd.DataFrame:
    """One DataFrame of each window's splits, then its dividends, ticker after ticker; without
    any, the frame `concat_frames` gives for none (no rows, object columns)."""
    kinds = [
        (ticker, action, dates, values)
        for ticker, window in windows.items()
        for action, dates, values in (
            ("split", window.split_dates, window.split_ratios),
            ("dividend", window.dividend_dates, window.dividend_values),
        )
    ]
    counts = [len(dates) for _, _, dates, _ in kinds]
    if not sum(counts):
        return pd.DataFrame(columns=columns(CorporateActionFrame))
    data = {
        "ticker": _repeated([ticker for ticker, *_ in kinds], counts),
        "date": np.concatenate([dates for _, _, dates, _ in kinds]),
        "action": _repeated([action for _, action, *_ in kinds], counts),
        "value": np.concatenate([values for *_, values in kinds]),
    }
    return pd.DataFrame(data, columns=columns(CorporateActionFrame))


def _fundamentals_row(profile: _Profile, window: _Window) -> dict[str, object]:
    """Fundamentals consistent with the ticker's own bars and dividends.

    Market cap is price times a fixed share count; each multiple is price over a synthetic
    per-share figure set at the ticker's typical multiple of its last year's average close.
    """
    history = TickerHistory(
        dates=window.dates, high=window.high, low=window.low, close=window.close,
        volume=window.volume, dividend_dates=window.dividend_dates,
        dividend_values=window.dividend_values,
    )  # fmt: skip
    snapshot = price_snapshot(history)
    if not snapshot:
        return {}
    row: dict[str, object] = {"ticker": profile.ticker, **snapshot}
    price = float(window.close[-1])
    if profile.kind in ("equity", "crypto"):
        row["market_cap"] = price * profile.shares
    if profile.kind == "equity":
        typical = float(np.mean(window.close[-252:]))
        names = ("pe_ratio", "ps_ratio", "pb_ratio", "ev_ebitda")
        row |= {
            n: round(price * m / typical, 4) for n, m in zip(names, profile.multiples, strict=True)
        }
    if profile.kind in ("index", "crypto"):
        row["dividend_yield"] = None
    return row
