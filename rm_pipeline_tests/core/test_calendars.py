"""The one calendar rule: the stored exchange decides, crypto trades every day, and the ticker's
suffix is only the fallback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pytest

from rm_pipeline.core import calendars
from rm_pipeline.core.calendars import (
    _BY_EXCHANGE,
    _BY_SUFFIX,
    _INDEX_MARKETS,
    ALWAYS_OPEN,
    calendar_for,
    days_label,
    market_for,
    sessions,
)
from rm_pipeline.providers.universe import default_universe


@pytest.mark.parametrize(
    ("exchange", "security_type", "ticker", "calendar"),
    [
        ("LSE", "equity", "SHEL", "XLON"),
        ("XETRA", "equity", "SAP", "XETR"),
        ("NASDAQ", "equity", "SHEL.L", "XNYS"),
        ("lse", "equity", "SHEL", "XLON"),
        ("EURONEXT", "equity", "ASML.AS", "XAMS"),
        ("EURONEXT", "equity", "MC.PA", "XPAR"),
        ("EURONEXT", "equity", "AIR", "XPAR"),
        ("TSE", "equity", "7203.T", "XTKS"),
        ("NYSEARCA", "etf", "SPY", "XNYS"),
    ],
)
def test_the_stored_exchange_beats_the_suffix(
    exchange: str, security_type: str, ticker: str, calendar: str
) -> None:
    assert calendar_for(exchange, security_type, ticker) == calendar


@pytest.mark.parametrize(
    ("exchange", "ticker"), [(None, "BTC-USD"), (None, "SOLANA"), ("NASDAQ", "COIN-X")]
)
def test_crypto_trades_every_day(exchange: str | None, ticker: str) -> None:
    assert calendar_for(exchange, "crypto", ticker) == ALWAYS_OPEN


@pytest.mark.parametrize(
    ("exchange", "security_type", "ticker", "calendar"),
    [
        ("NOWHERE", "equity", "SHEL.L", "XLON"),
        (None, "equity", "SAP.DE", "XETR"),
        (None, "index", "^N225", "XTKS"),
        (None, None, "BTC-USD", ALWAYS_OPEN),
        ("", "equity", "7203.T", "XTKS"),
    ],
)
def test_an_unknown_exchange_falls_back_to_the_suffix(
    exchange: str | None, security_type: str | None, ticker: str, calendar: str
) -> None:
    assert calendar_for(exchange, security_type, ticker) == calendar


@pytest.mark.parametrize("exchange", [None, "NOWHERE"])
def test_no_exchange_and_no_suffix_is_a_us_listing(exchange: str | None) -> None:
    assert calendar_for(exchange, "equity", "AAPL") == "XNYS"
    assert calendar_for(exchange, None, "BRK-B") == "XNYS"


def test_every_calendar_named_is_one_exchange_calendars_knows() -> None:
    named = {market.calendar for market in [*_BY_SUFFIX.values(), *_INDEX_MARKETS.values()]}
    named |= {calendar for calendars in _BY_EXCHANGE.values() for calendar in calendars}
    assert named <= set(xcals.get_calendar_names(include_aliases=True))


def test_the_universe_s_exchanges_agree_with_its_suffixes() -> None:
    """Bars are checked against the calendar the ticker alone implies (they name no exchange),
    so every shipped security's exchange must name that same calendar."""
    rows = default_universe()[["exchange", "security_type", "ticker"]].astype(object)
    for exchange, security_type, ticker in rows.where(rows.notna(), None).itertuples(index=False):
        assert calendar_for(exchange, security_type, ticker) == calendar_for(None, None, ticker)
        assert exchange is None or exchange in _BY_EXCHANGE, exchange


def test_market_for_reads_the_symbol() -> None:
    assert market_for("SHEL.L").currency == "GBp"
    assert market_for("BTC-EUR").currency == "EUR"
    assert market_for("^GDAXI").exchange == "XETRA"
    assert market_for("AAPL").country == "United States"


def test_sessions_skip_holidays_and_keep_one_day_spans() -> None:
    christmas = date(2024, 12, 25)
    assert christmas not in sessions("XNYS", date(2024, 12, 20), date(2024, 12, 31))
    assert sessions("XLON", date(2024, 12, 27), date(2024, 12, 27)) == (date(2024, 12, 27),)
    assert sessions("XNYS", date(2024, 12, 27), date(2024, 12, 26)) == ()
    assert len(sessions(ALWAYS_OPEN, date(2024, 12, 21), date(2024, 12, 27))) == 7
    assert sessions("XNYS", date(2024, 12, 28), date(2024, 12, 29)) == ()  # a weekend


def forget_spans() -> None:
    """As a new process starts: no span or range in memory."""
    calendars._span.cache_clear()
    calendars.session_days.cache_clear()
    calendars.sessions.cache_clear()


@pytest.fixture
def spans_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty span cache on disk, and none in memory."""
    monkeypatch.setattr(calendars, "SPANS_DIR", tmp_path / "spans")
    forget_spans()
    yield tmp_path / "spans"
    forget_spans()


def test_a_calendars_span_is_kept_on_disk_and_read_back_without_building_it(
    spans_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    week = (date(2024, 12, 23), date(2024, 12, 31))
    built = sessions("XLON", *week)
    assert date(2024, 12, 25) not in built and date(2024, 12, 27) in built
    (kept,) = spans_dir.glob("XLON-*.npy")
    assert not list(spans_dir.glob("*.partial"))

    forget_spans()
    with monkeypatch.context() as patched:
        patched.setattr(xcals, "get_calendar", lambda *args, **kwargs: pytest.fail("built"))
        assert sessions("XLON", *week) == built

    kept.write_bytes(b"not a span")
    forget_spans()
    assert sessions("XLON", *week) == built  # a damaged span is built and kept again
    assert len(np.load(kept)) > 6000


@pytest.mark.parametrize("calendar", ["XNYS", "XLON", "XTKS", "XKRX", ALWAYS_OPEN])
@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2011, 12, 5), date(2026, 12, 3)), (date(2000, 1, 1), date(2000, 1, 4))],
)
def test_sessions_cut_from_a_calendars_span_are_the_ranges_own(
    calendar: str, start: date, end: date
) -> None:
    """A range's sessions are cut out of the calendar built once over its span: the same days
    as the calendar built for the range alone."""
    built = xcals.get_calendar(calendar, start=start.isoformat(), end=end.isoformat())
    assert sessions(calendar, start, end) == tuple(built.sessions.date)


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        ("2024-11-18", "2024-11-29", "2024-11-18 to 2024-11-29"),
        ("2024-11-18", "2024-12-01", "2024-11-18 to 2024-11-29 and the weekend after"),
        ("2024-11-29", "2024-12-01", "2024-11-29 and the weekend after"),
        ("2024-11-27", "2024-11-27", "2024-11-27"),
        ("2024-11-30", "2024-12-01", "2024-11-30 to 2024-12-01"),
    ],
)
def test_a_range_reads_as_the_days_asked_for(start: str, end: str, label: str) -> None:
    assert days_label(date.fromisoformat(start), date.fromisoformat(end)) == label
