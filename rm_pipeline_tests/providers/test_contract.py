"""What every provider promises, checked against all three with the same questions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from rm_pipeline.providers.base import MarketDataProvider, ProviderResult, TickerStatus
from rm_pipeline.providers.files_provider import FilesProvider
from rm_pipeline.providers.frames import (
    CorporateActionFrame,
    DailyBarFrame,
    FrameModel,
    FundamentalsFrame,
    FxRateFrame,
    RejectedFrame,
    SecurityFrame,
    columns,
    empty_frame,
)
from rm_pipeline.providers.ratelimit import RetryPolicy
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.providers.yfinance_provider import YFinanceProvider
from rm_pipeline_tests.providers.conftest import TODAY
from rm_pipeline_tests.providers.yahoo_fake import (
    CURRENCIES,
    NEW_YORK,
    TOKYO,
    Bar,
    FakeYahoo,
    bars_between,
    chart_payload,
    quote_summary,
)

TICKERS = ["AAPL", "7203.T"]
RANGE = (date(2024, 3, 1), date(2024, 3, 8))
"""A Friday to a Friday: a trading day in New York and Tokyo at both ends."""
BAD_DAY = date(2024, 3, 5)
RECENT = (TODAY - timedelta(days=7), TODAY + timedelta(days=10))


def source_bars(base: float) -> list[Bar]:
    """What the files and the fake Yahoo hold: March 2024 with one impossible bar (high below
    low), and the last days up to one day after today."""
    march = bars_between(date(2024, 2, 28), [base + i for i in range(12)])
    march = [
        Bar(b.day, b.open, b.low, b.high, b.close, b.volume) if b.day == BAD_DAY else b
        for b in march
    ]
    recent = bars_between(TODAY - timedelta(days=6), [base * 2 + i for i in range(6)])
    return march + recent


PAIRS = {"EUR": 1.08, "JPY": 0.0067}


def source_rates(level: float) -> list[Bar]:
    """What the pair files and the fake Yahoo hold, laid out like `source_bars`: March 2024 with
    one negative rate, and the last days up to one day after today. The rate is the close, moving
    by 0.1 % a day; FX bars carry no volume."""
    days = [b.day for b in source_bars(level)]
    closes = [level * (1 + 0.001 * i) for i in range(len(days))]
    return [
        Bar(day, close, close * 1.002, close * 0.998, -close if day == BAD_DAY else close, 0)
        for day, close in zip(days, closes, strict=True)
    ]


def write_csv(path: Path, bars: list[Bar]) -> None:
    rows = [f"{b.day},{b.open},{b.high},{b.low},{b.close},{b.volume}" for b in bars]
    path.write_text("\n".join(["Date,Open,High,Low,Close,Volume", *rows]) + "\n")


@dataclass
class Case:
    provider: MarketDataProvider
    rejected_in_range: int
    unknown_status: TickerStatus
    unknown_currency_status: TickerStatus


def synthetic_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    return Case(
        SyntheticProvider(seed=7, today=lambda: TODAY), 0, TickerStatus.OK, TickerStatus.NO_DATA
    )


def files_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    write_csv(tmp_path / "AAPL.csv", source_bars(100.0))
    write_csv(tmp_path / "7203.T.csv", source_bars(3000.0))
    (tmp_path / "actions.csv").write_text(
        "ticker,date,action,value\nAAPL,2024-03-04,dividend,0.24\n"
    )
    for currency, level in PAIRS.items():
        write_csv(tmp_path / f"{currency}USD=X.csv", source_rates(level))
    return Case(
        FilesProvider(tmp_path, today=lambda: TODAY), 2, TickerStatus.NO_DATA, TickerStatus.NO_DATA
    )


def yfinance_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    fake = yahoo()
    fake.charts["AAPL"] = chart_payload(
        "AAPL", NEW_YORK, source_bars(100.0), dividends={date(2024, 3, 4): 0.24}
    )
    fake.charts["7203.T"] = chart_payload("7203.T", TOKYO, source_bars(3000.0))
    for currency, level in PAIRS.items():
        pair = f"{currency}USD=X"
        fake.charts[pair] = chart_payload(
            pair, CURRENCIES, source_rates(level), instrument_type="CURRENCY"
        )
    for ticker in TICKERS:
        fake.quotes[ticker] = quote_summary(
            ticker, quoteType="EQUITY", longName=ticker, currentPrice=10.0
        )
    provider = YFinanceProvider(
        max_requests_per_second=0,
        retry=RetryPolicy(attempts=1),
        today=lambda: TODAY,
        transport=fake.request,
    )
    return Case(provider, 2, TickerStatus.DELISTED, TickerStatus.DELISTED)


@pytest.fixture(
    params=[synthetic_case, files_case, yfinance_case], ids=["synthetic", "files", "yfinance"]
)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    return request.param(tmp_path, lambda: request.getfixturevalue("yahoo"))


def assert_schema(result: ProviderResult, model: FrameModel) -> None:
    assert list(result.frame.columns) == columns(model)
    assert result.frame.dtypes.to_dict() == empty_frame(model).dtypes.to_dict()
    assert list(result.rejected.columns) == columns(RejectedFrame)


def assert_outcomes(result: ProviderResult, requested: list[str]) -> None:
    assert [o.ticker for o in result.outcomes] == requested
    counts = result.frame["ticker"].value_counts()
    for outcome in result.outcomes:
        assert outcome.rows == counts.get(outcome.ticker, 0)


def test_bars(case: Case) -> None:
    result = case.provider.daily_bars([*TICKERS, "not valid!"], *RANGE)

    assert_schema(result, DailyBarFrame)
    assert_outcomes(result, [*TICKERS, "not valid!"])
    assert [o.status for o in result.outcomes] == [
        TickerStatus.OK,
        TickerStatus.OK,
        TickerStatus.INVALID,
    ]
    assert "not valid!" in result.outcomes[2].reason
    for ticker in TICKERS:
        dates = result.frame.loc[result.frame["ticker"] == ticker, "date"]
        assert (dates.min(), dates.max()) == (pd.Timestamp(RANGE[0]), pd.Timestamp(RANGE[1]))
        assert dates.is_monotonic_increasing
    assert len(result.rejected) == case.rejected_in_range
    assert set(result.rejected["reason"]) <= {"high_below_low"}
    assert (result.rejected["date"] == pd.Timestamp(BAD_DAY)).all()


def test_never_a_bar_after_today(case: Case) -> None:
    result = case.provider.daily_bars(TICKERS, *RECENT)

    assert result.frame["date"].max() == pd.Timestamp(TODAY)
    assert (result.rejected["reason"] == "future_date").all()
    assert all(o.status is TickerStatus.OK for o in result.outcomes)


def test_unknown_ticker_is_an_outcome_not_an_exception(case: Case) -> None:
    [outcome] = case.provider.daily_bars(["ZZZZ"], *RANGE).outcomes
    assert outcome.status is case.unknown_status


def test_corporate_actions(case: Case) -> None:
    result = case.provider.corporate_actions(
        [*TICKERS, "not valid!"], date(2024, 1, 1), date(2024, 12, 31)
    )

    assert_schema(result, CorporateActionFrame)
    assert_outcomes(result, [*TICKERS, "not valid!"])
    assert result.outcomes[2].status is TickerStatus.INVALID
    assert result.frame["date"].between(pd.Timestamp(2024, 1, 1), pd.Timestamp(2024, 12, 31)).all()
    assert (result.frame["ticker"] == "AAPL").any()


def test_securities(case: Case) -> None:
    result = case.provider.securities([*TICKERS, "not valid!"])

    assert_schema(result, SecurityFrame)
    assert_outcomes(result, [*TICKERS, "not valid!"])
    assert list(result.frame["ticker"]) == TICKERS
    assert result.outcomes[2].status is TickerStatus.INVALID


def test_fundamentals(case: Case) -> None:
    result = case.provider.fundamentals([*TICKERS, "not valid!"])

    assert_schema(result, FundamentalsFrame)
    assert_outcomes(result, [*TICKERS, "not valid!"])
    assert list(result.frame["ticker"]) == TICKERS
    assert (result.frame["as_of"] <= pd.Timestamp(TODAY)).all()
    assert (result.frame["current_price"] > 0).all()
    assert result.outcomes[2].status is TickerStatus.INVALID


def test_fx_rates(case: Case) -> None:
    result = case.provider.fx_rates([*PAIRS, "USD", "GBp"], *RANGE)

    assert_schema(result, FxRateFrame)
    assert [(o.ticker, o.status) for o in result.outcomes] == [
        ("EURUSD=X", TickerStatus.OK),
        ("JPYUSD=X", TickerStatus.OK),
        ("USD", TickerStatus.INVALID),
        ("GBp", TickerStatus.INVALID),
    ]
    counts = result.frame["base_currency"].value_counts()
    for outcome, currency in zip(result.outcomes, PAIRS, strict=False):
        assert outcome.rows == counts[currency]
    assert (result.frame["quote_currency"] == "USD").all()
    for currency, level in PAIRS.items():
        rows = result.frame[result.frame["base_currency"] == currency]
        assert rows["date"].is_monotonic_increasing
        assert (rows["date"].min(), rows["date"].max()) == (
            pd.Timestamp(RANGE[0]),
            pd.Timestamp(RANGE[1]),
        )
        assert (rows["date"].dt.day_of_week < 5).all()
        assert rows["rate"].between(level * 0.8, level * 1.25).all(), currency
    assert len(result.rejected) == case.rejected_in_range
    assert set(result.rejected["ticker"]) <= {"EURUSD=X", "JPYUSD=X"}
    assert set(result.rejected["reason"]) <= {"non_positive_rate"}
    assert (result.rejected["date"] == pd.Timestamp(BAD_DAY)).all()


def test_never_a_rate_after_today(case: Case) -> None:
    result = case.provider.fx_rates(list(PAIRS), *RECENT)

    assert result.frame["date"].max() == pd.Timestamp(TODAY)
    assert (result.rejected["reason"] == "future_date").all()
    assert all(o.status is TickerStatus.OK for o in result.outcomes)


def test_unknown_currency_is_an_outcome_named_by_its_pair(case: Case) -> None:
    [outcome] = case.provider.fx_rates(["XYZ"], *RANGE).outcomes
    assert (outcome.ticker, outcome.status) == ("XYZUSD=X", case.unknown_currency_status)
