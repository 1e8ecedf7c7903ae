"""Yahoo Finance through yfinance: daily bars, corporate actions, reference data, fundamentals,
exchange rates (Yahoo's pair tickers, `EURUSD=X`: their Close is the rate).

Each ticker is fetched with its own `Ticker.history` / `Ticker.info` call on a small thread
pool, in batches. yfinance is asked to raise instead of logging (`hide_exceptions = False`), so
every ticker's failure arrives as a typed exception and becomes that ticker's outcome; a
bulk `yf.download` would swallow those errors. Rate-limited tickers are retried with exponential
backoff and jitter.

A ticker that fails to connect may be the first sign of an outage: one plain request to Yahoo
(`_YahooProbe`) tells which, and an outage ends the call at once with
`ProviderUnreachableError` instead of failing every ticker after its own timeouts.

One history serves both bars and actions: the provider remembers the histories it downloaded
and serves any request whose range one of them covers. Every HTTP request yfinance makes goes
through `_YahooSession`: Yahoo's data answers are reused from the on-disk `ResponseCache` while
fresh (a retried run downloads nothing again), and everything else waits for the process-wide
rate limiter of the configured rate (`ratelimit.process_limiters`), shared by every instance.

yfinance's own price repair stays off (`repair=False`): bars are repaired after validation by
`ingest/repair.py`, the same for every provider, which records each repair and keeps the values
Yahoo sent. Measured offline by `bench/yfinance_repair.py` (yfinance 1.7.0, one ticker, two years
of daily bars, its timezone cached): `repair=True` imports scipy and scikit-learn, which the
project does not install (about 200 MB), so every fetch would fail with ModuleNotFoundError. With
them, a history holding nine sessions quoted at 1/100 (pounds for pence) costs one request, as
without repair (so do a single such session and a 5-for-1 split whose drop comes a session early
with the history before it unadjusted), and yfinance mends those bars as `repair_bars` does. But
three sessions without volume cost three requests instead of one (hourly re-fetches, one of them
seven months of hourly bars, possible for the last 730 days only), a fetch takes 3 to 7 times as
long with no network in the way (about 20 times with the re-fetches), and the repaired bars carry
no trace of what Yahoo sent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, timedelta
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlsplit

import pandas as pd
import yfinance as yf
from curl_cffi import requests as curl_requests
from curl_cffi.requests import exceptions as curl_errors
from curl_cffi.requests.exceptions import HTTPError
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from rm_pipeline.providers import ratelimit
from rm_pipeline.providers.base import (
    ProviderResult,
    ProviderUnreachableError,
    TickerOutcome,
    TickerStatus,
)
from rm_pipeline.providers.deprecations import silence_pandas4_warnings
from rm_pipeline.providers.frames import (
    CorporateActionFrame,
    DailyBarFrame,
    FundamentalsFrame,
    SecurityFrame,
    columns,
    concat_frames,
)
from rm_pipeline.providers.fx import concat_raw_rates, raw_rates, start_fx_outcomes
from rm_pipeline.providers.http_cache import ResponseCache
from rm_pipeline.providers.ratelimit import RateLimiter, RetryPolicy, with_retries
from rm_pipeline.providers.universe import default_tickers
from rm_pipeline.providers.validation import (
    actions_result,
    bars_result,
    frame_result,
    fx_result,
    start_outcomes,
)
from rm_pipeline.settings import Settings

log = logging.getLogger(__name__)


# yfinance's package init turns its DeprecationWarnings on; its pandas ones are not ours to see.
silence_pandas4_warnings("yfinance")

T = TypeVar("T")

SECURITY_TYPES: Final[dict[str, str]] = {
    "EQUITY": "equity",
    "ETF": "etf",
    "MUTUALFUND": "etf",
    "MONEYMARKET": "etf",
    "INDEX": "index",
    "CRYPTOCURRENCY": "crypto",
    "FUTURE": "future",
    "OPTION": "option",
    "BOND": "bond",
}
"""Yahoo quoteType -> security_type; funds are stored as etf (the warehouse has no fund type)."""

EXCHANGES: Final[dict[str, str]] = {
    "NMS": "NASDAQ",
    "NGM": "NASDAQ",
    "NCM": "NASDAQ",
    "NAS": "NASDAQ",
    "NYQ": "NYSE",
    "NYS": "NYSE",
    "PCX": "NYSEARCA",
    "ASE": "NYSEAMERICAN",
    "BTS": "CBOE",
    "LSE": "LSE",
    "IOB": "LSE",
    "JPX": "TSE",
    "TYO": "TSE",
    "GER": "XETRA",
    "ETR": "XETRA",
    "FRA": "FRA",
    "TOR": "TSX",
    "VAN": "TSXV",
    "PAR": "EURONEXT",
    "AMS": "EURONEXT",
    "BRU": "EURONEXT",
    "LIS": "EURONEXT",
    "EBS": "SIX",
    "HKG": "HKEX",
    "ASX": "ASX",
}
"""Yahoo exchange code -> the short code stored; unknown codes are stored as Yahoo gives them."""

_TYPES_WITHOUT_EXCHANGE: Final = frozenset({"index", "crypto"})


class UnsupportedQuoteTypeError(ValueError):
    """Yahoo describes the symbol as something the warehouse cannot store (e.g. a currency)."""


_CACHED_PATHS: Final = (
    "/v8/finance/chart/",
    "/v10/finance/quoteSummary/",
    "/v7/finance/quote",
    "/ws/fundamentals-timeseries/",
)
"""Yahoo's data endpoints: the only answers cached (never the cookie, consent or crumb pages)."""


