"""Exchange sessions of a ticker known only by its symbol.

Provider data names tickers, not stored securities, so the exchange and type are unknown here and
`rm_pipeline.core.calendars.calendar_for` falls back to the ticker's suffix: a plain symbol is
taken for a US listing. Where the security is stored, use its `trading_calendar` or
`calendar_for` with its exchange and type instead.
"""

from __future__ import annotations

from datetime import date

from rm_pipeline.core.calendars import calendar_for, sessions


def ticker_calendar(ticker: str) -> str:
    """The calendar of the exchange `ticker`'s symbol names (see the module docstring)."""
    return calendar_for(None, None, ticker)


def ticker_sessions(ticker: str, start: date, end: date) -> tuple[date, ...]:
    """The sessions of the exchange `ticker`'s symbol names, from start to end."""
    return sessions(ticker_calendar(ticker), start, end)
