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


def write_csv(path: Path, bars: list[Bar]) -> None:
    rows = [f"{b.day},{b.open},{b.high},{b.low},{b.close},{b.volume}" for b in bars]
    path.write_text("\n".join(["Date,Open,High,Low,Close,Volume", *rows]) + "\n")


@dataclass
class Case:
    provider: MarketDataProvider
    rejected_in_range: int
    unknown_status: TickerStatus


def synthetic_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    return Case(SyntheticProvider(seed=7, today=lambda: TODAY), 0, TickerStatus.OK)


def files_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    write_csv(tmp_path / "AAPL.csv", source_bars(100.0))
    write_csv(tmp_path / "7203.T.csv", source_bars(3000.0))
    (tmp_path / "actions.csv").write_text(
        "ticker,date,action,value\nAAPL,2024-03-04,dividend,0.24\n"
    )
    return Case(FilesProvider(tmp_path, today=lambda: TODAY), 2, TickerStatus.NO_DATA)


def yfinance_case(tmp_path: Path, yahoo: Callable[[], FakeYahoo]) -> Case:
    fake = yahoo()
    fake.charts["AAPL"] = chart_payload(
        "AAPL", NEW_YORK, source_bars(100.0), dividends={date(2024, 3, 4): 0.24}
    )
    fake.charts["7203.T"] = chart_payload("7203.T", TOKYO, source_bars(3000.0))
    for ticker in TICKERS:
        fake.quotes[ticker] = quote_summary(
            ticker, quoteType="EQUITY", longName=ticker, currentPrice=10.0
        )
    provider = YFinanceProvider(
        max_requests_per_second=0, retry=RetryPolicy(attempts=1), today=lambda: TODAY
    )
    return Case(provider, 2, TickerStatus.DELISTED)


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