class Transport(Protocol):
    """Sends one request to Yahoo and returns its answer, as `curl_cffi.requests.Session.request`
    does; yfinance passes everything after the method and the URL by keyword."""

    def __call__(self, method: str, url: str, **kwargs: Any) -> curl_requests.Response: ...


class _YahooSession(curl_requests.Session):
    """yfinance's usual browser-impersonating session, with a response cache and a rate limit.

    A data request answered by the cache reaches neither Yahoo nor the limiter; every other
    request waits for the limiter, and a data answer is offered to the cache. Requests go out
    through curl_cffi, or through `transport` when one is given (a fake Yahoo in tests): the
    session yfinance holds, its cookies, cache and limiter stay the same either way.
    """

    def __init__(
        self, limiter: RateLimiter, cache: ResponseCache | None, transport: Transport | None
    ) -> None:
        super().__init__(impersonate="chrome")
        self._limiter = limiter
        self._responses = cache  # not `_cache`: curl_cffi's own (unbounded, keeps cookies)
        self._transport = transport

    def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        params = kwargs.get("params")
        cache = self._responses if not args and is_cached_request(method, url, params) else None
        if cache and (cached := cache.lookup(method, url, params)) is not None:
            return cached
        self._limiter.acquire()
        if self._transport is None:
            response = super().request(method, url, *args, **kwargs)
        else:
            response = self._transport(method, url, *args, **kwargs)
        if cache:
            cache.store(method, url, params, response)
        return response


CONNECTION_FAILURES: Final = (
    curl_errors.ConnectionError,  # refused, reset, no answer; DNSError and SSLError among them
    curl_errors.ProxyError,
    curl_errors.Timeout,
    ConnectionError,
    TimeoutError,
)
"""Failures to reach Yahoo at all. yfinance passes curl_cffi's on unwrapped; Python's own are
there for anything that reaches the network through its sockets."""

PROBE_URL: Final = "https://query2.finance.yahoo.com/"
PROBE_TIMEOUT: Final = 10.0
PROBE_INTERVAL: Final = 60.0
"""Seconds a probe Yahoo answered vouches for it: a healthy Yahoo with one flaky ticker in each
batch costs a probe a minute, not a probe a batch."""


class _YahooProbe:
    """Tells an outage from one ticker's failure to connect: one plain GET of a Yahoo host.

    Any HTTP answer, even a 404 or a 429 (a rate-limited Yahoo is up), means Yahoo is
    reachable; only a failure to connect means it is not.
    """

    def __init__(self, provider: str, session: curl_requests.Session) -> None:
        self._provider = provider
        self._session = session
        self._answered_at = -math.inf
        self._lock = threading.Lock()

    def confirm_reachable(self) -> None:
        """Return if Yahoo answered within PROBE_INTERVAL or answers now; otherwise raise
        ProviderUnreachableError naming the probe's failure."""
        with self._lock:
            if time.monotonic() - self._answered_at < PROBE_INTERVAL:
                return
            try:
                self._session.get(PROBE_URL, timeout=PROBE_TIMEOUT)
            except CONNECTION_FAILURES as error:
                reason = describe_failure(error)
                raise ProviderUnreachableError(self._provider, "Yahoo Finance", reason) from error
            except curl_errors.RequestException as error:  # reached, answered oddly: no outage
                log.warning("%s: Yahoo answered the probe oddly: %s", self._provider, error)
            self._answered_at = time.monotonic()


