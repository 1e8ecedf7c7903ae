"""The yfinance provider against a fake Yahoo: yfinance's own requests and parsing run offline."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from yfinance.data import YfData

from rm_pipeline.providers import ratelimit
from rm_pipeline.providers.base import ProviderUnreachableError, TickerStatus
from rm_pipeline.providers.deprecations import silence_pandas4_warnings
from rm_pipeline.providers.http_cache import ResponseCache
from rm_pipeline.providers.ratelimit import LimiterRegistry, RateLimiter, RetryPolicy
from rm_pipeline.providers.yfinance_provider import (
    YFinanceProvider,
    dividend_yield_fraction,
    is_cached_request,
)
from rm_pipeline.settings import Settings
from rm_pipeline_tests.providers.conftest import TODAY, forget_timezones
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

MARCH = (date(2024, 3, 1), date(2024, 3, 8))


def provider(
    yahoo: FakeYahoo | None, sleeps: list[float] | None = None, **kwargs: object
) -> YFinanceProvider:
    """A provider whose requests the fake Yahoo answers; without one they go to the network."""
    options: dict[str, object] = {
        "transport": yahoo.request if yahoo else None,
        "max_requests_per_second": 0,
        "retry": RetryPolicy(attempts=3, base_delay=1.0),
        "today": lambda: TODAY,
        "sleep": (sleeps if sleeps is not None else []).append,
    }
    return YFinanceProvider(**(options | kwargs))  # type: ignore[arg-type]


@pytest.fixture
def apple(yahoo: FakeYahoo) -> FakeYahoo:
    """AAPL in early March 2024: a missing day, a null day, a bar without a close, a dividend
    and a 4-for-1 split."""
    bars = [
        Bar(date(2024, 3, 1), 100.0, 102.0, 99.0, 101.0, 1_000_000, adj_close=100.5),
        Bar(date(2024, 3, 4), 101.0, 103.0, 100.0, 102.0, 1_100_000, adj_close=101.5),
        # 2024-03-05 is missing altogether
        Bar(date(2024, 3, 6), None, None, None, None, None),
        Bar(date(2024, 3, 7), 102.0, 104.0, 101.0, None, 900_000),
        Bar(date(2024, 3, 8), 25.5, 26.0, 25.0, 25.75, 4_000_000, adj_close=25.6),
    ]
    yahoo.charts["AAPL"] = chart_payload(
        "AAPL",
        NEW_YORK,
        bars,
        dividends={date(2024, 3, 4): 0.24},
        splits={date(2024, 3, 8): (4, 1)},
    )
    return yahoo


def test_bars_come_from_yfinance_parsing_with_bad_rows_set_aside(apple: FakeYahoo) -> None:
    result = provider(apple).daily_bars(["AAPL"], *MARCH)

    frame = result.frame
    assert list(frame["date"]) == [
        pd.Timestamp(d) for d in ("2024-03-01", "2024-03-04", "2024-03-08")
    ]
    assert frame[["open", "high", "low", "close", "adj_close"]].to_numpy().tolist() == [
        [100.0, 102.0, 99.0, 101.0, 100.5],
        [101.0, 103.0, 100.0, 102.0, 101.5],
        [25.5, 26.0, 25.0, 25.75, 25.6],
    ]
    assert frame["volume"].tolist() == [1_000_000, 1_100_000, 4_000_000]
    assert frame["volume"].dtype == "Int64"
    assert frame["date"].dtype == "datetime64[ns]"
    [outcome] = result.outcomes
    assert (outcome.status, outcome.rows, outcome.reason) == (TickerStatus.OK, 3, "1 row rejected")
    assert result.rejected.drop(columns="raw").to_dict("records") == [
        {"ticker": "AAPL", "date": pd.Timestamp("2024-03-07"), "reason": "missing_close"}
    ]


def test_only_the_requested_range_is_downloaded(apple: FakeYahoo) -> None:
    provider(apple).daily_bars(["AAPL"], *MARCH)

    [params] = apple.chart_requests("AAPL")
    new_york = ZoneInfo("America/New_York")
    assert params["period1"] == int(datetime(2024, 3, 1, tzinfo=new_york).timestamp())
    assert params["period2"] == int(datetime(2024, 3, 9, tzinfo=new_york).timestamp())
    assert "range" not in params


def test_tokyo_bars_keep_their_local_trading_date(yahoo: FakeYahoo) -> None:
    bars = bars_between(date(2024, 3, 4), [3000.0, 3010.0, 3020.0])
    yahoo.charts["7203.T"] = chart_payload("7203.T", TOKYO, bars)
    first_stamp = yahoo.charts["7203.T"]["chart"]["result"][0]["timestamp"][0]
    assert datetime.fromtimestamp(first_stamp, UTC).date() == date(2024, 3, 3)  # UTC: day before

    result = provider(yahoo).daily_bars(["7203.T"], date(2024, 3, 4), date(2024, 3, 6))

    assert [d.date() for d in result.frame["date"]] == [
        date(2024, 3, 4),
        date(2024, 3, 5),
        date(2024, 3, 6),
    ]
    assert result.frame["close"].tolist() == [3000.0, 3010.0, 3020.0]


def test_unknown_symbols_are_reported_delisted(yahoo: FakeYahoo) -> None:
    """yfinance asks quoteSummary for the timezone of the first two unknown symbols of a process
    (a 404 there) and reports a missing timezone after that; both mean delisted. The third
    symbol here comes after those two whatever ran before it."""
    symbols = ["ZZZ1", "ZZZ2", "ZZZ3"]

    outcomes = [provider(yahoo).daily_bars([s], *MARCH).outcomes[0] for s in symbols]

    assert [o.status for o in outcomes] == [TickerStatus.DELISTED] * 3
    assert all(o.reason for o in outcomes)


def test_yahoo_saying_delisted_is_delisted(apple: FakeYahoo) -> None:
    """With the timezone cached from an earlier run, the chart endpoint's own 404 speaks."""
    apple.charts["GONE"] = apple.charts["AAPL"]
    provider(apple).daily_bars(["GONE"], *MARCH)
    del apple.charts["GONE"]
    YfData.cache_get.cache_clear()

    [outcome] = provider(apple).daily_bars(["GONE"], *MARCH).outcomes

    assert outcome.status is TickerStatus.DELISTED
    assert "may be delisted" in outcome.reason


