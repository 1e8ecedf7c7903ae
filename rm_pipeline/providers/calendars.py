"""Exchange sessions: which dates a security's exchange trades on (`exchange_calendars`)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import exchange_calendars as xcals

from rm_pipeline.providers.markets import market_for

ALWAYS_OPEN = "24/7"
"""The calendar of markets that trade every day (crypto)."""


@cache
def sessions(calendar: str, start: date, end: date) -> tuple[date, ...]:
    """The calendar's sessions from start to end, both included, oldest first; built once per
    (calendar, start, end) in a process."""
    if end < start:
        return ()
    # exchange_calendars wants end after start; a one-day span asks for two and keeps one.
    span_end = max(end, start + timedelta(days=1))
    schedule = xcals.get_calendar(calendar, start=start.isoformat(), end=span_end.isoformat())
    return tuple(day for day in schedule.sessions.date if day <= end)


def ticker_sessions(ticker: str, start: date, end: date) -> tuple[date, ...]:
    """The sessions of the exchange `ticker` trades on, from start to end."""
    return sessions(market_for(ticker).calendar, start, end)
