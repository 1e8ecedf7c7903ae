"""Rows a load set aside, written to the `quarantine` table (migration 0007) with their reason,
the values the source sent, the source and the run, in the load's own transaction."""

from __future__ import annotations

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

RESOLVE_JUMPS = text(
    "UPDATE quarantine SET resolved_at = CURRENT_TIMESTAMP "
    "WHERE ticker = :ticker AND resolved_at IS NULL AND reason LIKE 'unexplained_jump%'"
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
    rows = rejected.drop_duplicates(["ticker", "date", "reason"]).assign(
        table_name=table_name,
        date=lambda f: pd.to_datetime(f["date"]).astype("date32[pyarrow]"),
        raw_values=lambda f: f["raw"],
        data_source=source,
        run_id=run_id,
        resolved_at=None,
    )
    return upsert_frame(conn, rows.loc[:, list(QUARANTINE.columns)], QUARANTINE)


def resolve_jumps(conn: Connection, ticker: str) -> None:
    """The ticker's history was re-fetched at one scale: its quarantined jumps are settled."""
    conn.execute(RESOLVE_JUMPS, {"ticker": ticker})


def accepted_jumps(conn: Connection, tickers: list[str]) -> set[tuple[str, pd.Timestamp]]:
    """(ticker, date) of split-like moves an operator accepted by resolving their quarantine."""
    return {(t, pd.Timestamp(d)) for t, d in conn.execute(ACCEPTED_JUMPS, {"tickers": tickers})}
