"""Rows a load set aside, written to the `quarantine` table (migration 0007) with their reason,
the values the source sent, the source and the run, in the load's own transaction. The values of
a repaired bar are kept the same way, resolved as they are written (`keep_repaired`, resolution
'repaired').

A row is open until it is resolved (`resolved_at`), and how it was resolved is its `resolution`
(migration 0020):

- 'settled': the load settled it itself, when a security's history was replaced at one scale
  (`resolve_scale_holds`: resolved and seen at the same moment);
- 'accepted': an operator let it in (`rm-pipeline quarantine resolve`, `rm_pipeline.warehouse.
  quarantine`): an accepted jump is an accepted move (`accepted_jumps`), and a restatement
  accepted after it was last seen is an accepted restatement (`accepted_restatement`): the next
  load replaces the stored history with the source's, recording no split, and marks the
  acceptance used (`last_seen_at` moves past it). A row resolved by hand in SQL (a `resolved_at`
  with no resolution) counts as accepted;
- 'rejected': an operator confirmed the source is wrong (`rm-pipeline quarantine reject`): the row
  stays out, and a load refusing it again refreshes its run and `last_seen_at` but does not reopen
  it. Any other row refused again is open again (its resolution cleared)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame

REOPENED = "CASE WHEN target.resolution = 'rejected' THEN target.{column} END"
"""A row refused again is open again, unless an operator rejected it: then it stays so."""
QUARANTINE = UpsertSpec(
    table="quarantine",
    columns=("table_name", "ticker", "date", "reason", "raw_values", "data_source", "run_id"),
    key_columns=("table_name", "ticker", "date", "reason", "data_source"),
    compare_columns=("raw_values", "run_id", "resolved_at"),
    on_change={
        "last_seen_at": "CURRENT_TIMESTAMP",
        **{
            column: REOPENED.format(column=column)
            for column in ("resolved_at", "resolution", "resolved_by", "resolution_note")
        },
    },
)
"""Refused rows: a new row is open (`resolved_at` NULL); a row refused again with other values, in
another run, or once resolved, refreshes its run and `last_seen_at` (see `REOPENED`)."""

RESOLVE_SCALE_HOLDS = text(
    "UPDATE quarantine SET resolved_at = CURRENT_TIMESTAMP, last_seen_at = CURRENT_TIMESTAMP, "
    "resolution = CASE WHEN resolved_at IS NULL THEN 'settled' "
    "ELSE coalesce(resolution, 'accepted') END "
    "WHERE ticker = :ticker "
    "AND (reason LIKE 'unexplained_jump%' OR reason LIKE 'unexplained_restatement%') "
    "AND (resolved_at IS NULL OR resolved_at > last_seen_at) "
    "AND resolution IS DISTINCT FROM 'rejected'"
)
KEPT_REPAIRS = UpsertSpec(
    table=QUARANTINE.table,
    columns=(*QUARANTINE.columns, "resolved_at", "resolution"),
    key_columns=QUARANTINE.key_columns,
    compare_columns=("raw_values",),
    on_change={"last_seen_at": "CURRENT_TIMESTAMP"},
)
"""The raw values of repaired bars: resolved when written, rewritten only when they change."""
TRANSACTION_TIME = text("SELECT LOCALTIMESTAMP")
ACCEPTED = "(resolution = 'accepted' OR (resolution IS NULL AND resolved_at IS NOT NULL))"
"""An accepted row: resolution 'accepted', or resolved by hand in SQL before resolutions were
recorded."""
ACCEPTED_RESTATEMENT = text(
    "SELECT EXISTS (SELECT FROM quarantine WHERE ticker = :ticker "  # noqa: S608 (module SQL)
    "AND reason LIKE 'unexplained_restatement%' AND resolved_at > last_seen_at "
    f"AND {ACCEPTED})"
)
ACCEPTED_JUMPS = text(
    "SELECT ticker, date FROM quarantine WHERE ticker = ANY(:tickers) "  # noqa: S608 (module SQL)
    f"AND reason LIKE 'unexplained_jump%' AND {ACCEPTED}"
)


def quarantine(
    conn: Connection, rejected: pd.DataFrame, table_name: str, source: str, run_id: str | None
) -> LoadResult:
    """Keep each rejected row (a RejectedFrame: ticker, date, reason, raw); a row refused again
    refreshes its run and `last_seen_at` and is open again, unless an operator rejected it."""
    if rejected.empty:
        return LoadResult()
    return upsert_frame(conn, _rows(rejected, table_name, source, run_id), QUARANTINE)


def keep_repaired(
    conn: Connection, raw: pd.DataFrame, table_name: str, source: str, run_id: str | None
) -> LoadResult:
    """Keep the values the source sent for each repaired bar (a RejectedFrame), resolved at
    once: a record, not a row waiting on anyone. A reload sending the same values writes
    nothing."""
    if raw.empty:
        return LoadResult()
    now = conn.execute(TRANSACTION_TIME).scalar_one()
    rows = _rows(raw, table_name, source, run_id).assign(resolved_at=now, resolution="repaired")
    return upsert_frame(conn, rows, KEPT_REPAIRS)


def _rows(
    rejected: pd.DataFrame,
    table_name: str,
    source: str,
    run_id: str | None,
) -> pd.DataFrame:
    rows = rejected.drop_duplicates(["ticker", "date", "reason"]).assign(
        table_name=table_name,
        date=lambda f: pd.to_datetime(f["date"]).astype("date32[pyarrow]"),
        raw_values=lambda f: f["raw"],
        data_source=source,
        run_id=run_id,
    )
    return rows.loc[:, list(QUARANTINE.columns)]


def resolve_scale_holds(conn: Connection, ticker: str) -> None:
    """The ticker's history was re-fetched at one scale: its open jumps and restatements are
    settled, and an operator's acceptance is used up (it stays accepted); rejected rows stay
    rejected."""
    conn.execute(RESOLVE_SCALE_HOLDS, {"ticker": ticker})


def accepted_restatement(conn: Connection, ticker: str) -> bool:
    """Whether an operator accepted the ticker's held restatement since it was last seen."""
    return bool(conn.execute(ACCEPTED_RESTATEMENT, {"ticker": ticker}).scalar_one())


