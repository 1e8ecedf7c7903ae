"""Exchange sessions in the warehouse, so SQL can tell a missing session from a holiday.

Each security names its trading calendar (`securities.trading_calendar`, set once by
`rm_pipeline.core.calendars.calendar_for` from its exchange, type and ticker), and
`market_sessions` holds every calendar's sessions over one contiguous span per calendar: from the
earliest stored bar of its securities (or the load's start) to the load's end.
A load extends the span at either end; sessions already stored are never fetched again.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import Connection, text

from rm_pipeline.core.calendars import calendar_for, sessions

log = logging.getLogger(__name__)

INSERT_SESSION = text(
    "INSERT INTO market_sessions (calendar, date) VALUES (:calendar, :date) ON CONFLICT DO NOTHING"
)

WITHOUT_CALENDAR = text(
    "SELECT CAST(id AS text), exchange, security_type, ticker FROM securities"
    " WHERE trading_calendar IS NULL"
)
SET_CALENDAR = text(
    "UPDATE securities SET trading_calendar = :calendar WHERE id = CAST(:id AS uuid)"
)
CALENDARS_IN_USE = text(
    """
    SELECT s.trading_calendar, min(first_bar.date), covered.first, covered.last
    FROM securities AS s
    LEFT JOIN LATERAL (
        SELECT p.date FROM price_history AS p WHERE p.security_id = s.id ORDER BY p.date LIMIT 1
    ) AS first_bar ON true
    LEFT JOIN LATERAL (
        SELECT min(m.date) AS first, max(m.date) AS last FROM market_sessions AS m
        WHERE m.calendar = s.trading_calendar
    ) AS covered ON true
    WHERE s.trading_calendar IS NOT NULL
    GROUP BY s.trading_calendar, covered.first, covered.last
    """
)


def assign_calendars(conn: Connection) -> int:
    """Give every security without a trading calendar the one its exchange, type and ticker
    imply (`calendar_for`); how many."""
    missing = conn.execute(WITHOUT_CALENDAR).all()
    for security_id, exchange, security_type, ticker in missing:
        calendar = calendar_for(exchange, security_type, ticker)
        conn.execute(SET_CALENDAR, {"id": security_id, "calendar": calendar})
    return len(missing)


def missing_spans(
    wanted: tuple[date, date], covered: tuple[date | None, date | None]
) -> list[tuple[date, date]]:
    """The parts of `wanted` (first, last) outside the contiguous `covered` span."""
    first, last = wanted
    if covered[0] is None or covered[1] is None:
        return [(first, last)] if first <= last else []
    spans = []
    if first < covered[0]:
        spans.append((first, covered[0] - timedelta(days=1)))
    if last > covered[1]:
        spans.append((covered[1] + timedelta(days=1), last))
    return spans


def store_sessions(conn: Connection, start: date, end: date) -> int:
    """Store the sessions every calendar in use needs to cover its securities' stored bars and
    [start, end]. A calendar `exchange_calendars` does not know, or a span it cannot give, is
    logged and skipped: those securities' sessions stay unknown (their gaps and staleness NULL).
    Returns how many sessions were added."""
    assign_calendars(conn)
    stored = 0
    for calendar, first_bar, covered_first, covered_last in conn.execute(CALENDARS_IN_USE).all():
        wanted = (min(start, first_bar or start), end)
        for span_start, span_end in missing_spans(wanted, (covered_first, covered_last)):
            try:
                days = sessions(calendar, span_start, span_end)
            except Exception as error:  # exchange_calendars raises several kinds
                log.warning(
                    "sessions of %s from %s to %s unknown: %s",
                    calendar,
                    span_start,
                    span_end,
                    error,
                )
                continue
            if days:
                conn.execute(INSERT_SESSION, [{"calendar": calendar, "date": d} for d in days])
            stored += len(days)
    return stored