def test_a_range_without_trading_is_no_data(apple: FakeYahoo) -> None:
    [outcome] = provider(apple).daily_bars(["AAPL"], date(2024, 3, 9), date(2024, 3, 10)).outcomes

    assert outcome.status is TickerStatus.NO_DATA


def test_rate_limited_ticker_is_retried_with_backoff(apple: FakeYahoo) -> None:
    apple.throttle("AAPL", 2)  # yfinance retries once itself, so this fails one attempt
    sleeps: list[float] = []

    result = provider(apple, sleeps).daily_bars(["AAPL"], *MARCH)

    assert result.outcomes[0].status is TickerStatus.OK
    assert result.outcomes[0].rows == 3
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_rate_limiting_that_persists_is_reported(apple: FakeYahoo) -> None:
    apple.throttle("AAPL", 1000)
    sleeps: list[float] = []

    [outcome] = provider(apple, sleeps).daily_bars(["AAPL"], *MARCH).outcomes

    assert outcome.status is TickerStatus.RATE_LIMITED
    assert "Too Many Requests" in outcome.reason
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_a_throttled_batch_stops_the_run(apple: FakeYahoo) -> None:
    apple.charts["MSFT"] = apple.charts["AAPL"]
    apple.throttle("AAPL", 1000)

    outcomes = provider(apple, batch_size=1).daily_bars(["AAPL", "MSFT"], *MARCH).outcomes

    assert [o.status for o in outcomes] == [TickerStatus.RATE_LIMITED] * 2
    assert outcomes[1].reason.startswith("skipped")
    assert not [url for url, _ in apple.requests if "MSFT" in url]