def describe_failure(error: BaseException) -> str:
    """The failure on one line, in curl's words without its pointer to curl's documentation:
    `curl: (7) Failed to connect to query2.finance.yahoo.com port 443 ...`."""
    text = " ".join(str(error).split()).removeprefix("Failed to perform, ")
    return text.split(" See https://curl.se/", 1)[0] or type(error).__name__


def is_cached_request(method: object, url: str, params: object) -> bool:
    """Whether the answer may come from, and go to, the response cache: a GET of one of Yahoo's
    data endpoints, its parameters a mapping (as yfinance asks)."""
    return (
        str(method).upper() == "GET"
        and urlsplit(url).path.startswith(_CACHED_PATHS)
        and (params is None or isinstance(params, Mapping))
    )


class YFinanceProvider:
    """Market data from Yahoo Finance."""

    name = "yfinance"

    def __init__(
        self,
        *,
        batch_size: int = 50,
        threads: int = 4,
        max_requests_per_second: float = 2.0,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        today: Callable[[], date] = date.today,
        sleep: Callable[[float], None] = time.sleep,
        cache: ResponseCache | None = None,
        remembered_histories: int = 100,
        transport: Transport | None = None,
    ) -> None:
        """`transport` carries the requests to Yahoo; None (the default) is the network, through
        curl_cffi."""
        yf.config.debug.hide_exceptions = False  # process-wide: typed errors, not log lines
        self.batch_size = max(1, batch_size)
        self.threads = max(1, threads)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.cache = cache
        self._today = today
        self._sleep = sleep
        limiter = ratelimit.process_limiters.limiter(max_requests_per_second)
        self._session = _YahooSession(limiter, cache, transport)
        self._probe = _YahooProbe(self.name, self._session)
        self._memo = _HistoryMemo(remembered_histories)

    @classmethod
    def from_settings(cls, settings: Settings) -> YFinanceProvider:
        """The provider the settings describe; the memo holds two load batches' histories, so
        a batch's actions never miss the histories its bars were downloaded with."""
        return cls(
            batch_size=settings.yfinance_batch_size,
            threads=settings.yfinance_threads,
            max_requests_per_second=settings.yfinance_max_requests_per_second,
            cache=response_cache(settings),
            remembered_histories=2 * settings.ingest_batch_size,
        )

    def securities(self, tickers: Sequence[str] | None = None) -> ProviderResult:
        """Reference data from `Ticker.info`; None means the built-in default universe."""
        valid, invalid = start_outcomes(default_tickers() if tickers is None else tickers)
        rows, outcomes = self._from_info(valid, security_from_info)
        raw = pd.DataFrame(rows, columns=columns(SecurityFrame))
        return frame_result(SecurityFrame, raw, outcomes + invalid)

    def fundamentals(self, tickers: Sequence[str]) -> ProviderResult:
        """A snapshot from `Ticker.info`, dated today."""
        valid, invalid = start_outcomes(tickers)
        as_of = self._today()
        rows, outcomes = self._from_info(valid, lambda t, i: fundamentals_from_info(t, i, as_of))
        raw = pd.DataFrame(rows, columns=columns(FundamentalsFrame))
        return frame_result(FundamentalsFrame, raw, outcomes + invalid)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        """Bars for exactly [start, end] (never the whole history), as traded, split-adjusted."""
        valid, invalid = start_outcomes(tickers)
        histories, outcomes = self._histories(valid, start, end)
        raw = concat_frames([bars_from_history(t, h) for t, h in histories.items()], DailyBarFrame)
        return bars_result(raw, outcomes + invalid, start, end, self._today())

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        """Splits and dividends from the history's `Stock Splits` and `Dividends` columns."""
        valid, invalid = start_outcomes(tickers)
        histories, outcomes = self._histories(valid, start, end)
        raw = concat_frames(
            [actions_from_history(t, h) for t, h in histories.items()], CorporateActionFrame
        )
        return actions_result(raw, outcomes + invalid, start, end, self._today())

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        """Each pair's history (`EURUSD=X`), downloaded like a ticker's bars; the rate is its
        Close."""
        pairs, invalid = start_fx_outcomes(currencies)
        histories, outcomes = self._histories(pairs, start, end)
        raw = concat_raw_rates([rates_from_history(p, h) for p, h in histories.items()])
        return fx_result(raw, outcomes + invalid, start, end, self._today())

    def _histories(
        self, tickers: list[str], start: date, end: date
    ) -> tuple[dict[str, pd.DataFrame], list[TickerOutcome]]:
        if start > end:
            return {}, [TickerOutcome(t, TickerStatus.NO_DATA, "empty date range") for t in tickers]

        remembered = {t: h for t in tickers if (h := self._memo.get(t, start, end)) is not None}

        def history(ticker: str) -> pd.DataFrame:
            return yf.Ticker(ticker, session=self._session).history(
                start=start,
                end=end + timedelta(days=1),  # yfinance's end is exclusive
                interval="1d",
                auto_adjust=False,
                actions=True,
                repair=False,
                keepna=False,
                timeout=self.timeout,
            )

        fetched = self._fetch_all([t for t in tickers if t not in remembered], history)
        for ticker, result in fetched.items():
            if isinstance(result, pd.DataFrame):
                self._memo.put(ticker, start, end, result)
        results = {**remembered, **fetched}
        frames = {t: r for t in tickers if isinstance(r := results[t], pd.DataFrame)}
        return frames, [_outcome(t, results[t]) for t in tickers]

    def _from_info(
        self, tickers: list[str], convert: Callable[[str, Mapping[str, Any]], dict[str, object]]
    ) -> tuple[list[dict[str, object]], list[TickerOutcome]]:
        fetched = self._fetch_all(tickers, lambda t: yf.Ticker(t, session=self._session).info)
        rows, outcomes = [], []
        for ticker in tickers:
            outcome, row = _convert_info(ticker, fetched[ticker], convert)
            outcomes.append(outcome)
            rows += [row] if row else []
        return rows, outcomes

    def _fetch_all(self, tickers: list[str], fetch: Callable[[str], T]) -> dict[str, T | Exception]:
        """Fetch every ticker, `threads` at a time, batch by batch.

        When a whole batch is still rate limited after its retries, the remaining tickers are
        not attempted: Yahoo has throttled this client and more requests only prolong that.

        The first fetch of the call that fails to connect has Yahoo probed (`_YahooProbe`).
        When the probe cannot connect either, the call raises ProviderUnreachableError at once:
        tickers not started are dropped, and fetches under way finish in the background (each
        within its timeout) unheard. When it can, the failure is that ticker's alone.
        """
        results: dict[str, T | Exception] = {}
        probe_pending = True
        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="yfinance")
        try:
            for first in range(0, len(tickers), self.batch_size):
                batch = tickers[first : first + self.batch_size]
                futures = {pool.submit(self._fetch_one, fetch, t): t for t in batch}
                for future in as_completed(futures):
                    result = results[futures[future]] = future.result()
                    if probe_pending and isinstance(result, CONNECTION_FAILURES):
                        probe_pending = False
                        self._probe.confirm_reachable()
                log.info("yfinance: fetched %d of %d tickers", len(results), len(tickers))
                if all(isinstance(results[t], YFRateLimitError) for t in batch):
                    skipped = tickers[first + len(batch) :]
                    results |= {
                        t: SkippedError("skipped: Yahoo kept rate limiting the previous batch")
                        for t in skipped
                    }
                    break
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _fetch_one(self, fetch: Callable[[str], T], ticker: str) -> T | Exception:
        try:
            return with_retries(lambda: fetch(ticker), YFRateLimitError, self.retry, self._sleep)
        except Exception as err:  # every failure becomes the ticker's outcome
            return err


