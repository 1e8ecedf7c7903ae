"""Trade analysis: return estimates, a risk level, a recommendation and its rationale.

Pure computations on pandas and numpy: no database, no Dagster, no clock. The caller hands over

* `closes`: a wide DataFrame of daily closes, one row per trading date (sorted here), one column
  per security key (any string the positions use, e.g. the security's id), NaN where a security has
  no close that day;
* a `TradeInput`: the trade's name and description and its positions (security key, side,
  allocation percent, ticker for the text, and the exchange calendar its security trades on:
  an `exchange_calendars` name such as `XNYS`, or `24/7` for crypto);
* `as_of`: the date of the analysis, from the caller's clock.

`Analyzer` is the interface; `StatisticalAnalyzer` is the deterministic default. Its method:

* Period. Every statistic comes from the same dates for every leg: the dates on which each of the
  trade's securities has a positive close (its *common dates*), the most recent `horizon + 1` of
  them for the longest horizon (757 common sessions, or 1096 days for a 24/7 trade). Legs that
  trade on different calendars thus describe the same period, and a leg's extra history (or extra
  recent closes) does not enter. The rationale names the period: first and last common date and
  the number of returns. A trade with a security without closes, or whose securities share no
  date, gets no estimate and no risk level, and the rationale says which.
* Calendar. When every position trades every day (calendar `24/7`), returns are annualized over
  365 periods a year and the horizons are calendar days (1m 30, 3m 91, 6m 182, 1y 365, 3y 1095).
  Otherwise, a mix of 24/7 and session-traded legs included (their common dates are then the
  sessions of the session-traded legs), over 252 periods with horizons in trading sessions
  (1m 21, 3m 63, 6m 126, 1y 252, 3y 756).
* Missing sessions. A return between two consecutive common dates spans more than one period
  when a session that every leg's calendar holds lies between them: a session missing from the
  stored history (a hole a backfill left, a day a load failed), not a holiday of one leg's
  exchange, which no other calendar needs to share. Such a return is left out of the drift, the
  volatility and the drawdown below instead of being counted as one day's, and the rationale says
  how many were left out. When a calendar cannot give its sessions over the period (too far back
  for `exchange_calendars`), nothing is left out and the rationale says missing sessions are
  unknown.
* Returns. Per security, the drift is the mean daily log return over the common dates. The
  estimate for a horizon of `h` periods is `exp(drift * h) - 1` for a long position and its
  negative for a short one (borrow costs ignored), weighted by allocation; unallocated capital is
  cash earning nothing. A horizon is estimated only when the period holds at least `h` returns,
  otherwise it is None.
* Risk. The portfolio's daily return is the allocation-weighted sum of its positions' simple daily
  returns over the common dates (shorts negated, constant weights, i.e. rebalanced daily). Its
  annualized volatility (sample standard deviation times the square root of the periods a year)
  and maximum drawdown (largest fall of the compounded value from its running peak) give the
  level: HIGH from 30% volatility or a 25% drawdown, LOW below 15% volatility and a 10% drawdown,
  MODERATE in between. Fewer portfolio returns than the 1-month horizon: the risk is unknown
  (None).
* Staleness. The newest common date is compared with `as_of`: the prices are stale when the
  exchanges of all the legs have together held more than `STALE_AFTER_SESSIONS` (5) sessions
  after it and before `as_of` (sessions every leg's calendar holds; `as_of` itself is left out, as
  its session may still be open). A holiday of one exchange therefore never makes prices stale,
  while a leg whose prices stopped does. The rationale states the newest common date either way.
  Stale prices raise the risk level one step (LOW to MODERATE, MODERATE to HIGH) and a
  recommendation that would be RECOMMENDED becomes CONDITIONAL: an estimate from old prices is
  never recommended outright.
* Recommendation, from the 1-year estimate `r` and the volatility `v`: NOT_RECOMMENDED when the
  risk or `r` is unknown, or `r <= 0`; otherwise, with the return-to-risk ratio `r / v` (infinite
  when `v` is 0), RECOMMENDED for LOW or MODERATE risk with a ratio of at least 0.5, CONDITIONAL
  for LOW or MODERATE risk below it and for HIGH risk at or above it, NOT_RECOMMENDED for HIGH risk
  below it; then the staleness cap above.

Estimates are fractions (0.0523 is 5.23%) rounded to 4 decimals and clamped to what a NUMERIC(10,4)
column holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Protocol

import numpy as np
import pandas as pd

from rm_pipeline.core.calendars import ALWAYS_OPEN, sessions

TRADING_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365
HORIZONS: Mapping[str, int] = {"1m": 21, "3m": 63, "6m": 126, "1y": 252, "3y": 756}
"""Horizons in trading sessions; their names are also the trade's `return_*` columns."""
CALENDAR_DAY_HORIZONS: Mapping[str, int] = {
    "1m": 30,
    "3m": 91,
    "6m": 182,
    "1y": 365,
    "3y": 1095,
}
"""Horizons in calendar days, for trades whose every leg trades every day."""
STALE_AFTER_SESSIONS = 5

