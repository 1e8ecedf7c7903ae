"""Rows a load set aside, written to the `quarantine` table (migration 0007) with their reason,
the values the source sent, the source and the run, in the load's own transaction. The values of
a repaired bar are kept the same way, resolved as they are written (`keep_repaired`).

Held scale changes are settled in two ways. The load settles them itself when a security's
history is replaced at one scale (`resolve_scale_holds`: resolved and seen at the same moment). An
operator settles them by setting `resolved_at` by hand: a resolved jump is an accepted move
(`accepted_jumps`), and a restatement resolved after it was last seen is an accepted restatement
(`accepted_restatement`): the next load replaces the stored history with the source's, recording
no split, and marks the acceptance used (`last_seen_at` moves past it)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame

QUARANTINE = UpsertSpec(
    table="quarantine",
    columns=(
        "table_name", "ticker", "date", "reason", "raw_values", "data_source", "run_id",
        "resolved_at",
    ),
    key_columns=("table_name", "ticker", "date", "reason", "data_source"),
    compare_columns=("raw_values", "run_id", "resolved_at"),
    on_change={"last_seen_at": "CURRENT_TIMESTAMP"},
)  # fmt: skip

RESOLVE_SCALE_HOLDS = text(
    "UPDATE quarantine SET resolved_at = CURRENT_TIMESTAMP, last_seen_at = CURRENT_TIMESTAMP "
    "WHERE ticker = :ticker "
    "AND (reason LIKE 'unexplained_jump%' OR reason LIKE 'unexplained_restatement%') "
    "AND (resolved_at IS NULL OR resolved_at > last_seen_at)"
)
KEPT_REPAIRS = UpsertSpec(
    table=QUARANTINE.table,
    columns=QUARANTINE.columns,
    key_columns=QUARANTINE.key_columns,
    compare_columns=("raw_values",),
    on_change=QUARANTINE.on_change,
)
"""The raw values of repaired bars: resolved when written, rewritten only when they change."""
TRANSACTION_TIME = text("SELECT LOCALTIMESTAMP")
ACCEPTED_RESTATEMENT = text(
    "SELECT EXISTS (SELECT FROM quarantine WHERE ticker = :ticker "
    "AND reason LIKE 'unexplained_restatement%' AND resolved_at > last_seen_at)"
)
ACCEPTED_JUMPS = text(
    "SELECT ticker, date FROM quarantine WHERE ticker = ANY(:tickers) "
    "AND resolved_at IS NOT NULL AND reason LIKE 'unexplained_jump%'"
)


def quarantine(
    conn: Connection, rejected: pd.DataFrame, table_name: str, source: str, run_id: str | None
) -> LoadResult:
    """Keep each rejected row (a RejectedFrame: ticker, date, reason, raw); a row refused again
    refreshes its run and `last_seen_at` and is open again."""
    if rejected.empty:
        return LoadResult()
    rows = _rows(rejected, table_name, source, run_id, resolved_at=None)
    return upsert_frame(conn, rows, QUARANTINE)


def keep_repaired(
    conn: Connection, raw: pd.DataFrame, table_name: str, source: str, run_id: str | None
) -> LoadResult:
    """Keep the values the source sent for each repaired bar (a RejectedFrame), resolved at
    once: a record, not a row waiting on anyone. A reload sending the same values writes
    nothing."""
    if raw.empty:
        return LoadResult()
    now = conn.execute(TRANSACTION_TIME).scalar_one()
    return upsert_frame(conn, _rows(raw, table_name, source, run_id, resolved_at=now), KEPT_REPAIRS)


def _rows(
    rejected: pd.DataFrame,
    table_name: str,
    source: str,
    run_id: str | None,
    resolved_at: datetime | None,
) -> pd.DataFrame:
    rows = rejected.drop_duplicates(["ticker", "date", "reason"]).assign(
        table_name=table_name,
        date=lambda f: pd.to_datetime(f["date"]).astype("date32[pyarrow]"),
        raw_values=lambda f: f["raw"],
        data_source=source,
        run_id=run_id,
        resolved_at=resolved_at,
    )
    return rows.loc[:, list(QUARANTINE.columns)]


def resolve_scale_holds(conn: Connection, ticker: str) -> None:
    """The ticker's history was re-fetched at one scale: its held jumps and restatements are
    settled, and an operator's acceptance is used up."""
    conn.execute(RESOLVE_SCALE_HOLDS, {"ticker": ticker})


def accepted_restatement(conn: Connection, ticker: str) -> bool:
    """Whether an operator resolved the ticker's held restatement since it was last seen."""
    return bool(conn.execute(ACCEPTED_RESTATEMENT, {"ticker": ticker}).scalar_one())


def accepted_jumps(conn: Connection, tickers: list[str]) -> set[tuple[str, pd.Timestamp]]:
    """(ticker, date) of split-like moves an operator accepted by resolving their quarantine."""
    return {(t, pd.Timestamp(d)) for t, d in conn.execute(ACCEPTED_JUMPS, {"tickers": tickers})}