def response_cache(settings: Settings) -> ResponseCache | None:
    """The response cache under `<data_dir>/yfinance-cache`; None when its TTL is zero."""
    if settings.yfinance_cache_ttl_minutes <= 0:
        return None
    return ResponseCache(
        settings.data_dir.resolve() / "yfinance-cache",
        ttl=timedelta(minutes=settings.yfinance_cache_ttl_minutes),
        max_bytes=int(settings.yfinance_cache_max_mb * 1024 * 1024),
    )


class _HistoryMemo:
    """The last `capacity` histories downloaded, least recently used out first.

    A request is served by any kept history of the ticker whose range covers it, cut down to
    the request: the price load asks for bars from ten days before its window and for the
    window's actions, and both come from the one download. A cut with no rows at all is a miss,
    so that a range without trading gets Yahoo's own answer (`no_data`).
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._histories: OrderedDict[tuple[str, date, date], pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ticker: str, start: date, end: date) -> pd.DataFrame | None:
        with self._lock:
            for (kept, first, last), history in reversed(self._histories.items()):
                if kept == ticker and first <= start and end <= last:
                    self._histories.move_to_end((kept, first, last))
                    dates = _local_dates(history.index)
                    cut = history[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]
                    return cut if len(cut) else None
        return None

    def put(self, ticker: str, start: date, end: date, history: pd.DataFrame) -> None:
        with self._lock:
            self._histories[ticker, start, end] = history
            self._histories.move_to_end((ticker, start, end))
            while len(self._histories) > self._capacity:
                self._histories.popitem(last=False)


class SkippedError(Exception):
    """A ticker not attempted because Yahoo kept rate limiting the whole previous batch."""


def _convert_info(
    ticker: str,
    fetched: object,
    convert: Callable[[str, Mapping[str, Any]], dict[str, object]],
) -> tuple[TickerOutcome, dict[str, object] | None]:
    if not isinstance(fetched, Mapping):
        return _outcome(ticker, fetched), None
    if not fetched.get("quoteType"):
        return TickerOutcome(ticker, TickerStatus.NO_DATA, "Yahoo has no quote for it"), None
    try:
        return TickerOutcome(ticker, TickerStatus.OK), convert(ticker, fetched)
    except UnsupportedQuoteTypeError as err:
        return TickerOutcome(ticker, TickerStatus.ERROR, str(err)), None


def _outcome(ticker: str, fetched: object) -> TickerOutcome:
    """The outcome of one ticker's fetch: `ok` for data, otherwise classified from the error."""
    if not isinstance(fetched, Exception):
        return TickerOutcome(ticker, TickerStatus.OK)
    reason = str(fetched).removeprefix(f"${ticker}: ")
    if isinstance(fetched, YFRateLimitError | SkippedError):
        return TickerOutcome(ticker, TickerStatus.RATE_LIMITED, reason)
    if isinstance(fetched, YFTzMissingError):
        return TickerOutcome(ticker, TickerStatus.DELISTED, reason)
    if _is_not_found(fetched):
        return TickerOutcome(ticker, TickerStatus.DELISTED, f"unknown to Yahoo ({reason})")
    if isinstance(fetched, YFPricesMissingError):
        delisted = "delisted" in (fetched.yahoo_reason or "").lower()
        return TickerOutcome(
            ticker, TickerStatus.DELISTED if delisted else TickerStatus.NO_DATA, reason
        )
    return TickerOutcome(ticker, TickerStatus.ERROR, f"{type(fetched).__name__}: {reason}")