LOW_VOLATILITY = 0.15
HIGH_VOLATILITY = 0.30
LOW_DRAWDOWN = 0.10
HIGH_DRAWDOWN = 0.25
MIN_RETURN_TO_RISK = 0.5

RETURN_LIMIT = Decimal("999999.9999")
RETURN_QUANTUM = Decimal("0.0001")


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class RiskLevel(StrEnum):
    LOW = "LOW"
    MODERATE = "MODERATE"
    HIGH = "HIGH"

    def raised(self) -> RiskLevel:
        """One step up; HIGH stays HIGH."""
        levels = list(RiskLevel)
        return levels[min(levels.index(self) + 1, len(levels) - 1)]


class Recommendation(StrEnum):
    RECOMMENDED = "RECOMMENDED"
    CONDITIONAL = "CONDITIONAL"
    NOT_RECOMMENDED = "NOT_RECOMMENDED"


@dataclass(frozen=True)
class PositionInput:
    security: str
    side: Side
    allocation_percent: float
    ticker: str
    calendar: str
    """The `exchange_calendars` name of the security's exchange, or `24/7`."""

    @property
    def weight(self) -> float:
        """Signed fraction of the capital: +0.6 for 60% long, -0.4 for 40% short."""
        return self.side.sign * self.allocation_percent / 100


@dataclass(frozen=True)
class TradeInput:
    name: str
    description: str
    positions: tuple[PositionInput, ...]


@dataclass(frozen=True)
class TradeAnalysis:
    """An analyzer's verdict; `position_rationales` follow the order of `TradeInput.positions`."""

    returns: Mapping[str, Decimal | None]
    risk_level: RiskLevel | None
    recommendation: Recommendation
    rationale: str
    position_rationales: tuple[str, ...]


class Analyzer(Protocol):
    """Anything that turns a trade, its securities' closes and the analysis date into a
    `TradeAnalysis`."""

    @property
    def history_days(self) -> int:
        """How many of the most recent dates on which all of a trade's securities have a close
        the analyzer wants."""
        ...

    def analyze(self, trade: TradeInput, closes: pd.DataFrame, as_of: date) -> TradeAnalysis: ...


@dataclass(frozen=True)
class Basis:
    """How a trade's returns are counted: periods a year, horizons and the unit of both."""

    periods_per_year: int
    horizons: Mapping[str, int]
    unit: str

    @property
    def window(self) -> int:
        """Closes needed for the longest horizon: one more than its number of returns."""
        return max(self.horizons.values()) + 1

    @property
    def min_risk_returns(self) -> int:
        return self.horizons["1m"]


SESSIONS = Basis(TRADING_DAYS_PER_YEAR, HORIZONS, "trading sessions")
EVERY_DAY = Basis(CALENDAR_DAYS_PER_YEAR, CALENDAR_DAY_HORIZONS, "calendar days")


def basis_for(positions: tuple[PositionInput, ...]) -> Basis:
    """Calendar days when every position trades every day, trading sessions otherwise."""
    if positions and all(p.calendar == ALWAYS_OPEN for p in positions):
        return EVERY_DAY
    return SESSIONS


