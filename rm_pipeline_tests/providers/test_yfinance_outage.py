"""A Yahoo outage is found by one probe, in seconds, not one ticker's timeouts at a time.

The outage is simulated as an operator would see it: the environment sends yfinance's requests
through a proxy (libcurl reads `https_proxy` itself), here one on this machine that closes
every connection at once or a port nothing listens on, so nothing leaves the machine.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from curl_cffi import requests as curl_requests
from curl_cffi.requests import exceptions as curl_errors

from rm_pipeline.providers import yfinance_provider
from rm_pipeline.providers.base import ProviderUnreachableError, TickerStatus
from rm_pipeline.providers.yfinance_provider import PROBE_URL, Transport, YFinanceProvider
from rm_pipeline_tests.providers.conftest import TODAY
from rm_pipeline_tests.providers.yahoo_fake import (
    NEW_YORK,
    FakeYahoo,
    bars_between,
    chart_payload,
    http_response,
)

MARCH = (date(2024, 3, 1), date(2024, 3, 8))
OUTAGE_FOUND_WITHIN = 60.0
"""Seconds a call may take to report an outage, whatever the number of tickers."""

CURL_REQUEST = curl_requests.Session.request
"""curl_cffi's own request method, taken before any test replaces it."""

PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY")


def tickers(count: int) -> list[str]:
    return [f"T{number:03d}" for number in range(count)]


def sent_to_this_machine(url: str) -> bool:
    """Whether libcurl will send a request for `url` to a proxy on this machine: the proxy
    variable for its scheme names 127.0.0.1 and no `no_proxy` exempts any host."""
    proxy = os.environ.get(f"{urlsplit(url).scheme}_proxy", "")
    exempt = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")
    return urlsplit(proxy).hostname == "127.0.0.1" and not exempt