def _is_not_found(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return isinstance(error, HTTPError) and getattr(response, "status_code", None) == 404


def _local_dates(index: pd.Index) -> pd.DatetimeIndex:
    """Trading dates from Yahoo's timestamps: the exchange-local calendar date.

    The index is tz-aware in the exchange's timezone; dropping the zone keeps the local wall
    time, so Tokyo's midnight stays on its own date instead of moving to the previous UTC day.
    """
    stamps = pd.DatetimeIndex(index)
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    return stamps.normalize().as_unit("ns")


def bars_from_history(ticker: str, history: pd.DataFrame) -> pd.DataFrame:
    """DailyBarFrame columns from a `Ticker.history(auto_adjust=False)` frame.

    Rows without any price are rows yfinance added only to carry a dividend or split; they are
    left to the actions and are not bars.
    """
    prices = history.reindex(columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"])
    prices = prices[prices[["Open", "High", "Low", "Close"]].notna().any(axis=1)]
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": _local_dates(prices.index),
            "open": prices["Open"].to_numpy(),
            "high": prices["High"].to_numpy(),
            "low": prices["Low"].to_numpy(),
            "close": prices["Close"].to_numpy(),
            "adj_close": prices["Adj Close"].to_numpy(),
            "volume": prices["Volume"].to_numpy(),
        },
        columns=columns(DailyBarFrame),
    )


def rates_from_history(pair: str, history: pd.DataFrame) -> pd.DataFrame:
    """Raw rates (FX_RAW_COLUMNS) from a pair's `Ticker.history`: its Close, dated at the local
    calendar date of Yahoo's stamp."""
    close = history.get("Close", pd.Series(dtype=float))
    return raw_rates(pair, _local_dates(close.index), close.to_numpy(float))


