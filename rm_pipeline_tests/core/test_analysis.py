"""The statistical analyzer on hand-built price histories whose numbers can be checked by hand."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
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
    TradeAnalysis,
    TradeInput,
    annualized_volatility,
    log_returns,
    max_drawdown,
    portfolio_returns,
    recommend,
    returns_across_gaps,
    risk_level,
    series_stats,
    sessions_between,
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


def trade(*positions: tuple[str, Side, float], calendar: str = "XNYS") -> TradeInput:
    """Positions on one calendar, each security key its own ticker."""
    return traded(*((security, side, pct, calendar) for security, side, pct in positions))


def traded(*positions: tuple[str, Side, float, str]) -> TradeInput:
    """Positions each with its own calendar."""
    return TradeInput(
        "t",
        "d",
        tuple(
            PositionInput(security, side, pct, ticker=security, calendar=calendar)
            for security, side, pct, calendar in positions
        ),
    )


def analyze(positions: TradeInput, frame: pd.DataFrame, as_of: date | None = None) -> TradeAnalysis:
    """The analysis as of `as_of`, by default the day after the frame's last date (current)."""
    return ANALYZER.analyze(positions, frame, as_of or frame.index[-1].date() + timedelta(days=1))


def expected(rate: float, days: int) -> Decimal:
    return Decimal(repr((1 + rate) ** days - 1)).quantize(Decimal("0.0001"))


def test_one_percent_a_day_has_a_known_drift_and_no_volatility() -> None:
    stats = series_stats(pd.Series(growing(0.01)))
    assert stats.observations == DAYS - 1
    assert stats.daily_drift == pytest.approx(math.log(1.01))
    assert stats.annual_drift == pytest.approx(252 * math.log(1.01))
    assert (stats.annual_volatility, stats.max_drawdown) == (0.0, 0.0)


def test_a_long_position_compounds_its_drift_over_each_horizon() -> None:
    analysis = analyze(trade(("UP", Side.LONG, 100)), closes(UP=growing(0.01)))
    assert analysis.returns["1m"] == expected(0.01, 21) == Decimal("0.2324")
    assert analysis.returns["3m"] == expected(0.01, 63)
    assert analysis.returns["1y"] == expected(0.01, 252)
    assert analysis.returns["3y"] == expected(0.01, 756)


def test_estimates_are_allocation_weighted_and_shorts_inverted() -> None:
    frame = closes(UP=growing(0.01), DOWN=growing(-0.005))
    analysis = analyze(trade(("UP", Side.LONG, 60), ("DOWN", Side.SHORT, 30)), frame)
    one_month = 0.6 * ((1.01**21) - 1) - 0.3 * ((0.995**21) - 1)
    assert analysis.returns["1m"] == Decimal(repr(one_month)).quantize(Decimal("0.0001"))


def test_a_long_and_a_short_of_equal_size_cancel_out() -> None:
    analysis = analyze(
        trade(("UP", Side.LONG, 50), ("UP", Side.SHORT, 50)), closes(UP=growing(0.01))
    )
    assert set(analysis.returns.values()) == {Decimal("0.0000")}


def test_a_flat_security_has_no_return_no_volatility_and_is_not_recommended() -> None:
    analysis = analyze(trade(("FLAT", Side.LONG, 100)), closes(FLAT=[100.0] * DAYS))
    assert analysis.returns["1y"] == Decimal("0.0000")
    assert analysis.risk_level is RiskLevel.LOW
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED
    assert "expected 1-year return is +0.00%" in analysis.rationale


def test_a_horizon_longer_than_the_history_has_no_estimate() -> None:
    analysis = analyze(trade(("UP", Side.LONG, 100)), closes(UP=growing(0.01, 100)))
    assert [h for h, v in analysis.returns.items() if v is not None] == ["1m", "3m"]
    assert analysis.risk_level is not None
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED
    assert "not enough price history for a 1-year estimate." in analysis.rationale


def test_a_history_too_short_for_any_estimate_names_both_missing() -> None:
    analysis = analyze(trade(("UP", Side.LONG, 100)), closes(UP=growing(0.01, 10)))
    assert analysis.risk_level is None
    assert "not enough price history for a 1-year estimate or a risk level." in (analysis.rationale)


def test_the_shortest_history_of_a_trade_decides_its_horizons() -> None:
    short_history = [math.nan] * (DAYS - 64) + list(growing(0.01, 64))
    frame = closes(UP=growing(0.01), NEW=short_history)
    analysis = analyze(trade(("UP", Side.LONG, 50), ("NEW", Side.LONG, 50)), frame)
    assert [h for h, v in analysis.returns.items() if v is not None] == ["1m", "3m"]


