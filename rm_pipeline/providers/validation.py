"""The one validation path every provider's output goes through.

Providers build raw frames with the standard columns and a preliminary outcome per ticker;
the functions here set bad rows aside (with a reason), validate the rest against the pandera
models, and fill in each ticker's row count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd

from rm_pipeline.core.calendars import ALWAYS_OPEN, session_days
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.calendars import ticker_calendar
from rm_pipeline.providers.frames import (
    CorporateActionFrame,
    DailyBarFrame,
    FrameModel,
    FxRateFrame,
    RejectedFrame,
    columns,
    conform,
    empty_frame,
)
from rm_pipeline.providers.tickers import split_valid

PRICE_TOLERANCE = 1e-6
"""Relative slack for the high-low range checks, so float rounding is not a rejection; an open
or close within the slack is clamped into [low, high], so stored bars are exactly consistent."""

_PRICES = ["open", "high", "low", "close", "adj_close"]
MAX_PRICE = 1e14
"""Prices are NUMERIC(20, 6): at most 14 digits before the point."""
MAX_VOLUME = 9.2e18
"""Volumes are BIGINT (at most 9,223,372,036,854,775,807); floats are compared a little below."""
RATE_RANGE = (1e-8, 1e10)
"""Rates are NUMERIC(20, 10): below 1e10, and above 1e-8 so at least three significant digits
survive the ten decimal places."""
FX_RAW_COLUMNS = ["ticker", *columns(FxRateFrame)]
"""Raw exchange rates as providers build them: the pair's ticker (`EURUSD=X`) and the
FxRateFrame columns."""


class RejectReason(StrEnum):
    """Why a row was set aside; a row gets the first reason that applies, in this order."""

    UNPARSEABLE = "unparseable"
    FUTURE_DATE = "future_date"
    NOT_A_SESSION = "not_a_session"
    MISSING_CLOSE = "missing_close"
    NON_POSITIVE_CLOSE = "non_positive_close"
    MISSING_PRICE = "missing_price"
    NON_POSITIVE_PRICE = "non_positive_price"
    PRICE_TOO_LARGE = "price_too_large"
    HIGH_BELOW_LOW = "high_below_low"
    OPEN_OUTSIDE_RANGE = "open_outside_range"
    CLOSE_OUTSIDE_RANGE = "close_outside_range"
    NEGATIVE_VOLUME = "negative_volume"
    VOLUME_TOO_LARGE = "volume_too_large"
    FRACTIONAL_VOLUME = "fractional_volume"
    MISSING_VALUE = "missing_value"
    NON_POSITIVE_VALUE = "non_positive_value"
    MISSING_RATE = "missing_rate"
    NON_POSITIVE_RATE = "non_positive_rate"
    RATE_OUT_OF_RANGE = "rate_out_of_range"
    DUPLICATE = "duplicate"
    UNEXPLAINED_JUMP = "unexplained_jump"
    UNEXPLAINED_RESTATEMENT = "unexplained_restatement"


Rule = tuple[RejectReason, Callable[[pd.DataFrame], pd.Series | np.ndarray]]
"""A reason and the rows it applies to, as booleans: the rules read `_numeric`'s floats and
datetimes, whose comparisons are never NA."""


def _outside_range(frame: pd.DataFrame, name: str) -> pd.Series:
    low = frame["low"] * (1 - PRICE_TOLERANCE)
    high = frame["high"] * (1 + PRICE_TOLERANCE)
    return (frame[name] < low) | (frame[name] > high)


def _prices(frame: pd.DataFrame) -> np.ndarray:
    return frame[_PRICES].to_numpy(dtype=float)


def _not_a_session(frame: pd.DataFrame) -> np.ndarray:
    """Dates that are not sessions of the ticker's exchange (24/7 markets have no such dates):
    Yahoo's flat, zero-volume placeholders on holidays, for one. A bar names only its ticker, so
    the exchange is the one its symbol names (`ticker_calendar`)."""
    days = frame["date"].to_numpy().astype("datetime64[D]")
    codes, tickers = pd.factorize(frame["ticker"])
    dated = np.flatnonzero((codes >= 0) & ~np.isnat(days))
    by_ticker = dated[np.argsort(codes[dated], kind="stable")]
    bounds = np.searchsorted(codes[by_ticker], np.arange(len(tickers) + 1))
    outside = np.zeros(len(frame), dtype=bool)
    for code, ticker in enumerate(tickers):
        calendar = ticker_calendar(str(ticker))
        rows = by_ticker[bounds[code] : bounds[code + 1]]
        if calendar == ALWAYS_OPEN or not len(rows):
            continue
        outside[rows] = ~np.isin(days[rows], _session_days(calendar, days[rows]))
    return outside


def _session_days(calendar: str, days: np.ndarray) -> np.ndarray:
    """The calendar's sessions from the first of `days` to the last, as datetime64[D]."""
    return session_days(calendar, days.min().astype(date), days.max().astype(date))


