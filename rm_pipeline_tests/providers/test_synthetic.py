"""The synthetic provider: deterministic, calendar-aware, consistent with itself."""

from __future__ import annotations

from datetime import date, timedelta

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from rm_pipeline.providers.base import TickerStatus
from rm_pipeline.providers.calendars import ticker_sessions
from rm_pipeline.providers.frames import SECURITY_TYPES
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.providers.universe import default_tickers
from rm_pipeline_tests.providers.conftest import TODAY

YEAR_2024 = (date(2024, 1, 1), date(2024, 12, 31))


def synthetic(today: date = TODAY, seed: int = 7) -> SyntheticProvider:
    return SyntheticProvider(seed=seed, today=lambda: today)


def sessions(calendar: str, start: date, end: date) -> list[pd.Timestamp]:
    return list(xcals.get_calendar(calendar).sessions_in_range(start, end))


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = synthetic().daily_bars(["AAPL", "7203.T"], *YEAR_2024).frame
    again = synthetic().daily_bars(["AAPL", "7203.T"], *YEAR_2024).frame
    other = synthetic(seed=8).daily_bars(["AAPL", "7203.T"], *YEAR_2024).frame

    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["close"], other["close"])


def test_a_bar_does_not_depend_on_the_range_asked_for() -> None:
    provider = synthetic()
    year = provider.daily_bars(["KO", "SAP.DE"], *YEAR_2024).frame
    week = synthetic().daily_bars(["KO", "SAP.DE"], date(2024, 6, 3), date(2024, 6, 7)).frame
    span = synthetic().daily_bars(["SAP.DE"], date(2023, 12, 1), date(2024, 1, 5)).frame

    pd.testing.assert_frame_equal(year.merge(week), week)
    assert len(week) == 10
    pd.testing.assert_frame_equal(
        year.merge(span), span[span["date"] >= "2024-01-01"].reset_index(drop=True)
    )


def test_later_days_leave_earlier_bars_alone() -> None:
    """A later today changes nothing but adj_close, which takes in the newer dividends."""
    before = synthetic(today=date(2025, 5, 30)).daily_bars(["KO"], *YEAR_2024).frame
    after = synthetic(today=date(2025, 6, 30)).daily_bars(["KO"], *YEAR_2024).frame

    pd.testing.assert_frame_equal(before.drop(columns="adj_close"), after.drop(columns="adj_close"))


def test_a_request_gives_the_same_data_after_another_as_on_its_own() -> None:
    """A provider keeps one request's histories for the next (a batch's bars, then its
    corporate actions); what it answers must not depend on that, nor on its clock moving on."""
    tickers, start, end = ["KO", "NVDA", "BTC-USD"], date(2019, 12, 22), date(2025, 6, 30)
    days = iter([date(2025, 5, 30), date(2025, 5, 30), end])
    provider = SyntheticProvider(seed=7, today=lambda: next(days))
    bars = provider.daily_bars(tickers, start, end).frame
    actions = provider.corporate_actions(tickers, date(2020, 1, 1), end).frame
    later = provider.daily_bars(tickers, start, end).frame

    early = date(2025, 5, 30)
    alone = synthetic(today=early).corporate_actions(tickers, date(2020, 1, 1), end).frame
    pd.testing.assert_frame_equal(actions, alone)
    pd.testing.assert_frame_equal(
        bars, synthetic(today=early).daily_bars(tickers, start, end).frame
    )
    pd.testing.assert_frame_equal(later, synthetic(today=end).daily_bars(tickers, start, end).frame)
    assert not actions.empty and len(later) > len(bars)


@pytest.mark.parametrize(
    ("ticker", "calendar", "closed"),
    [
        ("AAPL", "XNYS", [date(2024, 7, 4), date(2024, 11, 28), date(2024, 12, 25)]),
        ("SHEL.L", "XLON", [date(2024, 12, 26), date(2024, 8, 26)]),
        ("7203.T", "XTKS", [date(2024, 1, 2), date(2024, 1, 3), date(2024, 11, 4)]),
        ("SAP.DE", "XETR", [date(2024, 12, 24), date(2024, 5, 1)]),
        ("RY.TO", "XTSE", [date(2024, 7, 1), date(2024, 8, 5)]),
    ],
)
def test_bars_follow_the_exchange_calendar(ticker: str, calendar: str, closed: list[date]) -> None:
    frame = synthetic().daily_bars([ticker], *YEAR_2024).frame

    assert list(frame["date"]) == sessions(calendar, *YEAR_2024)
    assert not set(pd.to_datetime(closed)) & set(frame["date"])
    assert (frame["date"].dt.day_of_week < 5).all()


def test_crypto_trades_every_day() -> None:
    frame = synthetic().daily_bars(["BTC-USD"], date(2024, 6, 1), date(2024, 6, 30)).frame
    assert len(frame) == 30