def test_every_request_waits_for_the_rate_limiter(
    apple: FakeYahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []
    monkeypatch.setattr(RateLimiter, "acquire", lambda self: waits.append(1))

    provider(apple, max_requests_per_second=1000).daily_bars(["AAPL"], *MARCH)

    assert len(waits) == len(apple.requests)
    assert len(apple.data_requests()) == 2  # the timezone, the history


@pytest.mark.parametrize(("ratio", "value"), [((4, 1), 4.0), ((1, 10), 0.1), ((3, 2), 1.5)])
def test_corporate_actions(apple: FakeYahoo, ratio: tuple[int, int], value: float) -> None:
    bars = bars_between(date(2024, 3, 1), [10.0, 10.0, 10.0])
    apple.charts["XYZ"] = chart_payload(
        "XYZ", NEW_YORK, bars, dividends={date(2024, 3, 1): 0.5}, splits={date(2024, 3, 5): ratio}
    )

    result = provider(apple).corporate_actions(["AAPL", "XYZ"], *MARCH)

    assert sorted(map(tuple, result.frame.to_numpy().tolist())) == [
        ("AAPL", pd.Timestamp("2024-03-04"), "dividend", 0.24),
        ("AAPL", pd.Timestamp("2024-03-08"), "split", 4.0),
        ("XYZ", pd.Timestamp("2024-03-01"), "dividend", 0.5),
        ("XYZ", pd.Timestamp("2024-03-05"), "split", value),
    ]
    assert [(o.status, o.rows) for o in result.outcomes] == [(TickerStatus.OK, 2)] * 2


@pytest.fixture
def quotes(yahoo: FakeYahoo) -> FakeYahoo:
    yahoo.quotes["AAPL"] = quote_summary(
        "AAPL", quoteType="EQUITY", exchange="NMS", longName="Apple Inc.", currency="USD",
        country="United States", sector="Technology", industry="Consumer Electronics",
        longBusinessSummary="Makes phones.", currentPrice=200.0, marketCap=3.0e12,
        volume=50_000_000, averageVolume=55_000_000, trailingPE=31.5,
        priceToSalesTrailing12Months=8.1, priceToBook=45.2, enterpriseToEbitda=24.3,
        dividendYield=0.5, dividendRate=1.0, fiftyTwoWeekHigh=237.2, fiftyTwoWeekLow=164.1,
    )  # fmt: skip
    yahoo.quotes["7203.T"] = quote_summary(
        "7203.T", quoteType="EQUITY", exchange="JPX", longName="Toyota Motor Corporation",
        currency="JPY", regularMarketPrice=2800.0, dividendYield=0.028,
        trailingAnnualDividendYield=0.027,
    )  # fmt: skip
    yahoo.quotes["SPY"] = quote_summary(
        "SPY", quoteType="ETF", exchange="PCX", shortName="SPDR S&P 500", currency="USD"
    )
    yahoo.quotes["^GSPC"] = quote_summary(
        "^GSPC", quoteType="INDEX", exchange="SNP", shortName="S&P 500"
    )
    yahoo.quotes["EURUSD=X"] = quote_summary("EURUSD=X", quoteType="CURRENCY", shortName="EUR/USD")
    return yahoo


def test_securities_from_info(quotes: FakeYahoo) -> None:
    result = provider(quotes).securities(["AAPL", "SPY", "^GSPC", "7203.T", "EURUSD=X", "ZZZZ"])

    rows = result.frame.set_index("ticker")
    assert rows.loc["AAPL"].to_dict() == {
        "name": "Apple Inc.", "security_type": "equity", "exchange": "NASDAQ", "currency": "USD",
        "country": "United States", "sector": "Technology", "industry": "Consumer Electronics",
        "description": "Makes phones.",
    }  # fmt: skip
    assert (rows.loc["SPY", "security_type"], rows.loc["SPY", "exchange"]) == ("etf", "NYSEARCA")
    assert rows.loc["SPY", "name"] == "SPDR S&P 500"
    assert rows.loc["^GSPC", "security_type"] == "index" and pd.isna(rows.loc["^GSPC", "exchange"])
    assert rows.loc["7203.T", "exchange"] == "TSE"
    statuses = {o.ticker: o.status for o in result.outcomes}
    assert statuses == {
        "AAPL": TickerStatus.OK, "SPY": TickerStatus.OK, "^GSPC": TickerStatus.OK,
        "7203.T": TickerStatus.OK, "EURUSD=X": TickerStatus.ERROR, "ZZZZ": TickerStatus.DELISTED,
    }  # fmt: skip
    assert "CURRENCY" in result.by_ticker()["EURUSD=X"].reason


def test_fundamentals_from_info(quotes: FakeYahoo) -> None:
    result = provider(quotes).fundamentals(["AAPL", "7203.T", "ZZZZ"])

    apple = result.frame.set_index("ticker").loc["AAPL"]
    assert apple["as_of"] == pd.Timestamp(TODAY)
    assert apple.drop("as_of").to_dict() == pytest.approx(
        {
            "current_price": 200.0,
            "market_cap": 3.0e12,
            "volume": 5.0e7,
            "avg_volume": 5.5e7,
            "pe_ratio": 31.5,
            "ps_ratio": 8.1,
            "pb_ratio": 45.2,
            "ev_ebitda": 24.3,
            "dividend_yield": 0.005,
            "fifty_two_week_high": 237.2,
            "fifty_two_week_low": 164.1,
        }
    )
    toyota = result.frame.set_index("ticker").loc["7203.T"]
    assert toyota["current_price"] == 2800.0
    assert toyota["dividend_yield"] == pytest.approx(0.028)
    assert pd.isna(toyota["pe_ratio"])
    assert result.by_ticker()["ZZZZ"].status is TickerStatus.DELISTED


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"dividendYield": 0.45, "dividendRate": 0.9, "currentPrice": 200.0}, 0.0045),
        ({"dividendYield": 0.0045, "dividendRate": 0.9, "currentPrice": 200.0}, 0.0045),
        ({"dividendYield": 7.5, "trailingAnnualDividendYield": 0.07}, 0.075),
        ({"dividendYield": 0.075, "trailingAnnualDividendYield": 0.07}, 0.075),
        ({"dividendYield": 0.45}, 0.0045),
        ({"dividendRate": 1.0, "regularMarketPrice": 50.0}, 0.02),
        ({"dividendYield": 0, "dividendRate": 1.0, "currentPrice": 50.0}, 0.0),
        ({"trailingPE": 20.0}, None),
    ],
)
def test_dividend_yield_becomes_a_fraction(info: dict[str, float], expected: float | None) -> None:
    assert dividend_yield_fraction(info) == pytest.approx(expected)


