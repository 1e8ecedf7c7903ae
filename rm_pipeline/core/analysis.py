"""Trade analysis: return estimates, a risk level, a recommendation and its rationale.

Pure computations on pandas and numpy: no database, no Dagster, no clock. The caller hands over

* `closes`: a wide DataFrame of daily closes, one row per trading date (sorted here), one column
  per security key (any string the positions use, e.g. the security's id), NaN where a security has
  no close that day;
* a `TradeInput`: the trade's name and description and its positions (security key, side,
  allocation percent, ticker for the text).

`Analyzer` is the interface; `StatisticalAnalyzer` is the deterministic default. Its method:

* Returns. Per security, the drift is the mean daily log return over its available closes. The
  estimate for a horizon of `h` trading days is `exp(drift * h) - 1` for a long position and its
  negative for a short one (borrow costs ignored), weighted by allocation; unallocated capital is
  cash earning nothing. A horizon is estimated only when every position's security has at least `h`
  daily returns, otherwise it is None.
* Risk. The portfolio's daily return is the allocation-weighted sum of its positions' simple daily
  returns (shorts negated, constant weights, i.e. rebalanced daily) on the dates where all of its
  securities have closes. Its annualized volatility (sample standard deviation times sqrt(252)) and
  maximum drawdown (largest fall of the compounded value from its running peak) give the level:
  HIGH from 30% volatility or a 25% drawdown, LOW below 15% volatility and a 10% drawdown,
  MODERATE in between. Fewer than 21 portfolio returns: the risk is unknown (None).
* Recommendation, from the 1-year estimate `r` and the volatility `v`: NOT_RECOMMENDED when the
  risk or `r` is unknown, or `r <= 0`; otherwise, with the return-to-risk ratio `r / v` (infinite
  when `v` is 0), RECOMMENDED for LOW or MODERATE risk with a ratio of at least 0.5, CONDITIONAL
  for LOW or MODERATE risk below it and for HIGH risk at or above it, NOT_RECOMMENDED for HIGH risk
  below it.

Estimates are fractions (0.0523 is 5.23%) rounded to 4 decimals and clamped to what a NUMERIC(10,4)
column holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Protocol

import numpy as np
import pandas as pd

TRADING_DAYS_PER_YEAR = 252
HORIZONS: Mapping[str, int] = {"1m": 21, "3m": 63, "6m": 126, "1y": 252, "3y": 756}
MIN_RISK_OBSERVATIONS = 21

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
    """Anything that turns a trade and its securities' closes into a `TradeAnalysis`."""

    @property
    def history_days(self) -> int:
        """How many of the most recent daily closes per security the analyzer wants."""
        ...

    def analyze(self, trade: TradeInput, closes: pd.DataFrame) -> TradeAnalysis: ...


@dataclass(frozen=True)
class SeriesStats:
    """What one return series says: its length, drift, volatility and drawdown."""

    observations: int
    daily_drift: float
    annual_volatility: float
    max_drawdown: float

    @property
    def annual_drift(self) -> float:
        return self.daily_drift * TRADING_DAYS_PER_YEAR


def log_returns(closes: pd.Series) -> pd.Series:
    """Daily log returns between consecutive available closes (missing and non-positive dropped)."""
    prices = closes[closes > 0].dropna().sort_index()
    return np.log(prices).diff().dropna()


def annualized_volatility(simple_returns: pd.Series) -> float:
    """Sample standard deviation of daily returns times sqrt(252); NaN below two returns.

    Rounded to 12 decimals, so constant returns give exactly 0 rather than floating-point dust.
    """
    return round(float(simple_returns.std(ddof=1)) * math.sqrt(TRADING_DAYS_PER_YEAR), 12)


def max_drawdown(simple_returns: pd.Series) -> float:
    """The largest fall of the compounded value from its running peak, starting from 1.

    A day that loses everything ends the path at 0 (a drawdown of 100%).
    """
    wealth = np.concatenate(([1.0], np.maximum(1 + simple_returns.to_numpy(), 0).cumprod()))
    peaks = np.maximum.accumulate(wealth)
    return float((1 - wealth / peaks).max())


def series_stats(closes: pd.Series) -> SeriesStats:
    """Drift, volatility and drawdown of one security's closes."""
    logs = log_returns(closes)
    simple = np.expm1(logs)
    return SeriesStats(
        observations=len(logs),
        daily_drift=float(logs.mean()) if len(logs) else math.nan,
        annual_volatility=annualized_volatility(simple),
        max_drawdown=max_drawdown(simple) if len(simple) else math.nan,
    )