def test_no_bars_after_today_and_both_ends_included() -> None:
    result = synthetic().daily_bars(["AAPL"], TODAY - timedelta(days=3), TODAY + timedelta(days=30))

    assert list(result.frame["date"]) == sessions("XNYS", TODAY - timedelta(days=3), TODAY)
    assert result.frame["date"].iloc[0] == pd.Timestamp(TODAY - timedelta(days=3))  # a Friday
    assert result.rejected.empty


def test_bars_are_consistent() -> None:
    frame = synthetic().daily_bars(default_tickers(), *YEAR_2024).frame

    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["volume"] > 0).all()
    assert (frame["adj_close"] <= frame["close"] + 1e-6).all()
    assert frame["ticker"].nunique() == len(default_tickers())


def test_a_split_is_reported_and_prices_are_restated_for_it() -> None:
    """NVDA split 10-for-1 on 2024-06-10: closes stay continuous across it, and a history
    fetched before the split is ten times the same history fetched after it."""
    window = (date(2024, 6, 3), date(2024, 6, 7))
    before = synthetic(today=date(2024, 6, 7)).daily_bars(["NVDA"], *window).frame
    after = synthetic(today=date(2024, 7, 1)).daily_bars(["NVDA"], *window).frame
    around = synthetic().daily_bars(["NVDA"], date(2024, 6, 7), date(2024, 6, 10)).frame
    actions = synthetic().corporate_actions(["NVDA", "GE"], date(2021, 1, 1), date(2024, 12, 31))

    assert np.allclose(before["close"], after["close"] * 10, rtol=1e-3)
    assert np.allclose(before["volume"] * 10, after["volume"], atol=10)
    assert 0.8 < around["close"].iloc[1] / around["close"].iloc[0] < 1.25
    splits = actions.frame[actions.frame["action"] == "split"]
    assert splits[["ticker", "date", "value"]].to_numpy().tolist() == [
        ["NVDA", pd.Timestamp("2021-07-20"), 4.0],
        ["NVDA", pd.Timestamp("2024-06-10"), 10.0],
        ["GE", pd.Timestamp("2021-08-02"), 0.125],
    ]


def test_dividends_are_quarterly_and_adj_close_is_back_adjusted() -> None:
    provider = synthetic()
    bars = provider.daily_bars(["KO"], *YEAR_2024).frame.set_index("date")
    actions = provider.corporate_actions(["KO"], *YEAR_2024).frame
    dividends = actions.set_index("date")["value"]

    assert len(dividends) == 4 and (actions["action"] == "dividend").all()
    ratio = bars["adj_close"] / bars["close"]
    for ex_date, amount in dividends.items():
        position = bars.index.get_loc(ex_date)
        previous_close = bars["close"].iloc[position - 1]
        step = ratio.iloc[position - 1] / ratio.iloc[position]
        assert step == pytest.approx(1 - amount / previous_close, rel=1e-4)
    assert ratio.iloc[-1] < 1  # dividends paid since 2024 still adjust the end of 2024


def test_non_payers_have_no_dividends() -> None:
    actions = synthetic().corporate_actions(["AMZN", "BTC-USD", "^GSPC"], *YEAR_2024)
    assert actions.frame[actions.frame["action"] == "dividend"].empty
    bars = synthetic().daily_bars(["AMZN"], *YEAR_2024).frame
    assert (bars["adj_close"] == bars["close"]).all()


def test_fundamentals_agree_with_the_bars() -> None:
    provider = synthetic()
    [row] = provider.fundamentals(["KO"]).frame.to_dict("records")
    as_of = row["as_of"].date()
    # The windows of rm_pipeline.core.market_statistics: 52 weeks, and 13 for the volume.
    year_start = as_of - timedelta(weeks=52) + timedelta(days=1)
    bars = provider.daily_bars(["KO"], year_start, as_of).frame
    dividends = provider.corporate_actions(["KO"], year_start, as_of).frame["value"].sum()
    quarter = bars[bars["date"] > pd.Timestamp(as_of - timedelta(weeks=13))]

    assert row["as_of"] == bars["date"].iloc[-1]
    assert row["current_price"] == bars["close"].iloc[-1]
    assert row["volume"] == bars["volume"].iloc[-1]
    assert row["avg_volume"] == round(quarter["volume"].mean())
    assert row["fifty_two_week_high"] == bars["high"].max()
    assert row["fifty_two_week_low"] == bars["low"].min()
    assert row["dividend_yield"] == pytest.approx(dividends / row["current_price"])
    assert 0.005 < row["dividend_yield"] < 0.06
    assert row["pe_ratio"] > 0 and row["market_cap"] > 1e9


def test_market_cap_is_price_times_a_fixed_share_count() -> None:
    earlier = synthetic(today=date(2025, 3, 31)).fundamentals(["AAPL"]).frame.iloc[0]
    later = synthetic().fundamentals(["AAPL"]).frame.iloc[0]

    assert earlier["current_price"] != later["current_price"]
    assert earlier["market_cap"] / earlier["current_price"] == pytest.approx(
        later["market_cap"] / later["current_price"]
    )


