"""The analyzer's database side: which trades need analysis, their inputs, and the results.

A trade needs analysis when it is a draft or an active trade and either it was never analyzed
(`analyzed_at` is NULL; setting it to NULL forces a new analysis) or the fingerprint of its inputs
(the view `trade_input_fingerprints` of migrations 0003 and 0006: name, description and every
position's id, security, side, type, allocation and its security's latest bar) differs from the
`analysis_fingerprint` stored with the results. Closed and archived trades keep the analysis they
had. The rule is SQL, so trades and positions written by other applications straight into the
database are noticed too. An analysis older than `MAX_ANALYSIS_AGE_DAYS` (7) is also redone: how
recent its prices are was judged on the day it was made, and prices that stop coming (a delisted or
failing ticker) change no fingerprint, so an analysis that called them current comes to call them
stale within a week of that.

`analyze_pending` reads a batch of trades with their fingerprints in one statement, and in a second
the closes each trade's analysis wants: for every trade, its securities' closes from the first of
the last `history_days` dates on which all of them have a close (each security's later closes
included, so the analyzer sees how far each one reaches), or each security's last `history_days`
closes when they share no date. Each position carries its security's trading calendar, by the
rule the whole pipeline uses (`rm_pipeline.core.calendars.calendar_for`: `24/7` for crypto, else
its stored exchange's, the ticker's suffix when the exchange is unknown). It analyzes them as of
the caller's clock's date (today by default), outside any transaction (an analyzer may be slow),
then writes all results of the batch in one transaction, each only if the trade's live
fingerprint still equals the one analyzed. A trade changed meanwhile is left alone and stays
pending. `analyzed_at` is the writing transaction's CURRENT_TIMESTAMP, the same instant the
`updated_at` triggers stamp on the rows it writes, so `analyzed_at >= updated_at` holds afterwards
as well.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from rm_pipeline.app.clock import Clock, utc_now
from rm_pipeline.core.analysis import (
    HORIZONS,
    Analyzer,
    PositionInput,
    Side,
    StatisticalAnalyzer,
    TradeAnalysis,
    TradeInput,
)
from rm_pipeline.core.calendars import calendar_for

log = logging.getLogger(__name__)

ANALYZED_STATUSES = ["draft", "active"]
SIDES = frozenset(side.value for side in Side)
DEFAULT_ANALYZER = StatisticalAnalyzer()
MAX_ANALYSIS_AGE_DAYS = 7
"""An analysis older than this is redone even when its inputs are unchanged (see above)."""

PENDING_SQL = text(
    """
    SELECT t.id
    FROM trades t
    JOIN trade_input_fingerprints f ON f.trade_id = t.id
    WHERE t.status = ANY(:statuses)
      AND (t.analyzed_at IS NULL
           OR t.analysis_fingerprint IS DISTINCT FROM f.fingerprint
           OR t.analyzed_at < LOCALTIMESTAMP - make_interval(days => :max_age_days))
    ORDER BY t.created_at, t.id
    """
)

PENDING_STATE_SQL = text(
    """
    SELECT CAST(t.id AS text), f.fingerprint, CAST(t.updated_at AS text)
    FROM trades t JOIN trade_input_fingerprints f ON f.trade_id = t.id
    WHERE t.id = ANY(:ids) ORDER BY t.id
    """
)

INPUTS_SQL = text(
    """
    SELECT t.id AS trade_id, t.trade_name, t.trade_description, f.fingerprint,
           p.id AS position_id, p.security_id, s.ticker, s.security_type, s.exchange,
           p.position_type, p.allocation_percent
    FROM trades t
    JOIN trade_input_fingerprints f ON f.trade_id = t.id
    LEFT JOIN positions p ON p.trade_id = t.id
    LEFT JOIN securities s ON s.id = p.security_id
    WHERE t.id = ANY(:trade_ids) AND t.status = ANY(:statuses)
    ORDER BY t.id, p.id
    """
)

CLOSES_SQL = text(
    """
    WITH legs AS (
        SELECT DISTINCT trade_id, security_id
        FROM unnest(CAST(:trade_ids AS uuid[]), CAST(:security_ids AS uuid[]))
            AS l(trade_id, security_id)
    ),
    windows AS (
        SELECT t.trade_id, (
            SELECT min(common.date) FROM (
                SELECT h.date
                FROM legs AS l JOIN price_history AS h ON h.security_id = l.security_id
                WHERE l.trade_id = t.trade_id
                GROUP BY h.date
                HAVING count(*) = t.legs
                ORDER BY h.date DESC
                LIMIT :days
            ) AS common
        ) AS since
        FROM (SELECT trade_id, count(*) AS legs FROM legs GROUP BY trade_id) AS t
    )
    SELECT l.trade_id, l.security_id, h.date, h.close::float8 AS close
    FROM legs AS l
    JOIN windows AS w ON w.trade_id = l.trade_id
    CROSS JOIN LATERAL (
        SELECT date, close FROM price_history
        WHERE security_id = l.security_id AND date >= coalesce(w.since, '-infinity'::date)
        ORDER BY date DESC
        LIMIT CASE WHEN w.since IS NULL THEN :days END
    ) AS h
    ORDER BY l.trade_id
    """
)

ANALYSIS_COLUMNS = (
    "ai_rationale",
    "recommendation",
    "risk_level",
    "return_1m",
    "return_3m",
    "return_6m",
    "return_1y",
    "return_3y",
    "analysis_fingerprint",
    "analyzed_at",
)
"""The columns of `trades` that `WRITE_TRADES_SQL` sets."""

WRITE_TRADES_SQL = text(
    """
    UPDATE trades t
    SET ai_rationale = r.rationale,
        recommendation = r.recommendation,
        risk_level = r.risk_level,
        return_1m = r.return_1m,
        return_3m = r.return_3m,
        return_6m = r.return_6m,
        return_1y = r.return_1y,
        return_3y = r.return_3y,
        analysis_fingerprint = r.fingerprint,
        analyzed_at = CURRENT_TIMESTAMP
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:fingerprints AS text[]), CAST(:rationales AS text[]),
        CAST(:recommendations AS text[]), CAST(:risk_levels AS text[]),
        CAST(:return_1m AS numeric[]), CAST(:return_3m AS numeric[]),
        CAST(:return_6m AS numeric[]), CAST(:return_1y AS numeric[]),
        CAST(:return_3y AS numeric[])
    ) AS r(id, fingerprint, rationale, recommendation, risk_level,
           return_1m, return_3m, return_6m, return_1y, return_3y)
    JOIN trade_input_fingerprints f ON f.trade_id = r.id AND f.fingerprint = r.fingerprint
    WHERE t.id = r.id AND t.status = ANY(:statuses)
    RETURNING t.id
    """
)

WRITE_POSITIONS_SQL = text(
    """
    UPDATE positions p
    SET rationale = r.rationale
    FROM unnest(CAST(:ids AS uuid[]), CAST(:rationales AS text[])) AS r(id, rationale)
    WHERE p.id = r.id AND p.trade_id = ANY(CAST(:trade_ids AS uuid[]))
    """
)


@dataclass(frozen=True)
class PendingTrade:
    """A trade's analysis inputs as read, with the fingerprint of exactly these inputs."""

    id: uuid.UUID
    fingerprint: str
    trade: TradeInput
    position_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class AnalysisSummary:
    """What `analyze_pending` did.

    `changed`: trades whose inputs changed (or that left draft and active) while they were being
    analyzed; nothing was written for them. `invalid`: trades the analyzer cannot take as stored
    (e.g. a position that is neither long nor short), with the reason. Both stay pending.
    """

    pending: int
    analyzed: tuple[uuid.UUID, ...]
    changed: tuple[uuid.UUID, ...]
    invalid: Mapping[uuid.UUID, str] = field(default_factory=dict)


