"""A stand-in for Yahoo's HTTP API, so yfinance's own request and parsing code runs offline.

Payloads follow Yahoo's v8 chart and v10 quoteSummary JSON. `FakeYahoo.request` is a provider's
`transport`: every request yfinance makes through the provider's session reaches it, the cookie
and crumb fetches yfinance makes before its data requests as well as the data requests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from curl_cffi import requests as curl_requests

NOT_FOUND_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


@dataclass(frozen=True)
class Market:
    """Where a fake symbol trades: its timezone and the local time Yahoo stamps daily bars."""

    timezone: str
    exchange: str
    currency: str
    bar_time: time
    abbreviation: str = "EST"

    def stamp(self, day: date) -> int:
        """Unix time of the day's bar, as Yahoo sends it."""
        return int(datetime.combine(day, self.bar_time, ZoneInfo(self.timezone)).timestamp())

    def gmtoffset(self, day: date) -> int:
        offset = datetime.combine(day, self.bar_time, ZoneInfo(self.timezone)).utcoffset()
        return int(offset.total_seconds()) if offset else 0


NEW_YORK = Market("America/New_York", "NMS", "USD", time(9, 30))
TOKYO = Market("Asia/Tokyo", "JPX", "JPY", time(0, 0), "JST")
"""Tokyo bars at local midnight: their UTC timestamps fall on the previous day."""
CURRENCIES = Market("Europe/London", "CCY", "USD", time(0, 0), "GMT")
"""Yahoo's currency pairs (`EURUSD=X`): daily bars at London midnight, no volume."""


@dataclass(frozen=True)
class Bar:
    """One day's quote; None fields are sent as JSON null."""

    day: date
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: int | None
    adj_close: float | None = None