def test_only_pandas4_warnings_from_yfinance_are_silenced() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_pandas4_warnings("yfinance")
        for category, module in [
            (pd.errors.Pandas4Warning, "yfinance.utils"),
            (DeprecationWarning, "yfinance.utils"),
            (pd.errors.Pandas4Warning, "rm_pipeline.providers.synthetic"),
        ]:
            warnings.warn_explicit("deprecated", category, "x.py", 1, module=module)

    assert [(w.category, w.filename) for w in caught] == [
        (DeprecationWarning, "x.py"),
        (pd.errors.Pandas4Warning, "x.py"),
    ]


def test_end_is_inclusive_and_future_bars_are_rejected(yahoo: FakeYahoo) -> None:
    days = [TODAY - timedelta(days=3), TODAY, TODAY + timedelta(days=1)]
    bars = [Bar(d, 10.0, 11.0, 9.0, 10.5, 100) for d in days]
    yahoo.charts["AAPL"] = chart_payload("AAPL", NEW_YORK, bars)

    result = provider(yahoo).daily_bars(
        ["AAPL"], TODAY - timedelta(days=3), TODAY + timedelta(days=5)
    )

    assert [d.date() for d in result.frame["date"]] == days[:2]
    assert result.rejected["reason"].tolist() == ["future_date"]


def test_without_the_fake_yahoo_nothing_reaches_the_network(
    yfinance_state: None, no_network: list[str]
) -> None:
    with pytest.raises(ProviderUnreachableError, match="tests must not reach the network"):
        provider(None).daily_bars(["AAPL"], *MARCH)

    assert any("yahoo.com" in attempt for attempt in no_network)
    no_network.clear()  # the attempts were the point of this test


def disk_cache(directory: Path, clock: Callable[[], float] = time.time) -> ResponseCache:
    return ResponseCache(directory, timedelta(hours=4), 10**7, clock)


def new_process(yahoo: FakeYahoo) -> None:
    """Forget what yfinance keeps in memory, as a new process on another machine would: its
    response memo (which answers repeated requests for past ranges) and the timezones it has
    learned."""
    YfData.cache_get.cache_clear()
    forget_timezones(yahoo)


def test_bars_and_actions_share_one_download_per_ticker(apple: FakeYahoo) -> None:
    apple.charts["XYZ"] = chart_payload(
        "XYZ", NEW_YORK, bars_between(date(2024, 2, 20), [10.0] * 14), dividends={MARCH[0]: 0.5}
    )
    tickers = ["AAPL", "XYZ"]
    anchor = MARCH[0] - timedelta(days=10)
    yfinance = provider(apple)

    bars = yfinance.daily_bars(tickers, anchor, MARCH[1])
    actions = yfinance.corporate_actions(tickers, *MARCH)

    assert [len(apple.chart_requests(t)) for t in tickers] == [1, 1]
    assert bars.frame.groupby("ticker").size().to_dict() == {"AAPL": 3, "XYZ": 14}
    downloaded_alone = provider(apple).corporate_actions(tickers, *MARCH)
    pd.testing.assert_frame_equal(actions.frame, downloaded_alone.frame)
    assert actions.outcomes == downloaded_alone.outcomes
    assert len(actions.frame) == 3


