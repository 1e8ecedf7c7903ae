"""Missing sessions in the price history, kept as facts in `price_gaps` (migration 0015).

A gap is a run of consecutive sessions of a security's trading calendar (`market_sessions`) with
no bar, between the security's first and last stored bar. A holiday is no session, so never a gap;
sessions after the last bar are staleness (the freshness check's), not a gap.

`refresh_gaps` keeps the table true after a load of [start, end], in the load's transaction. Bars
are only ever added by a load, inside its range, so a load can create or fill gaps only between
each loaded security's last bar before `start` and its first bar after `end`: that span is
recomputed and the stored gaps overlapping it are replaced, in one statement. First each span's
sessions and the security's bars over the same dates are merged (a full join of the two index
ranges, which PostgreSQL runs as a merge or hash join, never as a lookup per session) to count
the sessions without a bar; only the spans missing one go on to gaps-and-islands over their
sessions. There each session's bar is looked up in the (security_id, date) index: joined instead,
the planner, which cannot know how short the spans are, hashes the whole of `price_history` for a
night's two sessions a security, a scan that grows with every day stored (0.7 to 0.9 s of a
night's load at 2.5 million bars, 0.03 to 0.04 s looked up). Without the count first, a refresh
over whole histories (a backfill's, a rescan) looked up every session: 3.6 s over 500 securities'
15 years (1.9 million bars), 0.6 s merged when none is missing. `price_gap_coverage` records, per
security, the span of its history the stored gaps are complete for (its first and last bar when
refreshed). A security without coverage, or whose bars reach beyond it (history written before
revision 0015, or while its sessions were unknown), gets its whole history scanned instead, by
whichever refresh runs next, whatever securities that refresh was asked about: so the first load
after the upgrade scans every stored history once, and each later load only what it touched. A
re-fetch that replaces a history is refreshed over the whole of it (`WHOLE_HISTORY`). Bars written
or deleted outside a load (by hand) are noticed when a load's span, or a rescan, next covers them.

A security whose calendar is NULL, or whose sessions are not stored at the ends of its span, has
unknown gaps: nothing is written for it, its coverage stays short of its history, and the check
reports it as unchecked rather than as having none.

Refreshes take a transaction-level advisory lock, so two loads at once (of different shares or
runs) replace a security's gaps one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

WHOLE_HISTORY = (date.min, date.max)
"""A load range covering every bar: `refresh_gaps(conn, *WHOLE_HISTORY, ids)` rescans those
securities' whole histories."""

REFRESH_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('rm_pipeline.price_gaps'))")