def accepted_jumps(conn: Connection, tickers: list[str]) -> set[tuple[str, pd.Timestamp]]:
    """(ticker, date) of split-like moves an operator accepted (resolution 'accepted')."""
    return {(t, pd.Timestamp(d)) for t, d in conn.execute(ACCEPTED_JUMPS, {"tickers": tickers})}


@dataclass(frozen=True)
class RefusedTicker:
    """A ticker's rows a load refused: how many, and the reason of the earliest."""

    ticker: str
    rows: int
    first_reason: str


def refused_per_ticker(rejected: Sequence[pd.DataFrame]) -> list[RefusedTicker]:
    """The tickers of rejected rows (RejectedFrames), most rows first; each row counted once, as
    the quarantine keeps it."""
    frames = [frame for frame in rejected if not frame.empty]
    if not frames:
        return []
    rows = pd.concat(frames, ignore_index=True).drop_duplicates(["ticker", "date", "reason"])
    rows = rows.assign(day=pd.to_datetime(rows["date"])).sort_values(
        ["ticker", "day"], na_position="last", kind="stable"
    )
    found = [
        RefusedTicker(str(ticker), len(group), str(group["reason"].iloc[0]))
        for ticker, group in rows.groupby("ticker", sort=False)
    ]
    return sorted(found, key=lambda refused: (-refused.rows, refused.ticker))


SHOWN_TICKERS = 20
"""Tickers a load's summary names; the rest are counted."""


def refused_table(refused: list[RefusedTicker], shown: int = SHOWN_TICKERS) -> str:
    """A Markdown table of the tickers with refused rows (the first `shown`, then how many more),
    or "none"."""
    if not refused:
        return "none"
    lines = ["| ticker | rows | first reason |", "| --- | ---: | --- |"]
    lines += [
        f"| {r.ticker} | {r.rows:,} | {r.first_reason.replace('|', '/')} |" for r in refused[:shown]
    ]
    if len(refused) > shown:
        more = len(refused) - shown
        lines.append(f"\nand {more:,} more ticker{'s' if more != 1 else ''}")
    return "\n".join(lines)


def list_command(run_id: str) -> str:
    """The command that lists the rows a run refused."""
    return f"rm-pipeline quarantine list --run {run_id[:8]}"
