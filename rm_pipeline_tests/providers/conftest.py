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


@pytest.fixture(scope="session", autouse=True)
def yfinance_cache_location(tmp_path_factory: pytest.TempPathFactory) -> None:
    """yfinance keeps the timezones and cookies it learns in this run's temporary directory, not
    in the user's cache directory. Set before yfinance first opens those caches, which stay
    where they were opened."""
    yfinance.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance-cache")))


def forget_timezones(yahoo: FakeYahoo) -> None:
    """Remove the timezones yfinance learned of the fake's symbols from its cache, as a
    run on another machine would not know them."""
    timezones = yfinance.cache.get_tz_cache()
    for symbol in yahoo.symbols():
        timezones.store(symbol, None)


@pytest.fixture
def yfinance_state() -> Iterator[None]:
    """yfinance's process-wide state, isolated: its response cache is emptied around the test
    and its config restored afterwards."""
    hide_exceptions = yfinance.config.debug.hide_exceptions
    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()
    yfinance.config.debug.hide_exceptions = hide_exceptions


@pytest.fixture
def yahoo(yfinance_state: None) -> Iterator[FakeYahoo]:
    """A fake Yahoo, for providers given `transport=yahoo.request`; yfinance's own code does all
    the requests (the cookie and crumb ones too) and all the parsing.

    A request the fake cannot answer fails the test; the timezones yfinance learned from the
    fake are forgotten afterwards.
    """
    fake = FakeYahoo()
    yield fake
    forget_timezones(fake)
    assert not fake.unrouted, f"requests the fake Yahoo cannot answer: {fake.unrouted}"