def test_the_3y_horizon_needs_756_returns() -> None:
    enough = analyze(trade(("UP", Side.LONG, 1)), closes(UP=growing(0.001, 757)))
    too_few = analyze(trade(("UP", Side.LONG, 1)), closes(UP=growing(0.001, 756)))
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
    analysis = analyze(trade(("UP", Side.SHORT, 100)), closes(UP=growing(0.01)))
    assert analysis.returns["1m"] == -expected(0.01, 21)
    assert analysis.risk_level is RiskLevel.HIGH
    assert analysis.recommendation is Recommendation.NOT_RECOMMENDED


def test_a_security_without_prices_gives_no_estimates_and_unknown_risk() -> None:
    analysis = analyze(trade(("GONE", Side.LONG, 10)), closes(UP=growing(0.01)))
    assert set(analysis.returns.values()) == {None}
    assert analysis.risk_level is None
    assert analysis.position_rationales == ("GONE long 10.00%: no price history, so no estimate.",)


def test_a_trade_without_positions_is_not_recommended() -> None:
    analysis = analyze(trade(), closes(UP=growing(0.01)))
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
    analysis = analyze(trade(("UP", Side.LONG, 60), ("FLAT", Side.SHORT, 40)), frame)
    assert "1m +13.94%" in analysis.rationale
    assert "3y n/a" in analysis.rationale
    assert (
        "volatility 0.00% and maximum drawdown 0.00% over 299 days: LOW risk" in analysis.rationale
    )
    assert "Recommended: the return-to-risk ratio inf" in analysis.rationale
    up, flat = analysis.position_rationales
    assert up.startswith(f"UP long 60.00%: latest close {frame.index[-1].date()}; over the 299")
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
    """Three years of common sessions, or of calendar days for a trade that trades every day."""
    assert max(HORIZONS.values()) + 1 == 757
    assert ANALYZER.history_days == 3 * 365 + 1


def test_a_trade_is_measured_only_on_the_dates_every_leg_has_a_close() -> None:
    """OLD has 60 closes, NEW only its last 31 and then 10 more of its own: the statistics come
    from the 31 shared dates (30 returns), where OLD grew 1% a day and NEW 0.5%, never from OLD's
    earlier 2% days or NEW's later losses."""
    index = pd.bdate_range("2024-01-01", periods=70)
    old = list(100 * 1.02 ** np.arange(30)) + list(100 * 1.02**29 * 1.01 ** np.arange(1, 31))
    new = list(50 * 1.005 ** np.arange(31)) + list(50 * 1.005**30 * 0.97 ** np.arange(1, 11))
    frame = pd.DataFrame(
        {"OLD": old + [math.nan] * 10, "NEW": [math.nan] * 29 + new}, index=index, dtype=float
    )

    analysis = analyze(trade(("OLD", Side.LONG, 50), ("NEW", Side.LONG, 50)), frame)

    one_month = 0.5 * (1.01**21 - 1) + 0.5 * (1.005**21 - 1)
    assert analysis.returns["1m"] == Decimal(repr(one_month)).quantize(Decimal("0.0001"))
    assert [h for h, v in analysis.returns.items() if v is not None] == ["1m"]
    assert (
        "Period: the 31 dates on which every position's security has a close, 2024-02-09 to "
        "2024-03-22 (30 daily returns, 252 a year)." in analysis.rationale
    )
    assert "over 30 days: LOW risk" in analysis.rationale
    old_text, new_text = analysis.position_rationales
    assert old_text.startswith("OLD long 50.00%: latest close 2024-03-22; over the 30 common")
    assert f"annualized drift is {252 * math.log(1.01):+.2%}" in old_text
    assert new_text.startswith("NEW long 50.00%: latest close 2024-04-05; over the 30 common")
    assert f"annualized drift is {252 * math.log(1.005):+.2%}" in new_text


def test_the_period_is_the_last_common_dates_up_to_the_longest_horizon() -> None:
    frame = closes(UP=growing(0.01, 1000))
    analysis = analyze(trade(("UP", Side.LONG, 100)), frame)
    assert "the 757 dates" in analysis.rationale and "(756 daily returns" in analysis.rationale
    assert f"{frame.index[-757].date()} to {frame.index[-1].date()}" in analysis.rationale


def test_legs_without_a_common_date_get_no_estimate_and_say_so() -> None:
    frame = closes(EARLY=[100.0] * 10 + [math.nan] * 10, LATE=[math.nan] * 10 + [50.0] * 10)
    analysis = analyze(trade(("EARLY", Side.LONG, 50), ("LATE", Side.SHORT, 50)), frame)
    assert set(analysis.returns.values()) == {None}
    assert (analysis.risk_level, analysis.recommendation) == (None, Recommendation.NOT_RECOMMENDED)
    assert analysis.rationale.startswith(
        "No estimate: the positions' securities have no date on which all of them have a close."
    )
    assert analysis.position_rationales == (
        "EARLY long 50.00%: latest close 2020-01-14, none on a date all positions share, so no "
        "estimate.",
        "LATE short 50.00%: latest close 2020-01-28, none on a date all positions share, so no "
        "estimate.",
    )