def trades_needing_analysis(conn: Connection) -> list[uuid.UUID]:
    """Ids of the trades that need analysis, oldest first."""
    params = {"statuses": ANALYZED_STATUSES, "max_age_days": MAX_ANALYSIS_AGE_DAYS}
    return list(conn.execute(PENDING_SQL, params).scalars())


def pending_state(conn: Connection, trade_ids: Sequence[uuid.UUID]) -> list[tuple[str, str, str]]:
    """What says whether pending trades changed: each one's id, input fingerprint and last
    change, in order of id."""
    return [(i, f, u) for i, f, u in conn.execute(PENDING_STATE_SQL, {"ids": list(trade_ids)})]


def load_trade_inputs(
    conn: Connection, trade_ids: Sequence[uuid.UUID]
) -> tuple[list[PendingTrade], dict[uuid.UUID, str]]:
    """The analysis inputs of those trades still draft or active, and the invalid ones' reasons."""
    rows = conn.execute(
        INPUTS_SQL, {"trade_ids": list(trade_ids), "statuses": ANALYZED_STATUSES}
    ).all()
    loaded: list[PendingTrade] = []
    invalid: dict[uuid.UUID, str] = {}
    for trade_id, trade_rows in groupby(rows, key=lambda row: row.trade_id):
        group = list(trade_rows)
        bad_sides = [row for row in group if row.position_id and row.position_type not in SIDES]
        if bad_sides:
            invalid[trade_id] = ", ".join(
                f"position {row.position_id} has position_type {row.position_type!r}"
                for row in bad_sides
            )
        else:
            loaded.append(pending_trade(group))
    return loaded, invalid