def actions_from_history(ticker: str, history: pd.DataFrame) -> pd.DataFrame:
    """CorporateActionFrame rows from the history's non-zero `Stock Splits` and `Dividends`."""
    parts = []
    for column, action in (("Stock Splits", "split"), ("Dividends", "dividend")):
        values = history.get(column, pd.Series(dtype=float))
        values = values[values.fillna(0) != 0]
        dates = _local_dates(values.index)
        frame = {"ticker": ticker, "date": dates, "action": action, "value": values.to_numpy(float)}
        parts.append(pd.DataFrame(frame, columns=columns(CorporateActionFrame)))
    return pd.concat(parts, ignore_index=True)


def _number(value: object) -> float | None:
    """A finite number, or None for anything else (Yahoo sends strings like 'Infinity')."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _first_number(info: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        if (value := _number(info.get(key))) is not None:
            return value
    return None


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _non_negative(value: float | None) -> float | None:
    return value if value is not None and value >= 0 else None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def dividend_yield_fraction(info: Mapping[str, Any]) -> float | None:
    """Yahoo's `dividendYield` as a fraction, whichever unit it arrived in.

    Yahoo has sent it as a percent (0.45 meaning 0.45 %) and as a fraction (0.0045). The value
    is read both ways and the reading closer (by ratio) to a reference fraction wins; the
    reference is `dividendRate` / price, else `trailingAnnualDividendYield`. The two readings
    differ a hundredfold, so a rough reference decides safely. Without a reference the value
    is taken as a percent, Yahoo's current convention. Without `dividendYield` the reference
    itself is used.
    """
    reported = _non_negative(_number(info.get("dividendYield")))
    rate = _positive(_number(info.get("dividendRate")))
    price = _positive(_first_number(info, "currentPrice", "regularMarketPrice"))
    trailing = _positive(_number(info.get("trailingAnnualDividendYield")))
    reference = rate / price if rate and price else trailing
    if reported is None:
        return reference
    if reported == 0:
        return 0.0
    if reference is None:
        return reported / 100
    return min(reported, reported / 100, key=lambda reading: abs(math.log(reading / reference)))


def security_from_info(ticker: str, info: Mapping[str, Any]) -> dict[str, object]:
    """A SecurityFrame row from `Ticker.info`."""
    quote_type = str(info.get("quoteType", "")).upper()
    kind = SECURITY_TYPES.get(quote_type)
    if kind is None:
        raise UnsupportedQuoteTypeError(f"unsupported Yahoo quote type {quote_type!r}")
    exchange = _text(info.get("exchange"))
    return {
        "ticker": ticker,
        "name": _text(info.get("longName")) or _text(info.get("shortName")) or ticker,
        "security_type": kind,
        "exchange": None
        if kind in _TYPES_WITHOUT_EXCHANGE
        else EXCHANGES.get(exchange or "", exchange),
        "currency": _text(info.get("currency")),
        "country": _text(info.get("country")),
        "sector": _text(info.get("sector")),
        "industry": _text(info.get("industry")),
        "description": _text(info.get("longBusinessSummary")),
    }


def fundamentals_from_info(ticker: str, info: Mapping[str, Any], as_of: date) -> dict[str, object]:
    """A FundamentalsFrame row from `Ticker.info`; dividend_yield via dividend_yield_fraction."""
    return {
        "ticker": ticker,
        "as_of": pd.Timestamp(as_of),
        "current_price": _positive(_first_number(info, "currentPrice", "regularMarketPrice")),
        "market_cap": _non_negative(_number(info.get("marketCap"))),
        "volume": _non_negative(_first_number(info, "volume", "regularMarketVolume")),
        "avg_volume": _non_negative(_number(info.get("averageVolume"))),
        "pe_ratio": _number(info.get("trailingPE")),
        "ps_ratio": _number(info.get("priceToSalesTrailing12Months")),
        "pb_ratio": _number(info.get("priceToBook")),
        "ev_ebitda": _number(info.get("enterpriseToEbitda")),
        "dividend_yield": dividend_yield_fraction(info),
        "fifty_two_week_high": _positive(_number(info.get("fiftyTwoWeekHigh"))),
        "fifty_two_week_low": _positive(_number(info.get("fiftyTwoWeekLow"))),
    }