def test_funds_and_indices_have_no_earnings_multiples() -> None:
    frame = synthetic().fundamentals(["SPY", "^GSPC"]).frame.set_index("ticker")

    assert frame[["pe_ratio", "market_cap"]].isna().all().all()
    assert frame.loc["SPY", "dividend_yield"] > 0
    assert pd.isna(frame.loc["^GSPC", "dividend_yield"])


def test_default_universe() -> None:
    result = synthetic().securities()
    frame = result.frame.set_index("ticker")

    assert 45 <= len(frame) <= 60
    assert {"SPY", "QQQ", "SHEL.L", "7203.T", "SAP.DE", "RY.TO", "BTC-USD", "^GSPC"} <= set(
        frame.index
    )
    assert frame.loc["7203.T"].to_dict() | {"description": None} == {
        "name": "Toyota Motor Corporation", "security_type": "equity", "exchange": "TSE",
        "currency": "JPY", "country": "Japan", "sector": "Consumer Cyclical",
        "industry": "Auto Manufacturers", "description": None,
    }  # fmt: skip
    assert set(frame["security_type"]) <= set(SECURITY_TYPES)
    assert set(frame["exchange"].dropna()) <= {
        "NASDAQ", "NYSE", "NYSEARCA", "LSE", "TSE", "XETRA", "TSX", "EURONEXT", "SIX", "HKEX"
    }  # fmt: skip
    assert all(o.status is TickerStatus.OK and o.rows == 1 for o in result.outcomes)


def test_unknown_tickers_get_data_and_made_up_reference() -> None:
    provider = synthetic()
    reference = provider.securities(["ZZTOP", "NEWCO.L"]).frame.set_index("ticker")
    bars = provider.daily_bars(["ZZTOP", "not valid!"], date(2024, 6, 3), date(2024, 6, 7))

    assert reference.loc["ZZTOP", "name"] == "ZZTOP"
    assert reference.loc["ZZTOP", "sector"] == "Unknown"
    assert (reference.loc["NEWCO.L", "exchange"], reference.loc["NEWCO.L", "currency"]) == (
        "LSE",
        "GBp",
    )
    assert len(bars.frame) == 5
    assert [o.status for o in bars.outcomes] == [TickerStatus.OK, TickerStatus.INVALID]


def test_fifty_tickers_over_two_years_hold_every_session_and_nothing_else() -> None:
    start = TODAY - timedelta(days=730)
    result = synthetic().daily_bars(default_tickers(), start, TODAY)

    assert result.rejected.empty
    for ticker, dates in result.frame.groupby("ticker")["date"]:
        assert list(dates.dt.date) == list(ticker_sessions(str(ticker), start, TODAY)), ticker


def test_two_thousand_tickers_over_five_hundred_sessions() -> None:
    tickers = [f"T{i:04d}" for i in range(2000)]
    frame = synthetic().daily_bars(tickers, date(2023, 7, 3), date(2025, 6, 27)).frame

    assert len(frame) == 2000 * len(sessions("XNYS", date(2023, 7, 3), date(2025, 6, 27)))


def test_fx_rates_sit_at_realistic_levels_on_weekdays_with_small_moves() -> None:
    levels = {"EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.13, "CAD": 0.73, "HKD": 0.128}
    result = synthetic().fx_rates(list(levels), *YEAR_2024)

    frame = result.frame
    assert [o.rows for o in result.outcomes] == [262] * len(levels)  # the weekdays of 2024
    assert (frame["date"].dt.day_of_week < 5).all()
    for currency, level in levels.items():
        rates = frame.loc[frame["base_currency"] == currency, "rate"]
        assert rates.between(level * 0.85, level * 1.15).all(), currency
        assert rates.pct_change().abs().max() < 0.03, currency
        assert rates.nunique() > 200, currency
    hkd = frame.loc[frame["base_currency"] == "HKD", "rate"]
    assert hkd.max() / hkd.min() < 1.01  # pegged


def test_a_rate_does_not_depend_on_the_range_or_the_day_asked() -> None:
    year = synthetic().fx_rates(["EUR"], *YEAR_2024).frame
    week = synthetic(today=date(2024, 3, 8)).fx_rates(["EUR"], date(2024, 3, 4), date(2024, 3, 8))

    merged = week.frame.merge(year, on=["base_currency", "quote_currency", "date"])
    assert len(merged) == 5 and (merged["rate_x"] == merged["rate_y"]).all()
    assert not synthetic(seed=8).fx_rates(["EUR"], *YEAR_2024).frame.equals(year)


def test_an_unknown_currency_has_no_synthetic_rate() -> None:
    [outcome] = synthetic().fx_rates(["XAU"], *YEAR_2024).outcomes
    assert (outcome.ticker, outcome.status) == ("XAUUSD=X", TickerStatus.NO_DATA)