REFRESH_GAPS = text(
    """
    WITH histories AS (
        SELECT s.id, s.ticker, s.trading_calendar AS calendar, bounds.first, bounds.last,
               c.first_date AS covered_first, c.last_date AS covered_last,
               (CAST(:every AS boolean) OR s.id = ANY(CAST(:ids AS uuid[]))) AS loaded
        FROM securities AS s
        CROSS JOIN LATERAL bar_span(s.id) AS bounds
        LEFT JOIN price_gap_coverage AS c ON c.security_id = s.id
        WHERE bounds.first IS NOT NULL
    ),
    touched AS (
        SELECT h.*,
               coalesce((SELECT b.date FROM latest_bar(h.id, CAST(:start AS date) - 1) AS b),
                        h.first) AS lo,
               coalesce((SELECT b.date FROM next_bar(h.id, :end) AS b), h.last) AS hi
        FROM histories AS h
    ),
    judged AS (
        SELECT t.*,
               coalesce(t.loaded AND t.lo <= t.covered_last AND t.covered_first <= t.hi
                        AND least(t.covered_first, t.lo) <= t.first
                        AND greatest(t.covered_last, t.hi) >= t.last, false) AS extends,
               coalesce(t.covered_first = t.first AND t.covered_last = t.last, false) AS covered
        FROM touched AS t
    ),
    spans AS (
        SELECT j.id, j.ticker, j.calendar, j.first, j.last,
               CASE WHEN j.extends THEN j.lo ELSE j.first END AS lo,
               CASE WHEN j.extends THEN j.hi ELSE j.last END AS hi
        FROM judged AS j
        WHERE j.extends OR NOT j.covered
    ),
    known AS (
        SELECT sp.* FROM spans AS sp
        WHERE EXISTS (SELECT FROM market_sessions AS m
                      WHERE m.calendar = sp.calendar AND m.date = sp.lo)
          AND EXISTS (SELECT FROM market_sessions AS m
                      WHERE m.calendar = sp.calendar AND m.date = sp.hi)
    ),
    incomplete AS (
        SELECT k.* FROM known AS k
        CROSS JOIN LATERAL (
            SELECT count(*) FILTER (WHERE m.date IS NOT NULL AND p.date IS NULL) AS missing
            FROM (SELECT date FROM market_sessions
                  WHERE calendar = k.calendar AND date BETWEEN k.lo AND k.hi) AS m
            FULL JOIN (SELECT date FROM price_history
                       WHERE security_id = k.id AND date BETWEEN k.lo AND k.hi) AS p
            ON p.date = m.date
        ) AS span
        WHERE span.missing > 0
    ),
    span_sessions AS (
        SELECT k.id AS security_id, m.date,
               NOT EXISTS (SELECT FROM price_history AS p
                           WHERE p.security_id = k.id AND p.date = m.date) AS missing,
               row_number() OVER (PARTITION BY k.id ORDER BY m.date) AS n
        FROM incomplete AS k
        JOIN market_sessions AS m ON m.calendar = k.calendar AND m.date BETWEEN k.lo AND k.hi
    ),
    islands AS (
        SELECT security_id, date,
               n - row_number() OVER (PARTITION BY security_id ORDER BY date) AS island
        FROM span_sessions
        WHERE missing
    ),
    found AS (
        SELECT security_id, min(date) AS first_missing, max(date) AS last_missing,
               CAST(count(*) AS integer) AS sessions
        FROM islands
        GROUP BY security_id, island
    ),
    removed AS (
        DELETE FROM price_gaps AS g
        USING known AS k
        WHERE g.security_id = k.id
          AND (g.first_missing <= k.hi AND g.last_missing >= k.lo  -- in the span recomputed
               OR g.first_missing < k.first OR g.last_missing > k.last)  -- outside the bars
          AND NOT EXISTS (SELECT FROM found AS f
                          WHERE f.security_id = g.security_id
                            AND f.first_missing = g.first_missing)
        RETURNING g.security_id
    ),
    written AS (
        INSERT INTO price_gaps AS g (security_id, first_missing, last_missing, sessions, run_id)
        SELECT security_id, first_missing, last_missing, sessions, :run_id FROM found
        ON CONFLICT (security_id, first_missing) DO UPDATE
        SET last_missing = excluded.last_missing, sessions = excluded.sessions,
            found_at = CURRENT_TIMESTAMP, run_id = excluded.run_id
        WHERE (g.last_missing, g.sessions) IS DISTINCT FROM (excluded.last_missing, excluded.sessions)
        RETURNING g.security_id
    ),
    covered AS (
        INSERT INTO price_gap_coverage AS c (security_id, first_date, last_date, run_id)
        SELECT id, first, last, :run_id FROM known
        ON CONFLICT (security_id) DO UPDATE
        SET first_date = excluded.first_date, last_date = excluded.last_date,
            checked_at = CURRENT_TIMESTAMP, run_id = excluded.run_id
        RETURNING c.security_id
    )
    SELECT k.ticker, f.first_missing, f.last_missing, f.sessions
    FROM found AS f JOIN known AS k ON k.id = f.security_id
    UNION ALL
    SELECT sp.ticker, NULL, NULL, NULL FROM spans AS sp
    WHERE NOT EXISTS (SELECT FROM known AS k WHERE k.id = sp.id)
    ORDER BY 1, 2
    """
)
"""One statement: each security's span to recompute (see the module docstring); of the spans that
miss a session (`incomplete`), the sessions numbered and those without a bar grouped into runs (a
run's sessions number consecutively, so their number minus their rank among the missing is
constant); the stored gaps overlapping any span (or outside the security's bars, after a re-fetch
shortened its history) and not found again deleted, the found ones written (one found again
unchanged keeps its `found_at`), the coverage extended. Returns each gap found, then each security
whose span could not be checked (NULL dates)."""