def portfolio_returns(closes: pd.DataFrame, positions: tuple[PositionInput, ...]) -> pd.Series:
    """Daily returns of the constant-weight portfolio on dates where all its securities trade."""
    if not positions:
        return pd.Series(dtype=float)
    columns = sorted({p.security for p in positions})
    if not set(columns) <= set(closes.columns):
        return pd.Series(dtype=float)
    prices = closes[columns].where(closes[columns] > 0).dropna().sort_index()
    simple = prices.pct_change().iloc[1:]
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
    return_1y: float | None, risk: RiskLevel | None, volatility: float
) -> tuple[Recommendation, str]:
    """The recommendation and the sentence explaining it (rules in the module docstring)."""
    if risk is None or return_1y is None:
        return Recommendation.NOT_RECOMMENDED, (
            "Not recommended: there is not enough price history for a 1-year estimate and a "
            "risk level."
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
    return verdict, f"{verdict.replace('_', ' ').capitalize()}: the {why}."


def describe_returns(returns: Mapping[str, Decimal | None]) -> str:
    parts = [
        f"{name} {'n/a' if value is None else signed_percent(float(value))}"
        for name, value in returns.items()
    ]
    return "Expected returns: " + ", ".join(parts) + "."


def describe_risk(risk: RiskLevel | None, portfolio: pd.Series) -> str:
    if risk is None:
        return (
            f"Risk unknown: {len(portfolio)} daily portfolio returns, "
            f"{MIN_RISK_OBSERVATIONS} needed."
        )
    return (
        f"Portfolio annualized volatility {annualized_volatility(portfolio):.2%} and maximum "
        f"drawdown {max_drawdown(portfolio):.2%} over {len(portfolio)} days: {risk} risk "
        f"(HIGH from {HIGH_VOLATILITY:.0%} volatility or {HIGH_DRAWDOWN:.0%} drawdown, "
        f"LOW below {LOW_VOLATILITY:.0%} and {LOW_DRAWDOWN:.0%})."
    )


def describe_position(position: PositionInput, stats: SeriesStats) -> str:
    head = f"{position.ticker} {position.side} {position.allocation_percent:.2f}%"
    if stats.observations == 0:
        return f"{head}: no price history, so no estimate."
    one_year = HORIZONS["1y"]
    if stats.observations >= one_year:
        one_year_part = position.weight * horizon_return(stats.daily_drift, one_year)
        contribution = f"contributes {signed_percent(one_year_part)} to the 1-year estimate"
    else:
        contribution = f"too short a history for the 1-year estimate ({one_year} returns needed)"
    return (
        f"{head}: over {stats.observations} daily returns the security's annualized drift is "
        f"{signed_percent(stats.annual_drift)}, its annualized volatility "
        f"{stats.annual_volatility:.2%} and its maximum drawdown {stats.max_drawdown:.2%}; "
        f"{contribution}."
    )


@dataclass(frozen=True)
class StatisticalAnalyzer:
    """The deterministic analyzer described in the module docstring."""

    @property
    def history_days(self) -> int:
        """Enough closes for the longest horizon: one more than its number of returns."""
        return max(HORIZONS.values()) + 1

    def analyze(self, trade: TradeInput, closes: pd.DataFrame) -> TradeAnalysis:
        stats = {p.security: self._stats(closes, p.security) for p in trade.positions}
        raw_returns = {
            name: portfolio_horizon_return(trade.positions, stats, days)
            for name, days in HORIZONS.items()
        }
        portfolio = portfolio_returns(closes, trade.positions)
        volatility = annualized_volatility(portfolio)
        risk = (
            risk_level(volatility, max_drawdown(portfolio))
            if len(portfolio) >= MIN_RISK_OBSERVATIONS
            else None
        )
        recommendation, reason = recommend(raw_returns["1y"], risk, volatility)
        returns = {name: to_ratio(value) for name, value in raw_returns.items()}
        no_positions = () if trade.positions else ("The trade has no positions.",)
        rationale = " ".join(
            (*no_positions, describe_returns(returns), describe_risk(risk, portfolio), reason)
        )
        return TradeAnalysis(
            returns=returns,
            risk_level=risk,
            recommendation=recommendation,
            rationale=rationale,
            position_rationales=tuple(
                describe_position(p, stats[p.security]) for p in trade.positions
            ),
        )

    @staticmethod
    def _stats(closes: pd.DataFrame, security: str) -> SeriesStats:
        column = closes[security] if security in closes.columns else pd.Series(dtype=float)
        return series_stats(column)