def chart_payload(
    symbol: str,
    market: Market,
    bars: list[Bar],
    dividends: dict[date, float] | None = None,
    splits: dict[date, tuple[int, int]] | None = None,
    instrument_type: str = "EQUITY",
) -> dict[str, Any]:
    """A v8 chart response for daily bars."""
    day = bars[-1].day if bars else date(2024, 1, 2)
    meta = {
        "currency": market.currency,
        "symbol": symbol,
        "exchangeName": market.exchange,
        "instrumentType": instrument_type,
        "gmtoffset": market.gmtoffset(day),
        "timezone": market.abbreviation,
        "exchangeTimezoneName": market.timezone,
        "regularMarketPrice": bars[-1].close if bars else None,
        "priceHint": 2,
        "dataGranularity": "1d",
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    events: dict[str, Any] = {}
    if dividends:
        events["dividends"] = {
            str(market.stamp(d)): {"amount": v, "date": market.stamp(d)}
            for d, v in dividends.items()
        }
    if splits:
        events["splits"] = {
            str(market.stamp(d)): {
                "date": market.stamp(d),
                "numerator": num,
                "denominator": den,
                "splitRatio": f"{num}:{den}",
            }
            for d, (num, den) in splits.items()
        }
    result: dict[str, Any] = {"meta": meta, "indicators": {"quote": [{}]}}
    if bars:
        result["timestamp"] = [market.stamp(b.day) for b in bars]
        result["indicators"] = {
            "quote": [
                {
                    "open": [b.open for b in bars],
                    "high": [b.high for b in bars],
                    "low": [b.low for b in bars],
                    "close": [b.close for b in bars],
                    "volume": [b.volume for b in bars],
                }
            ],
            "adjclose": [{"adjclose": [b.adj_close if b.adj_close else b.close for b in bars]}],
        }
    if events:
        result["events"] = events
    return {"chart": {"result": [result], "error": None}}


def quote_summary(symbol: str, **fields: Any) -> dict[str, Any]:
    """A v10 quoteSummary response; fields are spread over Yahoo's modules as Yahoo does."""
    modules = {
        "quoteType": ("quoteType", "exchange", "longName", "shortName", "symbol"),
        "assetProfile": ("sector", "industry", "country", "longBusinessSummary"),
        "financialData": ("currentPrice",),
        "defaultKeyStatistics": ("priceToBook", "enterpriseToEbitda"),
    }
    result: dict[str, dict[str, Any]] = {name: {} for name in modules}
    result["summaryDetail"] = {}
    for key, value in {"symbol": symbol, **fields}.items():
        module = next((m for m, keys in modules.items() if key in keys), "summaryDetail")
        result[module][key] = value
    return {"quoteSummary": {"result": [result], "error": None}}


def not_found_quote(symbol: str) -> dict[str, Any]:
    description = f"Quote not found for symbol: {symbol}"
    return {
        "quoteSummary": {"result": None, "error": {"code": "Not Found", "description": description}}
    }


CRUMB = "fake-crumb"
"""The crumb the fake hands out: yfinance adds it to every data request's parameters."""

DATA_PATHS = (
    "/v8/finance/chart/",
    "/v10/finance/quoteSummary/",
    "/v7/finance/quote",
    "/ws/fundamentals-timeseries/",
)
"""Yahoo's data endpoints; the fake's other routes are the cookie, consent and crumb pages."""


def http_response(url: str, status: int, body: object) -> curl_requests.Response:
    """A curl_cffi response: a str body is sent as it is, anything else as JSON."""
    response = curl_requests.Response()
    response.url = url
    response.status_code = status
    response.reason = HTTPStatus(status).phrase
    response.ok = status < 400
    response.content = (body if isinstance(body, str) else json.dumps(body)).encode()
    return response


def _in_window(payload: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Keep the bars and events in [period1, period2), as Yahoo does for a date-range request."""
    if "period1" not in params:
        return payload
    low, high = int(params["period1"]), int(params["period2"])
    result = json.loads(json.dumps(payload["chart"]["result"][0]))
    keep = [low <= t < high for t in result.get("timestamp", [])]
    if "timestamp" in result:
        result["timestamp"] = [t for t, k in zip(result["timestamp"], keep, strict=True) if k]
        for block in (*result["indicators"]["quote"], *result["indicators"]["adjclose"]):
            for name, values in block.items():
                block[name] = [v for v, k in zip(values, keep, strict=True) if k]
        if not result["timestamp"]:
            del result["timestamp"]
            result["indicators"] = {"quote": [{}]}
    for kind, events in result.get("events", {}).items():
        result["events"][kind] = {k: e for k, e in events.items() if low <= e["date"] < high}
    return {"chart": {"result": [result], "error": None}}


@dataclass
class FakeYahoo:
    """Routes yfinance's requests to canned payloads and records them."""

    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    throttled: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)

    def throttle(self, symbol: str, responses: int) -> None:
        """Answer the symbol's next `responses` requests with HTTP 429."""
        self.throttled[symbol] += responses

    def chart_requests(self, symbol: str) -> list[dict[str, Any]]:
        """The parameters of every history (date range) request for the symbol."""
        path = f"/v8/finance/chart/{symbol}"
        return [p for u, p in self.requests if urlsplit(u).path == path and "period1" in p]

    def data_requests(self) -> list[tuple[str, dict[str, Any]]]:
        """The requests to Yahoo's data endpoints, without the cookie and crumb fetches."""
        return [(u, p) for u, p in self.requests if urlsplit(u).path.startswith(DATA_PATHS)]

    def symbols(self) -> set[str]:
        """Every symbol whose data was asked for."""
        return {_symbol(u, p) for u, p in self.data_requests()}

    def request(
        self, method: str, url: str, params: dict[str, Any] | None = None, **_: Any
    ) -> curl_requests.Response:
        params = dict(params or {})
        self.requests.append((url, params))
        host, path = urlsplit(url).hostname, urlsplit(url).path
        if host == "fc.yahoo.com":  # Yahoo's cookie: none here, so yfinance asks every time
            return http_response(url, 404, "")
        if host == "guce.yahoo.com" and path == "/consent":  # no consent form to accept
            return http_response(url, 200, "<html><body></body></html>")
        if path == "/v1/test/getcrumb":
            return http_response(url, 200, CRUMB)
        symbol = _symbol(url, params)
        if self.throttled[symbol] > 0:
            self.throttled[symbol] -= 1
            return http_response(url, 429, "Too Many Requests")
        if path.startswith("/v8/finance/chart/"):
            payload = self.charts.get(symbol)
            if payload is None:
                return http_response(url, 404, NOT_FOUND_CHART)
            return http_response(url, 200, _in_window(payload, params))
        if path.startswith("/v10/finance/quoteSummary/"):
            quote = self.quotes.get(symbol)
            return (
                http_response(url, 200, quote)
                if quote
                else http_response(url, 404, not_found_quote(symbol))
            )
        if path == "/v7/finance/quote":
            return http_response(url, 200, {"quoteResponse": {"result": [], "error": None}})
        if "/fundamentals-timeseries/" in path:
            return http_response(url, 200, {"timeseries": {"result": [], "error": None}})
        self.unrouted.append(f"{method} {url}")
        raise AssertionError(f"the fake Yahoo has no route for {method} {url}")


def _symbol(url: str, params: dict[str, Any]) -> str:
    """The symbol a data request asks about; "" for none."""
    path = urlsplit(url).path
    if "/v7/finance/quote" in path:
        return str(params.get("symbols", ""))
    return unquote(path.rsplit("/", 1)[-1]) if "/finance/" in path else ""


def bars_between(
    first: date, prices: list[float], skip: AbstractSet[date] = frozenset()
) -> list[Bar]:
    """Weekday bars from `first`, one per price, with high/low 1 % around open and close."""
    bars, day = [], first
    for price in prices:
        while day.weekday() >= 5 or day in skip:
            day += timedelta(days=1)
        bars.append(
            Bar(day, price, round(price * 1.01, 4), round(price * 0.99, 4), price, 1_000_000)
        )
        day += timedelta(days=1)
    return bars