OPEN_GAPS = text(
    """
    SELECT s.ticker, g.first_missing, g.last_missing, g.sessions
    FROM price_gaps AS g JOIN securities AS s ON s.id = g.security_id
    WHERE s.is_active
    ORDER BY s.ticker, g.first_missing
    """
)

GAPS_NEAR = text(
    """
    SELECT s.ticker, g.first_missing, g.last_missing, g.sessions
    FROM price_gaps AS g JOIN securities AS s ON s.id = g.security_id
    WHERE (SELECT b.date FROM latest_bar(g.security_id, g.first_missing - 1) AS b) <= :end
      AND (SELECT b.date FROM next_bar(g.security_id, g.last_missing) AS b) >= :start
    ORDER BY s.ticker, g.first_missing
    """
)

UNCHECKED = text(
    """
    SELECT s.ticker
    FROM securities AS s
    CROSS JOIN LATERAL bar_span(s.id) AS bounds
    LEFT JOIN price_gap_coverage AS c ON c.security_id = s.id
    WHERE s.is_active AND bounds.first IS NOT NULL
      AND (c.security_id IS NULL OR c.first_date > bounds.first OR c.last_date < bounds.last)
    ORDER BY s.ticker
    """
)


@dataclass(frozen=True)
class Gap:
    """Consecutive sessions of a security's calendar without a bar."""

    ticker: str
    first_missing: date
    last_missing: date
    sessions: int

    def describe(self) -> str:
        """`AAPL: 2005-12-30 to 2024-11-29 (4,762 sessions)`."""
        days = (
            f"{self.first_missing}"
            if self.first_missing == self.last_missing
            else f"{self.first_missing} to {self.last_missing}"
        )
        plural = "session" if self.sessions == 1 else "sessions"
        return f"{self.ticker}: {days} ({self.sessions:,} {plural})"


def gap_lines(gaps: Sequence[Gap], limit: int = 20) -> list[str]:
    """A line per gap (`Gap.describe`), the first `limit` of them, then how many more."""
    lines = [gap.describe() for gap in gaps[:limit]]
    if (more := len(gaps) - limit) > 0:
        lines.append(f"and {more:,} more {'gap' if more == 1 else 'gaps'}")
    return lines


def refresh_gaps(
    conn: Connection,
    start: date,
    end: date,
    security_ids: Sequence[str] | None = None,
    run_id: str | None = None,
) -> list[Gap]:
    """Recompute the gaps a load of [start, end] of `security_ids` (None: every security) can
    have changed, and those of any security not covered yet, in the caller's transaction (see the
    module docstring). Returns the gaps found in the spans recomputed; securities whose gaps stay
    unknown are logged."""
    conn.execute(REFRESH_LOCK)
    params = {
        "every": security_ids is None,
        "ids": list(security_ids or ()),
        "start": start,
        "end": end,
        "run_id": run_id,
    }
    gaps, unknown = [], []
    for ticker, first, last, sessions in conn.execute(REFRESH_GAPS, params):
        if first is None:
            unknown.append(ticker)
        else:
            gaps.append(Gap(ticker, first, last, sessions))
    if unknown:
        log.warning(
            "missing sessions of %s unknown: no trading calendar, or its sessions not stored",
            ", ".join(unknown),
        )
    return gaps


def open_gaps(conn: Connection) -> list[Gap]:
    """Every stored gap of an active security, by ticker and date."""
    return [Gap(*row) for row in conn.execute(OPEN_GAPS)]


def gaps_near(conn: Connection, start: date, end: date) -> list[Gap]:
    """The stored gaps inside [start, end] or adjacent to it: those whose bar before or after
    lies in it, or that span it whole."""
    return [Gap(*row) for row in conn.execute(GAPS_NEAR, {"start": start, "end": end})]


def unchecked_securities(conn: Connection) -> list[str]:
    """Tickers of active securities with bars whose gaps are not known over their whole history."""
    return list(conn.execute(UNCHECKED).scalars())
