"""The statistical analyzer on hand-built price histories whose numbers can be checked by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rm_pipeline.core.analysis import (
    HORIZONS,
    Analyzer,
    PositionInput,
    Recommendation,
    RiskLevel,
    Side,
    StatisticalAnalyzer,
    TradeInput,
    annualized_volatility,
    log_returns,
    max_drawdown,
    portfolio_returns,
    recommend,
    risk_level,
    series_stats,
    to_ratio,
)

ANALYZER: Analyzer = StatisticalAnalyzer()
DAYS = 800


def closes(**columns: object) -> pd.DataFrame:
    """A frame of closes on consecutive business days; each column a list or a scalar."""
    length = max(
        (len(c) for c in columns.values() if isinstance(c, list | np.ndarray)), default=DAYS
    )
    index = pd.bdate_range("2020-01-01", periods=length)
    return pd.DataFrame(columns, index=index, dtype=float)


def growing(rate: float, days: int = DAYS) -> np.ndarray:
    """A close growing exactly `rate` per day."""
    return 100 * (1 + rate) ** np.arange(days)


def trade(*positions: tuple[str, Side, float]) -> TradeInput:
    return TradeInput(
        "t",
        "d",
        tuple(
            PositionInput(security, side, pct, ticker=security) for security, side, pct in positions
        ),
    )


def expected(rate: float, days: int) -> Decimal:
    return Decimal(repr((1 + rate) ** days - 1)).quantize(Decimal("0.0001"))


def test_one_percent_a_day_has_a_known_drift_and_no_volatility() -> None:
    stats = series_stats(pd.Series(growing(0.01)))
    assert stats.observations == DAYS - 1
    assert stats.daily_drift == pytest.approx(math.log(1.01))
    assert stats.annual_drift == pytest.approx(252 * math.log(1.01))
    assert (stats.annual_volatility, stats.max_drawdown) == (0.0, 0.0)


def test_a_long_position_compounds_its_drift_over_each_horizon() -> None:
    analysis = ANALYZER.analyze(trade(("UP", Side.LONG, 100)), closes(UP=growing(0.01)))
    assert analysis.returns["1m"] == expected(0.01, 21) == Decimal("0.2324")
    assert analysis.returns["3m"] == expected(0.01, 63)
    assert analysis.returns["1y"] == expected(0.01, 252)
    assert analysis.returns["3y"] == expected(0.01, 756)


def test_estimates_are_allocation_weighted_and_shorts_inverted() -> None:
    frame = closes(UP=growing(0.01), DOWN=growing(-0.005))
    analysis = ANALYZER.analyze(trade(("UP", Side.LONG, 60), ("DOWN", Side.SHORT, 30)), frame)
    one_month = 0.6 * ((1.01**21) - 1) - 0.3 * ((0.995**21) - 1)
    assert analysis.returns["1m"] == Decimal(repr(one_month)).quantize(Decimal("0.0001"))


def test_a_long_and_a_short_of_equal_size_cancel_out() -> None:
    analysis = ANALYZER.analyze(
        trade(("UP", Side.LONG, 50), ("UP", Side.SHORT, 50)), closes(UP=growing(0.01))
    )
    assert set(analysis.returns.values()) == {Decimal("0.0000")}


def test_a_flat_security_has_no_return_no_volatility_and_is_not_recommended() -> None:
    analysis = ANALYZER.analyze(trade(("FLAT", Side.LONG, 100)), closes(FLAT=[100.0] * DAYS))
    assert analysis.returns["1y"] == Decimal("0.0000")
    assert analysis.risk_level is RiskLevel.LOW
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED
    assert "expected 1-year return is +0.00%" in analysis.rationale


def test_a_horizon_longer_than_the_history_has_no_estimate() -> None:
    analysis = ANALYZER.analyze(trade(("UP", Side.LONG, 100)), closes(UP=growing(0.01, 100)))
    assert [h for h, v in analysis.returns.items() if v is not None] == ["1m", "3m"]
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED
    assert "not enough price history" in analysis.rationale


def test_the_shortest_history_of_a_trade_decides_its_horizons() -> None:
    short_history = [math.nan] * (DAYS - 64) + list(growing(0.01, 64))
    frame = closes(UP=growing(0.01), NEW=short_history)
    analysis = ANALYZER.analyze(trade(("UP", Side.LONG, 50), ("NEW", Side.LONG, 50)), frame)
    assert [h for h, v in analysis.returns.items() if v is not None] == ["1m", "3m"]


def test_the_3y_horizon_needs_756_returns() -> None:
    enough = ANALYZER.analyze(trade(("UP", Side.LONG, 1)), closes(UP=growing(0.001, 757)))
    too_few = ANALYZER.analyze(trade(("UP", Side.LONG, 1)), closes(UP=growing(0.001, 756)))
    assert (enough.returns["3y"] is None, too_few.returns["3y"] is None) == (False, True)


def test_max_drawdown_is_the_largest_fall_from_a_peak() -> None:
    prices = pd.Series([100.0, 120.0, 90.0, 110.0, 130.0, 117.0])
    assert max_drawdown(prices.pct_change().dropna()) == pytest.approx(0.25)


def test_a_day_losing_everything_is_a_full_drawdown() -> None:
    assert max_drawdown(pd.Series([0.1, -1.5, 0.2])) == 1.0


def test_annualized_volatility_of_alternating_returns() -> None:
    returns = pd.Series([0.01, -0.01])
    assert annualized_volatility(returns) == pytest.approx(math.sqrt(2e-4) * math.sqrt(252))


def test_log_returns_skip_missing_and_non_positive_closes() -> None:
    returns = log_returns(pd.Series([100.0, math.nan, 110.0, 0.0, 121.0]))
    assert list(returns) == pytest.approx([math.log(1.1), math.log(1.1)])


def test_portfolio_returns_use_only_dates_where_every_security_trades() -> None:
    frame = closes(A=[100.0, 101.0, math.nan, 103.02], B=[50.0, 50.0, 50.0, 55.0])
    returns = portfolio_returns(frame, trade(("A", Side.LONG, 50), ("B", Side.SHORT, 50)).positions)
    assert list(returns) == pytest.approx([0.5 * 0.01, 0.5 * 0.02 - 0.5 * 0.1])


def test_a_steadily_losing_short_is_high_risk() -> None:
    analysis = ANALYZER.analyze(trade(("UP", Side.SHORT, 100)), closes(UP=growing(0.01)))
    assert analysis.returns["1m"] == -expected(0.01, 21)
    assert analysis.risk_level is RiskLevel.HIGH
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED


def test_a_security_without_prices_gives_no_estimates_and_unknown_risk() -> None:
    analysis = ANALYZER.analyze(trade(("GONE", Side.LONG, 10)), closes(UP=growing(0.01)))
    assert set(analysis.returns.values()) == {None}
    assert analysis.risk_level is None
    assert analysis.position_rationales == ("GONE long 10.00%: no price history, so no estimate.",)


def test_a_trade_without_positions_is_not_recommended() -> None:
    analysis = ANALYZER.analyze(trade(), closes(UP=growing(0.01)))
    assert (analysis.risk_level, analysis.recommendation) == (None, Recommendation.NOT_RECOMMENDED)
    assert analysis.rationale.startswith("The trade has no positions.")


@pytest.mark.parametrize(
    ("volatility", "drawdown", "level"),
    [
        (0.1499, 0.0999, RiskLevel.LOW),
        (0.15, 0.05, RiskLevel.MODERATE),
        (0.05, 0.10, RiskLevel.MODERATE),
        (0.2999, 0.2499, RiskLevel.MODERATE),
        (0.30, 0.0, RiskLevel.HIGH),
        (0.10, 0.25, RiskLevel.HIGH),
    ],
)
def test_risk_thresholds(volatility: float, drawdown: float, level: RiskLevel) -> None:
    assert risk_level(volatility, drawdown) is level


@pytest.mark.parametrize(
    ("return_1y", "risk", "volatility", "verdict"),
    [
        (0.10, RiskLevel.LOW, 0.10, Recommendation.RECOMMENDED),
        (0.05, RiskLevel.MODERATE, 0.10, Recommendation.RECOMMENDED),
        (0.04, RiskLevel.MODERATE, 0.10, Recommendation.CONDITIONAL),
        (0.20, RiskLevel.HIGH, 0.40, Recommendation.CONDITIONAL),
        (0.19, RiskLevel.HIGH, 0.40, Recommendation.NOT_RECOMMENDED),
        (0.01, RiskLevel.LOW, 0.0, Recommendation.RECOMMENDED),
        (0.0, RiskLevel.LOW, 0.0, Recommendation.NOT_RECOMMENDED),
        (-0.10, RiskLevel.LOW, 0.05, Recommendation.NOT_RECOMMENDED),
        (0.50, None, 0.10, Recommendation.NOT_RECOMMENDED),
        (None, RiskLevel.LOW, 0.10, Recommendation.NOT_RECOMMENDED),
    ],
)
def test_recommendation_rules(
    return_1y: float | None, risk: RiskLevel | None, volatility: float, verdict: Recommendation
) -> None:
    assert recommend(return_1y, risk, volatility)[0] is verdict


def test_rationales_carry_the_numbers_that_drove_them() -> None:
    frame = closes(UP=growing(0.01, 300), FLAT=[100.0] * 300)
    analysis = ANALYZER.analyze(trade(("UP", Side.LONG, 60), ("FLAT", Side.SHORT, 40)), frame)
    assert "1m +13.94%" in analysis.rationale
    assert "3y n/a" in analysis.rationale
    assert (
        "volatility 0.00% and maximum drawdown 0.00% over 299 days: LOW risk" in analysis.rationale
    )
    assert "Recommended: the return-to-risk ratio inf" in analysis.rationale
    up, flat = analysis.position_rationales
    assert up.startswith("UP long 60.00%: over 299 daily returns")
    assert f"annualized drift is +{252 * math.log(1.01):.2%}" in up
    assert f"contributes +{0.6 * (1.01**252 - 1):.2%} to the 1-year estimate" in up
    assert flat.startswith("FLAT short 40.00%") and "contributes +0.00%" in flat


def test_estimates_fit_numeric_10_4() -> None:
    assert to_ratio(1e12) == Decimal("999999.9999")
    assert to_ratio(-1e12) == Decimal("-999999.9999")
    assert to_ratio(0.123449) == Decimal("0.1234")
    assert str(to_ratio(-0.0)) == "0.0000"
    assert to_ratio(None) is None


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_estimate_fits_its_column(value: float) -> None:
    ratio = to_ratio(value)
    assert ratio is not None
    assert abs(ratio) <= Decimal("999999.9999")
    assert ratio.as_tuple().exponent == -4


def test_the_statistical_analyzer_wants_enough_history_for_the_longest_horizon() -> None:
    assert ANALYZER.history_days == max(HORIZONS.values()) + 1 == 757