def pending_trade(rows: Sequence[Any]) -> PendingTrade:
    """One trade's rows of `INPUTS_SQL` (one per position, or one with NULL position columns)."""
    first = rows[0]
    positions = [row for row in rows if row.position_id is not None]
    return PendingTrade(
        id=first.trade_id,
        fingerprint=first.fingerprint,
        trade=TradeInput(
            name=first.trade_name,
            description=first.trade_description,
            positions=tuple(
                PositionInput(
                    security=str(row.security_id),
                    side=Side(row.position_type),
                    allocation_percent=float(row.allocation_percent),
                    ticker=row.ticker,
                    calendar=calendar_for(row.exchange, row.security_type, row.ticker),
                )
                for row in positions
            ),
        ),
        position_ids=tuple(row.position_id for row in positions),
    )


def load_closes(
    conn: Connection, trades: Sequence[PendingTrade], days: int
) -> dict[uuid.UUID, pd.DataFrame]:
    """Per trade, its securities' closes over its last `days` common dates and after (see the
    module docstring): rows by date, a column per security id."""
    legs = [(t.id, p.security) for t in trades for p in t.trade.positions]
    rows = conn.execute(
        CLOSES_SQL,
        {
            "trade_ids": [trade_id for trade_id, _ in legs],
            "security_ids": [security for _, security in legs],
            "days": days,
        },
    ).all()
    frames = {t.id: pd.DataFrame(dtype=float) for t in trades}
    for trade_id, trade_rows in groupby(rows, key=lambda row: row.trade_id):
        frame = pd.DataFrame(
            [(str(r.security_id), r.date, r.close) for r in trade_rows],
            columns=["security_id", "date", "close"],
        )
        frame["date"] = pd.to_datetime(frame["date"])
        frames[trade_id] = frame.pivot(index="date", columns="security_id", values="close")
    return frames


def write_analyses(
    conn: Connection, results: Sequence[tuple[PendingTrade, TradeAnalysis]]
) -> list[uuid.UUID]:
    """Store the results whose trade's inputs are unchanged; returns those trades' ids."""
    if not results:
        return []
    trades = [pending for pending, _ in results]
    analyses = [analysis for _, analysis in results]
    written = list(
        conn.execute(
            WRITE_TRADES_SQL,
            {
                "ids": [t.id for t in trades],
                "fingerprints": [t.fingerprint for t in trades],
                "rationales": [a.rationale for a in analyses],
                "recommendations": [str(a.recommendation) for a in analyses],
                "risk_levels": [
                    None if a.risk_level is None else str(a.risk_level) for a in analyses
                ],
                **{f"return_{h}": [a.returns[h] for a in analyses] for h in HORIZONS},
                "statuses": ANALYZED_STATUSES,
            },
        ).scalars()
    )
    positions = [
        (position_id, rationale)
        for pending, analysis in results
        for position_id, rationale in zip(
            pending.position_ids, analysis.position_rationales, strict=True
        )
    ]
    if written and positions:
        conn.execute(
            WRITE_POSITIONS_SQL,
            {
                "ids": [position_id for position_id, _ in positions],
                "rationales": [rationale for _, rationale in positions],
                "trade_ids": written,
            },
        )
    return written


def analyze_pending(
    engine: Engine,
    analyzer: Analyzer = DEFAULT_ANALYZER,
    *,
    batch_size: int = 100,
    clock: Clock = utc_now,
) -> AnalysisSummary:
    """Analyze every trade that needs it as of the clock's date and store the results; see the
    module docstring."""
    as_of = clock().date()
    with engine.connect() as conn:
        pending = trades_needing_analysis(conn)
    analyzed: list[uuid.UUID] = []
    invalid: dict[uuid.UUID, str] = {}
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        with engine.connect() as conn:
            inputs, problems = load_trade_inputs(conn, batch)
            closes = load_closes(conn, inputs, analyzer.history_days)
        invalid.update(problems)
        results = [(item, analyzer.analyze(item.trade, closes[item.id], as_of)) for item in inputs]
        with engine.begin() as conn:
            analyzed += write_analyses(conn, results)
    done = set(analyzed) | set(invalid)
    summary = AnalysisSummary(
        pending=len(pending),
        analyzed=tuple(analyzed),
        changed=tuple(t for t in pending if t not in done),
        invalid=invalid,
    )
    for trade_id, reason in invalid.items():
        log.warning("trade %s cannot be analyzed: %s", trade_id, reason)
    log.info(
        "analyzed %d of %d pending trades (%d changed meanwhile, %d invalid)",
        len(summary.analyzed),
        summary.pending,
        len(summary.changed),
        len(summary.invalid),
    )
    return summary
