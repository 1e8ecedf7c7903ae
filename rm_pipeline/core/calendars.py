"""Which trading calendar a security follows, and that calendar's sessions.

The one rule (`calendar_for`): crypto trades every day (`24/7`); otherwise the stored exchange
decides, and the Yahoo-style ticker suffix (`SHEL.L`, `7203.T`) only when the exchange is unknown
or missing, or to pick among an exchange's several calendars (Euronext: `.PA` Paris, `.AS`
Amsterdam). A plain symbol with no known exchange is a US listing (`XNYS`). Calendars are
`exchange_calendars` names.

The suffix table also gives a symbol's likely exchange, currency and country (`market_for`), so
a source that knows only the symbol can make up plausible reference data.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Final

import exchange_calendars as xcals
import numpy as np

SATURDAY: Final = 5
ALWAYS_OPEN: Final = "24/7"
"""The calendar of markets that trade every day (crypto)."""


@dataclass(frozen=True)
class Market:
    """An exchange: its short code, exchange_calendars name, price currency and country."""

    exchange: str | None
    calendar: str
    currency: str
    country: str | None


US: Final = Market(None, "XNYS", "USD", "United States")
"""A plain symbol: a US listing, exchange unknown (NYSE or NASDAQ)."""

_BY_SUFFIX: Final[dict[str, Market]] = {
    "L": Market("LSE", "XLON", "GBp", "United Kingdom"),
    "IL": Market("LSE", "XLON", "USD", "United Kingdom"),
    "T": Market("TSE", "XTKS", "JPY", "Japan"),
    "DE": Market("XETRA", "XETR", "EUR", "Germany"),
    "F": Market("FRA", "XFRA", "EUR", "Germany"),
    "TO": Market("TSX", "XTSE", "CAD", "Canada"),
    "V": Market("TSXV", "XTSE", "CAD", "Canada"),
    "PA": Market("EURONEXT", "XPAR", "EUR", "France"),
    "AS": Market("EURONEXT", "XAMS", "EUR", "Netherlands"),
    "BR": Market("EURONEXT", "XBRU", "EUR", "Belgium"),
    "LS": Market("EURONEXT", "XLIS", "EUR", "Portugal"),
    "IR": Market("EURONEXT", "XDUB", "EUR", "Ireland"),
    "MI": Market("BIT", "XMIL", "EUR", "Italy"),
    "MC": Market("BME", "XMAD", "EUR", "Spain"),
    "SW": Market("SIX", "XSWX", "CHF", "Switzerland"),
    "VI": Market("WBAG", "XWBO", "EUR", "Austria"),
    "ST": Market("STO", "XSTO", "SEK", "Sweden"),
    "CO": Market("CPH", "XCSE", "DKK", "Denmark"),
    "OL": Market("OSL", "XOSL", "NOK", "Norway"),
    "HE": Market("HEL", "XHEL", "EUR", "Finland"),
    "WA": Market("WSE", "XWAR", "PLN", "Poland"),
    "HK": Market("HKEX", "XHKG", "HKD", "Hong Kong"),
    "SS": Market("SSE", "XSHG", "CNY", "China"),
    "SZ": Market("SZSE", "XSHG", "CNY", "China"),
    "TW": Market("TWSE", "XTAI", "TWD", "Taiwan"),
    "KS": Market("KRX", "XKRX", "KRW", "South Korea"),
    "SI": Market("SGX", "XSES", "SGD", "Singapore"),
    "BO": Market("BSE", "XBOM", "INR", "India"),
    "NS": Market("NSE", "XBOM", "INR", "India"),
    "AX": Market("ASX", "XASX", "AUD", "Australia"),
    "NZ": Market("NZX", "XNZE", "NZD", "New Zealand"),
    "SA": Market("B3", "BVMF", "BRL", "Brazil"),
    "MX": Market("BMV", "XMEX", "MXN", "Mexico"),
    "JO": Market("JSE", "XJSE", "ZAc", "South Africa"),
}

_INDEX_MARKETS: Final[dict[str, Market]] = {
    "^FTSE": _BY_SUFFIX["L"],
    "^N225": _BY_SUFFIX["T"],
    "^GDAXI": _BY_SUFFIX["DE"],
    "^FCHI": _BY_SUFFIX["PA"],
    "^GSPTSE": _BY_SUFFIX["TO"],
    "^HSI": _BY_SUFFIX["HK"],
    "^STOXX50E": Market(None, "XETR", "EUR", None),
}

_US_EXCHANGES: Final = ("NASDAQ", "NYSE", "NYSEARCA", "NYSEAMERICAN", "CBOE")
"""The US exchange codes stored; their listings have no suffix and all follow `XNYS`."""


def _exchange_calendars() -> dict[str, tuple[str, ...]]:
    """Exchange code -> its calendars, the first its main one (Euronext has one per city)."""
    calendars: dict[str, tuple[str, ...]] = {code: (US.calendar,) for code in _US_EXCHANGES}
    for market in _BY_SUFFIX.values():
        if market.exchange is not None:
            known = calendars.get(market.exchange, ())
            if market.calendar not in known:
                calendars[market.exchange] = (*known, market.calendar)
    return calendars


_BY_EXCHANGE: Final = _exchange_calendars()

_CRYPTO_RE: Final = re.compile(r"^[A-Z0-9]+-(USD|USDT|EUR|GBP|JPY|CAD|AUD|BTC|ETH)$")


def is_crypto(ticker: str) -> bool:
    """`BTC-USD` is a crypto pair; `BRK-B` is a share class."""
    return bool(_CRYPTO_RE.match(ticker))


def market_for(ticker: str) -> Market:
    """The market a normalized ticker trades on, judged by its symbol alone (US when no suffix)."""
    if ticker.startswith("^"):
        return _INDEX_MARKETS.get(ticker, Market(None, US.calendar, "USD", None))
    if is_crypto(ticker):
        return Market(None, ALWAYS_OPEN, ticker.rsplit("-", 1)[1], None)
    if "." in ticker:
        return _BY_SUFFIX.get(ticker.rsplit(".", 1)[1], US)
    return US


def calendar_for(exchange: str | None, security_type: str | None, ticker: str) -> str:
    """The trading calendar of a security: `24/7` for crypto, else its stored exchange's; the
    ticker's suffix decides when the exchange is missing or unknown, and among the calendars of
    an exchange that has several (a Euronext listing without one of its suffixes is Paris)."""
    if security_type == "crypto":
        return ALWAYS_OPEN
    guessed = market_for(ticker).calendar
    calendars = _BY_EXCHANGE.get((exchange or "").upper())
    if not calendars or guessed in calendars:
        return guessed
    return calendars[0]


SPAN_FIRST: Final = date(2000, 1, 1)
"""Each calendar's sessions are built from here to the end of next year, and every range inside
that span is cut out of them: building a calendar costs 0.05 to 0.8 s (1 s for the default
universe's ten), and a night's load, its checks and the provider ask for many ranges of the same
calendars, in several processes. Built once, a span is kept in memory and in `SPANS_DIR`."""

SPANS_DIR: Final = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "rm-pipeline"
    / f"calendars-{xcals.__version__}"
)
"""Spans built by this exchange_calendars release, a file each: a newer release builds its own."""


@dataclass(frozen=True)
class _Span:
    """A calendar's sessions from SPAN_FIRST to `last`, as days."""

    last: date
    days: np.ndarray


@cache
def _span(calendar: str) -> _Span | None:
    """The calendar's sessions from SPAN_FIRST to the end of next year, from `SPANS_DIR` or
    built (and kept there when it can be written); None when the calendar is not recorded over
    all of it (then each range is built on its own)."""
    last = date(date.today().year + 1, 12, 31)
    kept = SPANS_DIR / f"{calendar.replace('/', '-')}-{SPAN_FIRST}-{last}.npy"
    try:
        return _Span(last, np.load(kept))
    except (OSError, ValueError):
        pass
    try:
        built = xcals.get_calendar(calendar, start=SPAN_FIRST.isoformat(), end=last.isoformat())
    except ValueError:
        return None
    days = built.sessions.to_numpy().astype("datetime64[D]")
    _keep(kept, days)
    return _Span(last, days)


def _keep(path: Path, days: np.ndarray) -> None:
    """Write the span whole or not at all (another process may be reading or writing it); a
    cache that cannot be written is only slower."""
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as file:
            np.save(file, days)
        partial.replace(path)
    except OSError:
        with suppress(OSError):
            partial.unlink(missing_ok=True)


@cache
def session_days(calendar: str, start: date, end: date) -> np.ndarray:
    """The calendar's sessions from start to end, both included, oldest first, as a read-only
    datetime64[D] array: cut out of the calendar's span (`_span`), or built for the range when
    it lies outside."""
    if end < start:
        days = np.array([], dtype="datetime64[D]")
    elif (span := _span(calendar)) is not None and start >= SPAN_FIRST and end <= span.last:
        first = np.searchsorted(span.days, np.datetime64(start), side="left")
        stop = np.searchsorted(span.days, np.datetime64(end), side="right")
        days = span.days[first:stop]
    else:
        # exchange_calendars wants end after start; a one-day span asks for two and keeps one.
        span_end = max(end, start + timedelta(days=1))
        built = xcals.get_calendar(calendar, start=start.isoformat(), end=span_end.isoformat())
        days = built.sessions.to_numpy().astype("datetime64[D]")
        days = days[days <= np.datetime64(end)]
    days.flags.writeable = False  # shared by every caller asking for the range
    return days


@cache
def sessions(calendar: str, start: date, end: date) -> tuple[date, ...]:
    """`session_days` as dates."""
    return tuple(session_days(calendar, start, end).tolist())


def days_label(start: date, end: date) -> str:
    """A range of days as a person asked for it: a range that runs to a weekend (a Friday's
    partition holds the weekend after it) reads as ending on that Friday, with its weekend."""
    if end.weekday() < SATURDAY or end - start < timedelta(days=2):
        return f"{start}" if start == end else f"{start} to {end}"
    friday = end - timedelta(days=end.weekday() - SATURDAY + 1)
    days = f"{start}" if start == friday else f"{start} to {friday}"
    return f"{days} and the weekend after"