def _bar_rules(today: date) -> list[Rule]:
    return [
        (RejectReason.FUTURE_DATE, lambda f: f["date"] > pd.Timestamp(today)),
        (RejectReason.NOT_A_SESSION, _not_a_session),
        (RejectReason.MISSING_CLOSE, lambda f: f["close"].isna()),
        (RejectReason.NON_POSITIVE_CLOSE, lambda f: f["close"] <= 0),
        (RejectReason.MISSING_PRICE, lambda f: np.isnan(_prices(f)).any(axis=1)),
        (RejectReason.NON_POSITIVE_PRICE, lambda f: (_prices(f) <= 0).any(axis=1)),
        (RejectReason.PRICE_TOO_LARGE, lambda f: (_prices(f) >= MAX_PRICE).any(axis=1)),
        (RejectReason.HIGH_BELOW_LOW, lambda f: f["high"] < f["low"]),
        (RejectReason.OPEN_OUTSIDE_RANGE, lambda f: _outside_range(f, "open")),
        (RejectReason.CLOSE_OUTSIDE_RANGE, lambda f: _outside_range(f, "close")),
        (RejectReason.NEGATIVE_VOLUME, lambda f: f["volume"] < 0),
        (RejectReason.VOLUME_TOO_LARGE, lambda f: f["volume"] >= MAX_VOLUME),
        (
            RejectReason.FRACTIONAL_VOLUME,
            lambda f: (f["volume"] - f["volume"].round()).abs() > 1e-6,
        ),
    ]


def _action_rules(today: date) -> list[Rule]:
    return [
        (RejectReason.FUTURE_DATE, lambda f: f["date"] > pd.Timestamp(today)),
        (RejectReason.MISSING_VALUE, lambda f: f["value"].isna()),
        (RejectReason.NON_POSITIVE_VALUE, lambda f: f["value"] <= 0),
    ]


def _rate_rules(today: date) -> list[Rule]:
    low, high = RATE_RANGE
    return [
        (RejectReason.FUTURE_DATE, lambda f: f["date"] > pd.Timestamp(today)),
        (RejectReason.MISSING_RATE, lambda f: f["rate"].isna()),
        (RejectReason.NON_POSITIVE_RATE, lambda f: f["rate"] <= 0),
        (RejectReason.RATE_OUT_OF_RANGE, lambda f: (f["rate"] < low) | (f["rate"] >= high)),
    ]