@pytest.fixture
def no_network(no_network: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """As in every provider test, except that curl's requests go out when the environment sends
    them to a proxy on this machine; any other is refused and fails the test."""
    refuse = curl_requests.Session.request

    def request(self: curl_requests.Session, method: Any, url: str, **kwargs: Any) -> Any:
        if sent_to_this_machine(url):
            return CURL_REQUEST(self, method, url, **kwargs)
        return refuse(self, method, url, **kwargs)

    monkeypatch.setattr(curl_requests.Session, "request", request)
    yield no_network


def wait_for_fetches_under_way() -> None:
    """The provider leaves the fetches under way at an outage to finish in the background;
    they end (failing to connect) before the test's environment is restored."""
    for thread in threading.enumerate():
        if thread.name.startswith("yfinance"):
            thread.join(timeout=OUTAGE_FOUND_WITHIN)


@pytest.fixture
def route_yahoo_through(
    monkeypatch: pytest.MonkeyPatch, yfinance_state: None
) -> Iterator[Callable[[str], None]]:
    """Sends every request yfinance makes to the given proxy, through the environment."""

    def route(proxy: str) -> None:
        for variable in PROXY_VARIABLES:
            monkeypatch.setenv(variable, proxy)
        for variable in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(variable, raising=False)

    yield route
    wait_for_fetches_under_way()


class ClosingProxy:
    """A proxy on this machine that accepts every connection and closes it at once."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._server.close()


@pytest.fixture
def closing_proxy() -> Iterator[ClosingProxy]:
    proxy = ClosingProxy()
    yield proxy
    proxy.stop()


@pytest.fixture
def refusing_proxy() -> str:
    """A port on this machine nothing listens on: every connection is refused."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return f"http://127.0.0.1:{server.getsockname()[1]}"


def production_provider() -> YFinanceProvider:
    """The provider as the settings build it by default (its batches, threads and request
    rate), without the response cache, which must not hide an outage anyway."""
    return YFinanceProvider(cache=None, today=lambda: TODAY)


def unthrottled_provider(transport: Transport | None = None) -> YFinanceProvider:
    return YFinanceProvider(
        max_requests_per_second=0, cache=None, today=lambda: TODAY, transport=transport
    )


def timed_outage(call: Callable[[], object]) -> tuple[ProviderUnreachableError, float]:
    """The outage `call` reports and the seconds it took to report it."""
    started = time.monotonic()
    with pytest.raises(ProviderUnreachableError) as raised:
        call()
    return raised.value, time.monotonic() - started


@pytest.mark.parametrize("count", [50, 500])
def test_a_proxy_that_closes_every_connection_is_an_outage_found_in_seconds(
    route_yahoo_through: Callable[[str], None], closing_proxy: ClosingProxy, count: int
) -> None:
    route_yahoo_through(closing_proxy.url)

    outage, seconds = timed_outage(lambda: production_provider().daily_bars(tickers(count), *MARCH))

    print(f"{count} tickers through a closing proxy: outage reported in {seconds:.1f} s")
    assert seconds < OUTAGE_FOUND_WITHIN
    assert str(outage).startswith("yfinance: Yahoo Finance is unreachable: curl: (56)")
    assert (outage.provider, outage.source) == ("yfinance", "Yahoo Finance")
    assert "\n" not in outage.reason and "curl.se" not in outage.reason
    assert isinstance(outage.__cause__, curl_errors.RequestException)
    wait_for_fetches_under_way()
    assert closing_proxy.connections < count  # the tickers not started were never attempted


def test_a_refused_connection_is_an_outage_found_in_seconds(
    route_yahoo_through: Callable[[str], None], refusing_proxy: str
) -> None:
    route_yahoo_through(refusing_proxy)

    outage, seconds = timed_outage(lambda: production_provider().daily_bars(tickers(500), *MARCH))

    print(f"500 tickers through a refused port: outage reported in {seconds:.1f} s")
    assert seconds < OUTAGE_FOUND_WITHIN
    assert "Could not connect to server" in outage.reason


@pytest.mark.parametrize(
    "call",
    [
        lambda provider: provider.corporate_actions(tickers(20), *MARCH),
        lambda provider: provider.fx_rates(["EUR", "GBP", "JPY"], *MARCH),
        lambda provider: provider.securities(tickers(20)),
        lambda provider: provider.fundamentals(tickers(20)),
    ],
    ids=["corporate_actions", "fx_rates", "securities", "fundamentals"],
)
def test_every_call_reports_the_outage(
    route_yahoo_through: Callable[[str], None],
    closing_proxy: ClosingProxy,
    call: Callable[[YFinanceProvider], object],
) -> None:
    route_yahoo_through(closing_proxy.url)

    outage, seconds = timed_outage(lambda: call(unthrottled_provider()))

    assert seconds < OUTAGE_FOUND_WITHIN
    assert outage.provider == "yfinance"


class FlakyYahoo:
    """The fake Yahoo, with the probe answered (`probe_status`: a 404, as Yahoo's root page
    answers, unless `probe_failure` is set) and the connections of some symbols reset."""

    def __init__(self, fake: FakeYahoo, unreachable: set[str]) -> None:
        self.fake = fake
        self.unreachable = unreachable
        self.probes = 0
        self.probe_status = 404
        self.probe_failure: Exception | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> curl_requests.Response:
        if url == PROBE_URL:
            self.probes += 1
            if self.probe_failure:
                raise self.probe_failure
            return http_response(url, self.probe_status, "Yahoo's answer")
        if urlsplit(url).path.rsplit("/", 1)[-1] in self.unreachable:
            raise curl_errors.ConnectionError(
                "Failed to perform, curl: (56) Recv failure: Connection reset by peer. "
                "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
            )
        return self.fake.request(method, url, **kwargs)


@pytest.fixture
def flaky(yahoo: FakeYahoo) -> FlakyYahoo:
    """AAPL and MSFT answer; FLAKY and SHAKY cannot be connected to."""
    for symbol in ("AAPL", "MSFT"):
        yahoo.charts[symbol] = chart_payload(symbol, NEW_YORK, bars_between(MARCH[0], [10.0] * 6))
    return FlakyYahoo(yahoo, {"FLAKY", "SHAKY"})


@pytest.mark.parametrize("probe_status", [404, 429], ids=["not_found", "rate_limited"])
def test_when_yahoo_answers_the_probe_a_connection_failure_is_the_tickers_own(
    flaky: FlakyYahoo, probe_status: int
) -> None:
    flaky.probe_status = probe_status

    result = unthrottled_provider(flaky.request).daily_bars(["AAPL", "FLAKY", "MSFT"], *MARCH)

    outcomes = result.by_ticker()
    assert outcomes["FLAKY"].status is TickerStatus.ERROR
    assert "Connection reset by peer" in outcomes["FLAKY"].reason
    assert [outcomes[t].rows for t in ("AAPL", "MSFT")] == [6, 6]
    assert flaky.probes == 1


def test_one_probe_a_call_at_most(flaky: FlakyYahoo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yfinance_provider, "PROBE_INTERVAL", 0.0)
    provider = unthrottled_provider(flaky.request)

    provider.daily_bars(["FLAKY", "AAPL", "SHAKY"], *MARCH)
    assert flaky.probes == 1
    provider.daily_bars(["FLAKY"], *MARCH)
    assert flaky.probes == 2


def test_an_answered_probe_vouches_for_yahoo_for_a_minute(flaky: FlakyYahoo) -> None:
    provider = unthrottled_provider(flaky.request)

    for _ in range(3):
        [outcome] = provider.daily_bars(["FLAKY"], *MARCH).outcomes
        assert outcome.status is TickerStatus.ERROR
    assert flaky.probes == 1


def test_a_probe_that_reaches_yahoo_but_fails_otherwise_is_no_outage(flaky: FlakyYahoo) -> None:
    flaky.probe_failure = curl_errors.HTTPError("Failed to perform, curl: (92) HTTP/2 stream error")

    result = unthrottled_provider(flaky.request).daily_bars(["AAPL", "FLAKY"], *MARCH)

    assert [o.status for o in result.outcomes] == [TickerStatus.OK, TickerStatus.ERROR]
    assert flaky.probes == 1