def test_a_leg_without_prices_is_named() -> None:
    analysis = analyze(trade(("UP", Side.LONG, 50), ("GONE", Side.LONG, 50)), closes(UP=[1.0] * 5))
    assert analysis.rationale.startswith("No estimate: no price history for GONE.")


def steady_until(last: date, days: int = 300) -> pd.DataFrame:
    """UP growing exactly 1% a day (no volatility: LOW risk, RECOMMENDED), ending on `last`."""
    return pd.DataFrame({"UP": growing(0.01, days)}, index=pd.bdate_range(end=last, periods=days))


def test_prices_five_sessions_old_are_current() -> None:
    """After Friday 2024-06-28 and before Tuesday 2024-07-09 the NYSE held 5 sessions: July 1,
    2, 3, 5 and 8 (July 4 is a holiday)."""
    analysis = analyze(
        trade(("UP", Side.LONG, 100)), steady_until(date(2024, 6, 28)), date(2024, 7, 9)
    )
    assert (analysis.risk_level, analysis.recommendation) == (
        RiskLevel.LOW,
        Recommendation.RECOMMENDED,
    )
    assert (
        "Newest common close 2024-06-28: current (5 sessions of the positions' exchanges were "
        "held after it and before 2024-07-09, at most 5 allowed)." in analysis.rationale
    )


def test_prices_six_sessions_old_are_stale_raise_the_risk_and_are_not_recommended() -> None:
    analysis = analyze(
        trade(("UP", Side.LONG, 100)), steady_until(date(2024, 6, 28)), date(2024, 7, 10)
    )
    assert (analysis.risk_level, analysis.recommendation) == (
        RiskLevel.MODERATE,
        Recommendation.CONDITIONAL,
    )
    assert (
        "Stale prices: the newest common close is 2024-06-28; 6 sessions of the positions' "
        "exchanges were held after it and before 2024-07-10, more than 5" in analysis.rationale
    )
    assert "LOW risk, raised to MODERATE for stale prices" in analysis.rationale
    assert "but prices this old are never recommended outright" in analysis.rationale


def test_stale_high_risk_stays_high() -> None:
    analysis = analyze(trade(("UP", Side.SHORT, 100)), closes(UP=growing(0.01)), date(2030, 1, 1))
    assert analysis.risk_level is RiskLevel.HIGH
    assert "Stale prices" in analysis.rationale


def test_one_exchange_s_holiday_does_not_make_prices_stale() -> None:
    """Tokyo's Golden Week 2024 (April 29, May 3 and May 6 closed): from April 27 to May 6 New
    York held 6 sessions, Tokyo 3, and both together 3."""
    after, before = date(2024, 4, 26), date(2024, 5, 7)
    assert sessions_between(after, before, ["XNYS"]) == 6
    assert sessions_between(after, before, ["XTKS"]) == 3
    assert sessions_between(after, before, ["XNYS", "XTKS"]) == 3
    assert sessions_between(date(2024, 6, 28), date(2024, 7, 5), ["24/7"]) == 6


def every_day(rate: float, days: int, end: str = "2024-06-30") -> pd.Series:
    return pd.Series(growing(rate, days), index=pd.date_range(end=end, periods=days))


def test_a_trade_of_24_7_legs_counts_calendar_days() -> None:
    frame = pd.DataFrame({"COIN": every_day(0.01, 400)})
    analysis = analyze(trade(("COIN", Side.LONG, 100), calendar="24/7"), frame)
    assert analysis.returns["1m"] == expected(0.01, 30)
    assert analysis.returns["1y"] == expected(0.01, 365)
    assert analysis.returns["3y"] is None, "399 returns are not 1095"
    assert "(399 daily returns, 365 a year)" in analysis.rationale
    assert f"annualized drift is {365 * math.log(1.01):+.2%}" in analysis.position_rationales[0]


def test_24_7_volatility_is_annualized_over_365_days() -> None:
    """Daily returns alternating +1% and -1%: the sample deviation times sqrt(365)."""
    path = 100 * np.cumprod([1.0] + [1.01, 0.99] * 20)
    frame = pd.DataFrame({"COIN": path}, index=pd.date_range(end="2024-06-30", periods=len(path)))
    analysis = analyze(trade(("COIN", Side.LONG, 100), calendar="24/7"), frame)
    deviation = pd.Series([0.01, -0.01] * 20).std(ddof=1)
    assert f"volatility {deviation * math.sqrt(365):.2%}" in analysis.rationale
    assert annualized_volatility(pd.Series([0.01, -0.01]), 365) == pytest.approx(
        math.sqrt(2e-4) * math.sqrt(365)
    )