def _numeric(frame: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    out = frame.copy()
    for name in names:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
        out[name] = out[name].replace([np.inf, -np.inf], np.nan)
    out["date"] = pd.to_datetime(out["date"])
    return out.reset_index(drop=True)


def _set_aside(
    frame: pd.DataFrame, raw: pd.DataFrame, rules: Sequence[Rule], key: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the rules in order, then mark repeats of `key` among the surviving rows. `raw` is
    the frame as the source sent it (same index), kept with each rejected row."""
    reasons = np.full(len(frame), None, dtype=object)
    survivors = np.ones(len(frame), dtype=bool)
    for reason, rule in rules:
        hit = np.asarray(rule(frame), dtype=bool) & survivors
        reasons[hit] = reason.value
        survivors &= ~hit
    kept = np.flatnonzero(survivors)
    repeated = kept[frame[key].iloc[kept].duplicated(keep="first").to_numpy()]
    reasons[repeated] = RejectReason.DUPLICATE.value
    survivors[repeated] = False
    if survivors.all():  # the usual case: no rejected row to describe and validate
        return frame[survivors], empty_frame(RejectedFrame)
    bad = ~survivors
    rejected = frame.loc[bad, ["ticker", "date"]].assign(
        reason=reasons[bad], raw=raw_values(raw.loc[bad])
    )
    return frame[survivors], conform(RejectedFrame, rejected)


def raw_values(frame: pd.DataFrame) -> list[str]:
    """Each row's values as the source sent them, as JSON text (for the quarantine)."""
    return [
        json.dumps({k: _plain(v) for k, v in row.items() if k != "ticker"})
        for row in frame.to_dict("records")
    ]


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None if value is None or np.isnan(value) else str(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, (np.integer, np.floating)):
        return _plain(value.item())
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def validate_bars(raw: pd.DataFrame, today: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw daily bars into a validated DailyBarFrame and a RejectedFrame.

    Rejected: dates after `today` or that are not sessions of the ticker's exchange, missing or
    non-positive prices, prices or volumes the warehouse columns cannot hold, high below low,
    open or close outside the high-low range, negative or fractional volume, and
    repeats of a ticker and date (the first good row is kept).
    """
    source = raw[columns(DailyBarFrame)].reset_index(drop=True)
    frame = _numeric(source, [*_PRICES, "volume"])
    good, rejected = _set_aside(frame, source, _bar_rules(today), ["ticker", "date"])
    good = good.assign(
        open=good["open"].clip(good["low"], good["high"]),
        close=good["close"].clip(good["low"], good["high"]),
        volume=good["volume"].round().astype("Int64"),  # missing: the source did not say
    )
    return conform(DailyBarFrame, good), rejected


def validate_actions(raw: pd.DataFrame, today: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw corporate actions into a validated CorporateActionFrame and a RejectedFrame."""
    source = raw[columns(CorporateActionFrame)].reset_index(drop=True)
    frame = _numeric(source, ["value"])
    good, rejected = _set_aside(frame, source, _action_rules(today), ["ticker", "date", "action"])
    return conform(CorporateActionFrame, good), rejected


def validate_rates(raw: pd.DataFrame, today: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw exchange rates (FX_RAW_COLUMNS) into the good rows, still with their pair's
    ticker, and a RejectedFrame.

    Rejected: dates after `today`, missing or infinite rates, rates not above zero or outside
    RATE_RANGE, and repeats of a pair and date (the first good row is kept).
    """
    source = raw[FX_RAW_COLUMNS].reset_index(drop=True)
    frame = _numeric(source, ["rate"])
    key = ["base_currency", "quote_currency", "date"]
    return _set_aside(frame, source, _rate_rules(today), key)


def start_outcomes(raw_tickers: Iterable[object]) -> tuple[list[str], list[TickerOutcome]]:
    """Normalize the requested tickers: the valid ones, and an `invalid` outcome per bad one."""
    valid, errors = split_valid(raw_tickers)
    return valid, [TickerOutcome(str(e.ticker), TickerStatus.INVALID, str(e)) for e in errors]


def in_range(frame: pd.DataFrame, start: date, end: date, column: str = "date") -> pd.DataFrame:
    """Rows whose date lies in [start, end]; sources that over-deliver are trimmed here."""
    dates = pd.to_datetime(frame[column])
    return frame[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]


def _count_by_ticker(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["ticker"].value_counts().items()}


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def every_row_rejected(reasons: pd.Series) -> str:
    """The reason a ticker fails when none of its rows (`reasons`, at least one) survive: how
    many were rejected, and why: the RejectReason (a reason's part before any detail), or how
    many for each when there are several."""
    kinds = reasons.astype(str).str.partition(":")[0].value_counts()
    counted = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    why = counted if len(kinds) > 1 else str(kinds.index[0])
    return f"every row rejected ({_rows(len(reasons))}): {why}"


def _settle(
    outcomes: Sequence[TickerOutcome],
    good: pd.DataFrame,
    rejected: pd.DataFrame,
    empty_status: TickerStatus,
) -> list[TickerOutcome]:
    """Fill in the rows of each `ok` outcome; `ok` with no rows becomes `empty_status`, or
    `error` when rows came but every one was rejected."""
    kept, dropped = _count_by_ticker(good), _count_by_ticker(rejected)
    settled = []
    for outcome in outcomes:
        if outcome.status is not TickerStatus.OK:
            settled.append(outcome)
            continue
        rows, bad = kept.get(outcome.ticker, 0), dropped.get(outcome.ticker, 0)
        if rows == 0 and bad:
            reason = every_row_rejected(
                rejected.loc[rejected["ticker"] == outcome.ticker, "reason"]
            )
            settled.append(replace(outcome, status=TickerStatus.ERROR, reason=reason))
        elif rows == 0:
            settled.append(replace(outcome, status=empty_status))
        elif bad:
            settled.append(replace(outcome, rows=rows, reason=f"{_rows(bad)} rejected"))
        else:
            settled.append(replace(outcome, rows=rows))
    return settled


def bars_result(
    raw: pd.DataFrame,
    outcomes: Sequence[TickerOutcome],
    start: date,
    end: date,
    today: date,
    set_aside: pd.DataFrame | None = None,
) -> ProviderResult:
    """Trim raw bars to the range, validate them, and settle the outcomes. `set_aside` holds
    rows the provider already rejected (a RejectedFrame: cells it could not parse), counted with
    the others."""
    good, rejected = validate_bars(in_range(raw, start, end), today)
    rejected = _with_set_aside(rejected, set_aside, start, end)
    return ProviderResult(good, _settle(outcomes, good, rejected, TickerStatus.NO_DATA), rejected)


def fx_result(
    raw: pd.DataFrame,
    outcomes: Sequence[TickerOutcome],
    start: date,
    end: date,
    today: date,
    set_aside: pd.DataFrame | None = None,
) -> ProviderResult:
    """Trim raw exchange rates (FX_RAW_COLUMNS) to the range, validate them, and settle the
    outcomes, one per pair ticker; `set_aside` as for `bars_result`."""
    good, rejected = validate_rates(in_range(raw, start, end), today)
    rejected = _with_set_aside(rejected, set_aside, start, end)
    settled = _settle(outcomes, good, rejected, TickerStatus.NO_DATA)
    return ProviderResult(conform(FxRateFrame, good.drop(columns="ticker")), settled, rejected)


def _with_set_aside(
    rejected: pd.DataFrame, set_aside: pd.DataFrame | None, start: date, end: date
) -> pd.DataFrame:
    """`rejected` and the rows of `set_aside` dated in the range (or undated)."""
    if set_aside is None or set_aside.empty:
        return rejected
    dated = set_aside[
        set_aside["date"].isna() | set_aside.index.isin(in_range(set_aside, start, end).index)
    ]
    return conform(RejectedFrame, pd.concat([rejected, dated], ignore_index=True))


def actions_result(
    raw: pd.DataFrame, outcomes: Sequence[TickerOutcome], start: date, end: date, today: date
) -> ProviderResult:
    """Trim raw actions to the range, validate them, and settle the outcomes.

    A ticker with no actions in the range stays `ok` with zero rows: that is the usual case.
    """
    good, rejected = validate_actions(in_range(raw, start, end), today)
    return ProviderResult(good, _settle(outcomes, good, rejected, TickerStatus.OK), rejected)


def frame_result(
    model: FrameModel, raw: pd.DataFrame, outcomes: Sequence[TickerOutcome]
) -> ProviderResult:
    """Validate a one-row-per-ticker frame (securities, fundamentals) and settle the outcomes."""
    good = conform(model, raw[columns(model)])
    rejected = empty_frame(RejectedFrame)
    return ProviderResult(good, _settle(outcomes, good, rejected, TickerStatus.NO_DATA), rejected)
