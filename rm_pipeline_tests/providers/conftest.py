"""Provider tests run offline: any attempt to open a connection fails the test loudly."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest
import yfinance
import yfinance.base
import yfinance.cache
from curl_cffi import requests as curl_requests
from yfinance.data import YfData

from rm_pipeline.providers.deprecations import silence_pandas4_warnings
from rm_pipeline_tests.providers.yahoo_fake import FakeYahoo

TODAY = date(2025, 6, 30)
"""The date every provider under test takes as today (a Monday)."""


@pytest.fixture(autouse=True)
def quiet_dependencies() -> None:
    """pytest shows DeprecationWarnings; the pandas ones from dependencies are not ours."""
    for package in ("yfinance", "exchange_calendars"):
        silence_pandas4_warnings(package)
    # Raised inside pandas (stacklevel 1) when exchange_calendars builds a calendar.
    warnings.filterwarnings(
        "ignore",
        message="Series.values returning an ndarray that drops timezone",
        category=pd.errors.Pandas4Warning,
        module=r"pandas\.core\.series",
    )


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Python sockets and curl_cffi (libcurl opens its own sockets) both refuse to connect.

    Providers turn a ticker's exceptions into outcomes, so each attempt is also recorded and
    fails the test when it ends.
    """
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(kwargs.get("url") or args[1:3]))
        raise ConnectionRefusedError("tests must not reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(curl_requests.Session, "request", refuse)
    yield attempts
    assert not attempts, f"the test tried to reach the network: {attempts}"


class MemoryTzCache:
    """yfinance's timezone cache, kept in memory instead of the user's cache directory."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = dict(known or {})

    def lookup(self, ticker: str) -> str | None:
        return self.known.get(ticker)

    def store(self, ticker: str, tz: str | None) -> None:
        if tz is not None:
            self.known[ticker] = tz


@pytest.fixture
def tz_cache(monkeypatch: pytest.MonkeyPatch) -> MemoryTzCache:
    cache = MemoryTzCache()
    monkeypatch.setattr(yfinance.cache, "get_tz_cache", lambda: cache)
    return cache


@pytest.fixture
def yfinance_state(tz_cache: MemoryTzCache) -> Iterator[None]:
    """yfinance's process-wide state, isolated: its response cache is emptied around the test
    and its config restored afterwards; its timezone cache is in memory."""
    hide_exceptions = yfinance.config.debug.hide_exceptions
    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()
    yfinance.config.debug.hide_exceptions = hide_exceptions


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch, yfinance_state: None) -> Iterator[FakeYahoo]:
    """A fake Yahoo behind yfinance's HTTP session; yfinance's own code does all the parsing.

    The cookie and crumb fetch is neutralized; a request the fake cannot answer fails the test.
    """
    fake = FakeYahoo()
    monkeypatch.setattr(
        curl_requests.Session,
        "request",
        lambda self, method, url, **kw: fake.request(method, url, **kw),
    )
    monkeypatch.setattr(
        YfData, "_get_cookie_and_crumb", lambda self, timeout=30: (None, self._cookie_strategy)
    )
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 0)
    yield fake
    assert not fake.unrouted, f"requests the fake Yahoo cannot answer: {fake.unrouted}"