def test_a_24_7_leg_beside_a_session_traded_one_is_measured_on_weekdays() -> None:
    """COIN grows 1% every calendar day, FLAT trades on weekdays: the common dates are the
    weekdays, so COIN's drift per common return is log(1.01) x calendar days / returns (Monday's
    return spans the weekend), horizons count sessions and a year is 252 of them."""
    coin = every_day(0.01, 150)
    flat = pd.Series(100.0, index=pd.bdate_range(end="2024-06-30", periods=90))
    frame = pd.DataFrame({"COIN": coin, "FLAT": flat})
    analysis = analyze(
        traded(("COIN", Side.LONG, 50, "24/7"), ("FLAT", Side.LONG, 50, "XNYS")), frame
    )

    first, last = flat.index[0], flat.index[-1]
    drift = math.log(1.01) * (last - first).days / (len(flat) - 1)
    one_month = 0.5 * math.expm1(21 * drift)
    assert analysis.returns["1m"] == Decimal(repr(one_month)).quantize(Decimal("0.0001"))
    assert analysis.returns["1y"] is None, "89 returns are not 252"
    assert f"({len(flat) - 1} daily returns, 252 a year)" in analysis.rationale


def alternating(days: int) -> np.ndarray:
    """Closes moving +1% and -1% on alternate sessions."""
    return 100 * np.cumprod([1.0] + [1.01, 0.99] * ((days - 1) // 2))


def portfolio_volatility(analysis: TradeAnalysis) -> float:
    """The annualized volatility the rationale states, as a fraction."""
    found = re.search(r"Portfolio annualized volatility (-?[\d.]+)%", analysis.rationale)
    assert found is not None, analysis.rationale
    return float(found.group(1)) / 100


def test_a_return_across_missing_sessions_is_left_out_not_annualized_as_one_days() -> None:
    """A year of sessions missing from the stored closes, over which the price quadrupled: the
    move across the hole is not one day's return, so the volatility stays that of the sessions
    either side, as without the hole, instead of that of a +317% day."""
    full = closes(UP=alternating(601))
    holed = full.drop(full.index[300:552])
    holed.iloc[300:] *= 4.17
    alone = trade(("UP", Side.LONG, 100))

    without_hole, with_hole = analyze(alone, full), analyze(alone, holed)

    kept = holed["UP"].pct_change().iloc[1:].drop(holed.index[300])
    assert portfolio_volatility(with_hole) == pytest.approx(
        round(annualized_volatility(kept), 4), abs=5e-5
    )
    assert portfolio_volatility(with_hole) == pytest.approx(
        portfolio_volatility(without_hole), abs=5e-4
    )
    across = annualized_volatility(holed["UP"].pct_change().iloc[1:])
    assert across > 1.0 > 0.2 > portfolio_volatility(with_hole)  # what counting it would say
    assert "(347 daily returns, 252 a year; 1 return across missing sessions left out)" in (
        with_hole.rationale
    )
    assert "over the 347 common daily returns" in with_hole.position_rationales[0]


def test_a_holiday_of_one_leg_s_exchange_is_no_missing_session() -> None:
    """London's Easter Monday 2024 (April 1) is a New York session but not one both hold; a
    date both hold and the closes lack is missing."""
    both = pd.DatetimeIndex(["2024-03-28", "2024-04-02", "2024-04-03", "2024-04-05"])
    together = returns_across_gaps(both, ["XNYS", "XLON"])
    new_york = returns_across_gaps(both, ["XNYS"])
    assert together is not None and list(together) == [pd.Timestamp("2024-04-05")]  # the 4th
    assert new_york is not None and list(new_york) == [
        pd.Timestamp("2024-04-02"),  # New York alone held April 1
        pd.Timestamp("2024-04-05"),
    ]


def test_missing_sessions_are_unknown_where_a_calendar_cannot_say() -> None:
    """Tokyo's calendar starts in 1997: over closes from 1996, whether a return spans a missing
    session is unknown, so none is left out and the rationale says so."""
    frame = pd.DataFrame(
        {"UP": growing(0.001, 600)}, index=pd.bdate_range("1996-01-01", periods=600)
    )
    assert returns_across_gaps(pd.DatetimeIndex(frame.index), ["XTKS"]) is None
    analysis = analyze(trade(("UP", Side.LONG, 100), calendar="XTKS"), frame)
    assert (
        "(599 daily returns, 252 a year; whether any spans missing sessions is unknown"
        in analysis.rationale
    )