@dataclass(frozen=True)
class SeriesStats:
    """What one return series says: its length, drift, volatility and drawdown."""

    observations: int
    daily_drift: float
    annual_volatility: float
    max_drawdown: float
    periods_per_year: int = TRADING_DAYS_PER_YEAR

    @property
    def annual_drift(self) -> float:
        return self.daily_drift * self.periods_per_year


def log_returns(closes: pd.Series) -> pd.Series:
    """Daily log returns between consecutive available closes (missing and non-positive dropped)."""
    prices = closes[closes > 0].dropna().sort_index()
    return np.log(prices).diff().dropna()


def annualized_volatility(
    simple_returns: pd.Series, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> float:
    """Sample standard deviation of daily returns times sqrt(periods a year); NaN below two
    returns.

    Rounded to 12 decimals, so constant returns give exactly 0 rather than floating-point dust.
    """
    return round(float(simple_returns.std(ddof=1)) * math.sqrt(periods_per_year), 12)


def max_drawdown(simple_returns: pd.Series) -> float:
    """The largest fall of the compounded value from its running peak, starting from 1.

    A day that loses everything ends the path at 0 (a drawdown of 100%).
    """
    wealth = np.concatenate(([1.0], np.maximum(1 + simple_returns.to_numpy(), 0).cumprod()))
    peaks = np.maximum.accumulate(wealth)
    return float((1 - wealth / peaks).max())


def series_stats(
    closes: pd.Series,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
    across_gaps: pd.Index | None = None,
) -> SeriesStats:
    """Drift, volatility and drawdown of one security's closes, without the returns ending on
    `across_gaps` (dates whose return spans missing sessions)."""
    logs = log_returns(closes)
    if across_gaps is not None:
        logs = logs[~logs.index.isin(across_gaps)]
    simple = np.expm1(logs)
    return SeriesStats(
        observations=len(logs),
        daily_drift=float(logs.mean()) if len(logs) else math.nan,
        annual_volatility=annualized_volatility(simple, periods_per_year),
        max_drawdown=max_drawdown(simple) if len(simple) else math.nan,
        periods_per_year=periods_per_year,
    )


def common_closes(closes: pd.DataFrame, securities: Iterable[str], limit: int) -> pd.DataFrame:
    """The closes of `securities` on the last `limit` dates on which each has a positive close;
    no rows when one of them has no column."""
    columns = sorted(set(securities))
    if not set(columns) <= set(closes.columns):
        return pd.DataFrame(columns=columns, dtype=float)
    prices = closes[columns]
    return prices.where(prices > 0).dropna().sort_index().iloc[-limit:]


def portfolio_returns(
    closes: pd.DataFrame,
    positions: tuple[PositionInput, ...],
    across_gaps: pd.Index | None = None,
) -> pd.Series:
    """Daily returns of the constant-weight portfolio on dates where all its securities trade,
    without those ending on `across_gaps` (dates whose return spans missing sessions)."""
    if not positions:
        return pd.Series(dtype=float)
    prices = common_closes(closes, (p.security for p in positions), len(closes))
    simple = prices.pct_change().iloc[1:]
    if across_gaps is not None:
        simple = simple[~simple.index.isin(across_gaps)]
    return sum((p.weight * simple[p.security] for p in positions), pd.Series(0.0, simple.index))


def horizon_return(daily_drift: float, days: int) -> float:
    """The simple return of a position held `days` days at a constant daily log drift."""
    return math.expm1(daily_drift * days)


def portfolio_horizon_return(
    positions: tuple[PositionInput, ...], stats: Mapping[str, SeriesStats], days: int
) -> float | None:
    """Allocation-weighted horizon return; None unless every security has `days` returns."""
    if not positions or any(stats[p.security].observations < days for p in positions):
        return None
    return sum(p.weight * horizon_return(stats[p.security].daily_drift, days) for p in positions)


def sessions_between(after: date, before: date, calendars: Iterable[str]) -> int:
    """The sessions every one of `calendars` holds strictly between `after` and `before`.

    Looked up from a week before `after`: `exchange_calendars` refuses a span without any
    session (a weekend), and a week always holds one.
    """
    common: set[date] | None = None
    for calendar in set(calendars):
        held = {
            day
            for day in sessions(calendar, after - timedelta(days=7), max(after, before))
            if after < day < before
        }
        common = held if common is None else common & held
    return len(common or ())


def common_sessions(calendars: Iterable[str], first: date, last: date) -> pd.DatetimeIndex | None:
    """The sessions every one of `calendars` holds from first to last; None when a calendar
    cannot give them (a span before its earliest date)."""
    held: pd.DatetimeIndex | None = None
    for calendar in set(calendars):
        try:
            days = pd.DatetimeIndex(sessions(calendar, first, last))
        except ValueError:  # exchange_calendars refuses a span outside its bounds
            return None
        held = days if held is None else held.intersection(days)
    return held


def returns_across_gaps(dates: pd.DatetimeIndex, calendars: Iterable[str]) -> pd.Index | None:
    """Of the sorted `dates`, those whose return from the date before spans missing sessions: a
    session every one of `calendars` holds lies strictly between the two. None when the calendars
    cannot tell (`common_sessions`)."""
    if len(dates) < 2:
        return dates[:0]
    held = common_sessions(calendars, dates[0].date(), dates[-1].date())
    if held is None:
        return None
    after_previous = np.searchsorted(held.to_numpy(), dates[:-1].to_numpy(), side="right")
    before_this = np.searchsorted(held.to_numpy(), dates[1:].to_numpy(), side="left")
    return dates[1:][before_this > after_previous]


@dataclass(frozen=True)
class Period:
    """The common dates the statistics come from, how many of their returns span missing
    sessions and were left out (None: unknown), and how recent the newest date is."""

    first: date
    last: date
    returns: int
    sessions_since: int
    as_of: date
    left_out: int | None

    @property
    def stale(self) -> bool:
        return self.sessions_since > STALE_AFTER_SESSIONS


def common_period(
    window: pd.DataFrame,
    positions: tuple[PositionInput, ...],
    as_of: date,
    across_gaps: pd.Index | None,
) -> Period | None:
    """The period of the aligned closes, less the returns `across_gaps` (None: unknown); None
    without a common date."""
    if window.empty:
        return None
    last = window.index[-1].date()
    left_out = None if across_gaps is None else len(across_gaps)
    return Period(
        first=window.index[0].date(),
        last=last,
        returns=len(window) - 1 - (left_out or 0),
        sessions_since=sessions_between(last, as_of, (p.calendar for p in positions)),
        as_of=as_of,
        left_out=left_out,
    )


def signed_percent(value: float) -> str:
    """`+5.23%`; a negative zero prints as `+0.00%`."""
    return f"{value + 0.0:+.2%}"


def to_ratio(value: float | None) -> Decimal | None:
    """A fraction as NUMERIC(10,4) holds it: 4 decimals, clamped to the column's range."""
    if value is None:
        return None
    limit = float(RETURN_LIMIT)
    bounded = min(max(value, -limit), limit) + 0.0
    return Decimal(repr(bounded)).quantize(RETURN_QUANTUM, rounding=ROUND_HALF_EVEN)


def risk_level(volatility: float, drawdown: float) -> RiskLevel:
    if volatility >= HIGH_VOLATILITY or drawdown >= HIGH_DRAWDOWN:
        return RiskLevel.HIGH
    if volatility < LOW_VOLATILITY and drawdown < LOW_DRAWDOWN:
        return RiskLevel.LOW
    return RiskLevel.MODERATE


def return_to_risk(expected_return: float, volatility: float) -> float:
    """`expected_return / volatility`, infinite for a positive return at zero volatility."""
    if volatility > 0:
        return expected_return / volatility
    return math.inf if expected_return > 0 else 0.0


def recommend(
    return_1y: float | None, risk: RiskLevel | None, volatility: float, *, stale: bool = False
) -> tuple[Recommendation, str]:
    """The recommendation and the sentence explaining it (rules in the module docstring)."""
    if risk is None or return_1y is None:
        missing = " or ".join(
            name
            for name, value in (("a 1-year estimate", return_1y), ("a risk level", risk))
            if value is None
        )
        return Recommendation.NOT_RECOMMENDED, (
            f"Not recommended: there is not enough price history for {missing}."
        )
    if return_1y <= 0:
        return Recommendation.NOT_RECOMMENDED, (
            f"Not recommended: the expected 1-year return is {signed_percent(return_1y)}."
        )
    ratio = return_to_risk(return_1y, volatility)
    good_ratio = ratio >= MIN_RETURN_TO_RISK
    comparison = "at least" if good_ratio else "below"
    why = f"return-to-risk ratio {ratio:.2f} is {comparison} {MIN_RETURN_TO_RISK} at {risk} risk"
    if risk is RiskLevel.HIGH:
        verdict = Recommendation.CONDITIONAL if good_ratio else Recommendation.NOT_RECOMMENDED
    else:
        verdict = Recommendation.RECOMMENDED if good_ratio else Recommendation.CONDITIONAL
    if stale and verdict is Recommendation.RECOMMENDED:
        verdict = Recommendation.CONDITIONAL
        why += ", but prices this old are never recommended outright"
    return verdict, f"{verdict.replace('_', ' ').capitalize()}: the {why}."


def describe_gaps(period: Period) -> str:
    """What became of the returns spanning missing sessions, when there are any or it is unknown."""
    if period.left_out is None:
        return "; whether any spans missing sessions is unknown (calendar out of range)"
    if period.left_out == 0:
        return ""
    returns = "return" if period.left_out == 1 else "returns"
    return f"; {period.left_out} {returns} across missing sessions left out"


def describe_period(period: Period, basis: Basis) -> str:
    dates = period.returns + 1 + (period.left_out or 0)
    period_text = (
        f"Period: the {dates} dates on which every position's security has a close, "
        f"{period.first} to {period.last} ({period.returns} daily returns, "
        f"{basis.periods_per_year} a year{describe_gaps(period)})."
    )
    since = (
        f"{period.sessions_since} sessions of the positions' exchanges were held after it and "
        f"before {period.as_of}"
    )
    if period.stale:
        freshness = (
            f"Stale prices: the newest common close is {period.last}; {since}, more than "
            f"{STALE_AFTER_SESSIONS}, so the risk level is raised one step (HIGH stays HIGH) "
            "and the trade is not recommended outright."
        )
    else:
        freshness = (
            f"Newest common close {period.last}: current ({since}, at most "
            f"{STALE_AFTER_SESSIONS} allowed)."
        )
    return f"{period_text} {freshness}"


def describe_no_period(positions: tuple[PositionInput, ...], closes: pd.DataFrame) -> str:
    unpriced = [p.ticker for p in positions if latest_close(closes, p.security) is None]
    if unpriced:
        return f"No estimate: no price history for {', '.join(dict.fromkeys(unpriced))}."
    return "No estimate: the positions' securities have no date on which all of them have a close."


def describe_returns(returns: Mapping[str, Decimal | None]) -> str:
    parts = [
        f"{name} {'n/a' if value is None else signed_percent(float(value))}"
        for name, value in returns.items()
    ]
    return "Expected returns: " + ", ".join(parts) + "."


def describe_risk(
    risk: RiskLevel | None, portfolio: pd.Series, basis: Basis, raised_from: RiskLevel | None
) -> str:
    if risk is None:
        return (
            f"Risk unknown: {len(portfolio)} daily portfolio returns, "
            f"{basis.min_risk_returns} needed."
        )
    level = (
        f"{raised_from} risk, raised to {risk} for stale prices" if raised_from else f"{risk} risk"
    )
    return (
        f"Portfolio annualized volatility "
        f"{annualized_volatility(portfolio, basis.periods_per_year):.2%} and maximum "
        f"drawdown {max_drawdown(portfolio):.2%} over {len(portfolio)} days: {level} "
        f"(HIGH from {HIGH_VOLATILITY:.0%} volatility or {HIGH_DRAWDOWN:.0%} drawdown, "
        f"LOW below {LOW_VOLATILITY:.0%} and {LOW_DRAWDOWN:.0%})."
    )


def latest_close(closes: pd.DataFrame, security: str) -> date | None:
    """The date of a security's latest positive close in the frame, if any."""
    if security not in closes.columns:
        return None
    dates = closes.index[(closes[security] > 0).to_numpy()]
    return dates.max().date() if len(dates) else None


def describe_position(
    position: PositionInput, stats: SeriesStats, closes: pd.DataFrame, basis: Basis, aligned: bool
) -> str:
    """The position's own closes, then what its security did over the common dates (`aligned`:
    there are some)."""
    head = f"{position.ticker} {position.side} {position.allocation_percent:.2f}%"
    latest = latest_close(closes, position.security)
    if latest is None:
        return f"{head}: no price history, so no estimate."
    closes_text = f"latest close {latest}"
    if not aligned:
        return f"{head}: {closes_text}, none on a date all positions share, so no estimate."
    if stats.observations == 0:
        return f"{head}: {closes_text}, a single common close and no return, so no estimate."
    one_year = basis.horizons["1y"]
    if stats.observations >= one_year:
        one_year_part = position.weight * horizon_return(stats.daily_drift, one_year)
        contribution = f"contributes {signed_percent(one_year_part)} to the 1-year estimate"
    else:
        contribution = f"too short a history for the 1-year estimate ({one_year} returns needed)"
    return (
        f"{head}: {closes_text}; over the {stats.observations} common daily returns the "
        f"security's annualized drift is {signed_percent(stats.annual_drift)}, its annualized "
        f"volatility {stats.annual_volatility:.2%} and its maximum drawdown "
        f"{stats.max_drawdown:.2%}; {contribution}."
    )


@dataclass(frozen=True)
class StatisticalAnalyzer:
    """The deterministic analyzer described in the module docstring."""

    @property
    def history_days(self) -> int:
        """Enough common dates for the longest horizon of either basis."""
        return max(SESSIONS.window, EVERY_DAY.window)

    def analyze(self, trade: TradeInput, closes: pd.DataFrame, as_of: date) -> TradeAnalysis:
        basis = basis_for(trade.positions)
        window = common_closes(closes, (p.security for p in trade.positions), basis.window)
        across_gaps = returns_across_gaps(
            pd.DatetimeIndex(window.index), (p.calendar for p in trade.positions)
        )
        period = common_period(window, trade.positions, as_of, across_gaps)
        stale = period is not None and period.stale
        stats = {
            p.security: series_stats(window[p.security], basis.periods_per_year, across_gaps)
            for p in trade.positions
        }
        raw_returns = {
            name: portfolio_horizon_return(trade.positions, stats, days)
            for name, days in basis.horizons.items()
        }
        portfolio = portfolio_returns(window, trade.positions, across_gaps)
        volatility = annualized_volatility(portfolio, basis.periods_per_year)
        measured = (
            risk_level(volatility, max_drawdown(portfolio))
            if len(portfolio) >= basis.min_risk_returns
            else None
        )
        risk = measured.raised() if stale and measured else measured
        recommendation, reason = recommend(raw_returns["1y"], risk, volatility, stale=stale)
        returns = {name: to_ratio(value) for name, value in raw_returns.items()}
        if not trade.positions:
            coverage = "The trade has no positions."
        elif period is None:
            coverage = describe_no_period(trade.positions, closes)
        else:
            coverage = describe_period(period, basis)
        raised_from = measured if risk != measured else None
        rationale = " ".join(
            (
                coverage,
                describe_returns(returns),
                describe_risk(risk, portfolio, basis, raised_from),
                reason,
            )
        )
        return TradeAnalysis(
            returns=returns,
            risk_level=risk,
            recommendation=recommendation,
            rationale=rationale,
            position_rationales=tuple(
                describe_position(p, stats[p.security], closes, basis, period is not None)
                for p in trade.positions
            ),
        )
