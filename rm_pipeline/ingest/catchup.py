"""What the nightly load must fetch besides the day just closed: the recent sessions for which an
active security still has no bar (a day the provider failed, a ticker that failed, a 24/7 market's
weekend, which falls after Friday's load). The nightly run starts at the earliest of them, so one
run repairs them all and no failure costs more than a day's delay."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import Connection, text

from rm_pipeline.core.calendars import calendar_for, sessions

RECENT_BARS = text(
    """
    SELECT s.ticker, s.exchange, s.security_type, p.date
    FROM securities s LEFT JOIN price_history p
      ON p.security_id = s.id AND p.date BETWEEN :since AND :day
    WHERE s.is_active
    """
)
CALENDAR_DAYS_PER_SESSION = 2
"""Generous: five sessions never span more than ten calendar days, holidays included."""


def first_missing_session(conn: Connection, day: date, lookback_sessions: int) -> date | None:
    """The earliest of each active security's last `lookback_sessions` exchange sessions up to
    `day` that has no stored bar, or None when nothing is missing."""
    since = day - timedelta(days=lookback_sessions * CALENDAR_DAYS_PER_SESSION + 7)
    stored: dict[tuple[str, str], set[date]] = defaultdict(set)
    for ticker, exchange, security_type, bar_date in conn.execute(
        RECENT_BARS, {"since": since, "day": day}
    ):
        calendar = calendar_for(exchange, security_type, ticker)
        stored[(ticker, calendar)].update([bar_date] if bar_date else [])
    missing = [
        session
        for (_, calendar), dates in stored.items()
        for session in sessions(calendar, since, day)[-lookback_sessions:]
        if session not in dates
    ]
    return min(missing, default=None)