def test_a_range_the_kept_histories_do_not_cover_is_downloaded(apple: FakeYahoo) -> None:
    yfinance = provider(apple)
    yfinance.daily_bars(["AAPL"], date(2024, 3, 4), date(2024, 3, 10))

    wider = yfinance.corporate_actions(["AAPL"], *MARCH)
    without_trading = yfinance.daily_bars(["AAPL"], date(2024, 3, 9), date(2024, 3, 10))

    assert len(apple.chart_requests("AAPL")) == 3
    assert len(wider.frame) == 2
    assert without_trading.outcomes[0].status is TickerStatus.NO_DATA


def test_a_retried_run_is_served_from_the_disk_cache(
    apple: FakeYahoo, quotes: FakeYahoo, tmp_path: Path
) -> None:
    first_bars = provider(apple, cache=disk_cache(tmp_path)).daily_bars(["AAPL"], *MARCH)
    first_fundamentals = provider(apple, cache=disk_cache(tmp_path)).fundamentals(["AAPL"])
    downloads = len(apple.data_requests())
    new_process(apple)

    retried = provider(apple, cache=disk_cache(tmp_path))
    bars = retried.daily_bars(["AAPL"], *MARCH)
    fundamentals = retried.fundamentals(["AAPL"])

    assert downloads >= 3  # the timezone, the history, the quote summary
    assert len(apple.data_requests()) == downloads
    pd.testing.assert_frame_equal(bars.frame, first_bars.frame)
    pd.testing.assert_frame_equal(fundamentals.frame, first_fundamentals.frame)


def test_expired_answers_are_downloaded_again(apple: FakeYahoo, tmp_path: Path) -> None:
    clock = [1_700_000_000.0]
    provider(apple, cache=disk_cache(tmp_path, lambda: clock[0])).daily_bars(["AAPL"], *MARCH)
    clock[0] += 4 * 3600 + 1
    new_process(apple)

    result = provider(apple, cache=disk_cache(tmp_path, lambda: clock[0])).daily_bars(
        ["AAPL"], *MARCH
    )

    assert len(apple.chart_requests("AAPL")) == 2
    assert result.outcomes[0].rows == 3


def test_rate_limited_answers_are_not_cached(apple: FakeYahoo, tmp_path: Path) -> None:
    apple.throttle("AAPL", 1000)
    [throttled] = provider(apple, cache=disk_cache(tmp_path)).daily_bars(["AAPL"], *MARCH).outcomes
    apple.throttled.clear()
    new_process(apple)

    [retried] = provider(apple, cache=disk_cache(tmp_path)).daily_bars(["AAPL"], *MARCH).outcomes

    assert throttled.status is TickerStatus.RATE_LIMITED
    assert (retried.status, retried.rows) == (TickerStatus.OK, 3)


def test_not_found_answers_are_not_cached(apple: FakeYahoo, tmp_path: Path) -> None:
    [unknown] = provider(apple, cache=disk_cache(tmp_path)).daily_bars(["NEW"], *MARCH).outcomes
    apple.charts["NEW"] = apple.charts["AAPL"]
    YfData.cache_get.cache_clear()

    [listed] = provider(apple, cache=disk_cache(tmp_path)).daily_bars(["NEW"], *MARCH).outcomes

    assert unknown.status is TickerStatus.DELISTED
    assert (listed.status, listed.rows) == (TickerStatus.OK, 3)


@pytest.mark.parametrize(
    ("method", "url", "cached"),
    [
        ("GET", "https://query2.finance.yahoo.com/v8/finance/chart/AAPL", True),
        ("GET", "https://query2.finance.yahoo.com/v10/finance/quoteSummary/AAPL", True),
        ("GET", "https://query1.finance.yahoo.com/v7/finance/quote?", True),
        ("GET", "https://query1.finance.yahoo.com/v1/test/getcrumb", False),
        ("GET", "https://fc.yahoo.com", False),
        ("GET", "https://guce.yahoo.com/consent", False),
        ("POST", "https://query2.finance.yahoo.com/v8/finance/chart/AAPL", False),
    ],
)
def test_only_yahoo_data_endpoints_are_cached(method: str, url: str, cached: bool) -> None:
    assert is_cached_request(method, url, {"symbols": "AAPL"}) is cached


def test_two_providers_wait_for_one_limiter(
    apple: FakeYahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock stands still, so every request after the first waits one more interval."""
    waits: list[float] = []
    monkeypatch.setattr(ratelimit, "process_limiters", LimiterRegistry(lambda: 0.0, waits.append))
    apple.charts["MSFT"] = apple.charts["AAPL"]

    provider(apple, max_requests_per_second=2).daily_bars(["AAPL"], *MARCH)
    provider(apple, max_requests_per_second=2).daily_bars(["MSFT"], *MARCH)

    assert len(apple.data_requests()) == 4  # each: the timezone, then the history
    assert waits == [0.5 * n for n in range(1, len(apple.requests))]  # the cookie's too


def test_the_settings_place_and_size_the_cache(yfinance_state: None, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, yfinance_cache_ttl_minutes=90, yfinance_cache_max_mb=2)

    cache = YFinanceProvider.from_settings(settings).cache
    disabled = settings.model_copy(update={"yfinance_cache_ttl_minutes": 0})

    assert cache is not None
    assert (cache.directory, cache.ttl) == (
        tmp_path.resolve() / "yfinance-cache",
        timedelta(minutes=90),
    )
    assert cache.max_bytes == 2 * 1024 * 1024
    assert YFinanceProvider.from_settings(disabled).cache is None


@pytest.fixture
def euro(yahoo: FakeYahoo) -> FakeYahoo:
    """EURUSD=X in early March 2024, stamped at London midnight as Yahoo sends currency pairs."""
    bars = bars_between(date(2024, 3, 1), [1.0841, 1.0855, 1.0849, 1.0901, 1.0948, 1.0937])
    yahoo.charts["EURUSD=X"] = chart_payload(
        "EURUSD=X", CURRENCIES, bars, instrument_type="CURRENCY"
    )
    return yahoo


def test_fx_rates_are_the_pairs_closes_at_their_london_dates(euro: FakeYahoo) -> None:
    result = provider(euro).fx_rates(["EUR", "CHF"], *MARCH)

    assert result.frame.to_dict("list") == {
        "base_currency": ["EUR"] * 6,
        "quote_currency": ["USD"] * 6,
        "date": [pd.Timestamp(d) for d in ("2024-03-01", "2024-03-04", "2024-03-05",
                                           "2024-03-06", "2024-03-07", "2024-03-08")],
        "rate": [1.0841, 1.0855, 1.0849, 1.0901, 1.0948, 1.0937],
    }  # fmt: skip
    assert [(o.ticker, o.status, o.rows) for o in result.outcomes] == [
        ("EURUSD=X", TickerStatus.OK, 6),
        ("CHFUSD=X", TickerStatus.DELISTED, 0),  # a failing pair costs only itself
    ]
    assert len(euro.chart_requests("EURUSD=X")) == 1


def test_a_pair_is_downloaded_once_and_retried_when_rate_limited(euro: FakeYahoo) -> None:
    euro.throttle("EURUSD=X", 2)  # yfinance retries once itself, so this fails one attempt
    sleeps: list[float] = []
    yfinance = provider(euro, sleeps)

    first = yfinance.fx_rates(["EUR"], *MARCH)
    again = yfinance.fx_rates(["EUR"], date(2024, 3, 4), date(2024, 3, 6))

    assert first.outcomes[0].rows == 6 and again.outcomes[0].rows == 3
    assert len(euro.chart_requests("EURUSD=X")) == 1  # the second range came from the memo
    assert len(sleeps) == 1


def test_pair_downloads_wait_for_the_rate_limiter_and_use_the_disk_cache(
    euro: FakeYahoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []
    monkeypatch.setattr(RateLimiter, "acquire", lambda self: waits.append(1))
    first = provider(euro, cache=disk_cache(tmp_path)).fx_rates(["EUR"], *MARCH)
    downloads = len(euro.data_requests())
    new_process(euro)

    retried = provider(euro, cache=disk_cache(tmp_path)).fx_rates(["EUR"], *MARCH)

    assert downloads >= 2  # the timezone, the history
    assert len(euro.data_requests()) == downloads
    assert len(waits) == len(euro.requests)  # the cookie fetches wait too; cached answers do not
    pd.testing.assert_frame_equal(retried.frame, first.frame)
