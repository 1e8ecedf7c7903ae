"""The quarantine as an operator sees it: the rows loads refused, listed and shown, and an
operator's resolution of them (migration 0020).

Resolving sets `resolved_at`, `resolution`, `resolved_by` and `resolution_note` of each row, in
one transaction, after every row named was found open (or `force`): a row not found or already
resolved refuses the whole command, nothing written. What a resolution does is the loader's
(`rm_pipeline.ingest.quarantine`):

- accepted: an `unexplained_jump` is an accepted move, which the next load of the ticker covering
  its date stores; an `unexplained_restatement` lets the next load replace the ticker's history;
  other rows (a value a column cannot hold) stay out whatever: accepting them only closes them;
- rejected: the source is wrong; the row stays out and a later load refusing it again does not
  reopen it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, text

Resolution = Literal["accepted", "rejected"]
"""What an operator may decide: 'settled' and 'repaired' are the loader's."""

COLUMNS = (
    "id, table_name, ticker, date, reason, raw_values, data_source, run_id, first_seen_at, "
    "last_seen_at, resolved_at, resolution, resolved_by, resolution_note"
)
MATCHING = """
    (cardinality(CAST(:tickers AS text[])) = 0 OR ticker = ANY(CAST(:tickers AS text[])))
    AND (CAST(:reason AS text) IS NULL OR left(reason, length(CAST(:reason AS text))) = :reason)
    AND (CAST(:since AS date) IS NULL OR date >= :since)
    AND (CAST(:until AS date) IS NULL OR date <= :until)
    AND (CAST(:run AS text) IS NULL OR left(run_id, length(CAST(:run AS text))) = :run)
    AND (:include_resolved OR resolved_at IS NULL)
"""
"""The rows a filter matches; every criterion is optional."""
LISTED = text(
    f"SELECT {COLUMNS} FROM quarantine WHERE {MATCHING} "  # noqa: S608 (this module's SQL only)
    "ORDER BY last_seen_at DESC, ticker, date, id LIMIT :limit"
)
COUNTED = text(
    f"SELECT count(*), count(DISTINCT ticker) FROM quarantine WHERE {MATCHING}"  # noqa: S608 (this module's SQL only)
)
ONE_ROW = text(f"SELECT {COLUMNS} FROM quarantine WHERE id = :id")  # noqa: S608 (this module's SQL only)
ROWS_FOR_UPDATE = text(
    f"SELECT {COLUMNS} FROM quarantine WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"  # noqa: S608 (this module's SQL only)
)
OPEN_ROWS_FOR_UPDATE = text(
    f"SELECT {COLUMNS} FROM quarantine WHERE ticker = :ticker "  # noqa: S608 (this module's SQL only)
    "AND left(reason, length(CAST(:reason AS text))) = :reason AND resolved_at IS NULL "
    "ORDER BY date, id FOR UPDATE"
)
RESOLVE = text(
    "UPDATE quarantine SET resolved_at = LOCALTIMESTAMP, resolution = :resolution, "
    "resolved_by = :resolved_by, resolution_note = :note WHERE id = ANY(:ids)"
)


@dataclass(frozen=True)
class QuarantinedRow:
    """One row of the quarantine; `status` is `open` or its resolution."""

    id: int
    table_name: str
    ticker: str
    date: date | None
    reason: str
    raw_values: dict[str, Any] | None
    data_source: str
    run_id: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    resolved_by: str | None
    resolution_note: str | None

    @property
    def status(self) -> str:
        """`open`, or how the row was resolved (a row resolved by hand in SQL is accepted)."""
        if self.resolved_at is None:
            return "open"
        return self.resolution or "accepted"

    @property
    def kind(self) -> str:
        """The reason's code, before its ':' (`unexplained_jump`, `repaired`, ...)."""
        return self.reason.partition(":")[0].strip()

    @property
    def detail(self) -> str:
        """The reason after its code ('' when it has none)."""
        return self.reason.partition(":")[2].strip()


@dataclass(frozen=True)
class QuarantineFilter:
    """Which rows to list: every criterion is optional; open rows only unless
    `include_resolved`."""

    tickers: tuple[str, ...] = ()
    reason: str | None = None
    """A prefix of the reason, e.g. `unexplained_jump`."""
    since: date | None = None
    until: date | None = None
    run: str | None = None
    """A run id, or its first characters."""
    include_resolved: bool = False

    def parameters(self) -> dict[str, Any]:
        return {
            "tickers": list(self.tickers),
            "reason": self.reason,
            "since": self.since,
            "until": self.until,
            "run": self.run,
            "include_resolved": self.include_resolved,
        }


@dataclass(frozen=True)
class QuarantineListing:
    """The first rows a filter matches, and how many rows and tickers it matches in all."""

    rows: list[QuarantinedRow]
    total: int
    tickers: int

    @property
    def more(self) -> int:
        """Matching rows beyond those listed."""
        return self.total - len(self.rows)


class CannotResolve(ValueError):
    """A row named cannot be resolved: unknown, or already resolved; nothing was written."""


def list_quarantined(
    conn: Connection, where: QuarantineFilter, limit: int = 50
) -> QuarantineListing:
    """The rows matching `where`, most recently refused first, up to `limit`."""
    parameters = where.parameters()
    rows = [QuarantinedRow(*row) for row in conn.execute(LISTED, {**parameters, "limit": limit})]
    total, tickers = conn.execute(COUNTED, parameters).one()
    return QuarantineListing(rows, total, tickers)


def quarantined_row(conn: Connection, row_id: int) -> QuarantinedRow | None:
    """The row numbered `row_id`, or None."""
    row = conn.execute(ONE_ROW, {"id": row_id}).first()
    return QuarantinedRow(*row) if row is not None else None


def resolve(
    conn: Connection,
    ids: Sequence[int],
    resolution: Resolution,
    resolved_by: str | None,
    note: str | None = None,
    force: bool = False,
) -> list[QuarantinedRow]:
    """Resolve the rows numbered `ids`, each open (or any, with `force`); the rows as resolved.
    Raises CannotResolve, naming the first row at fault, before writing anything."""
    found = {row.id: row for row in map(_row, conn.execute(ROWS_FOR_UPDATE, {"ids": list(ids)}))}
    for row_id in ids:
        row = found.get(row_id)
        if row is None:
            raise CannotResolve(f"quarantine row {row_id}: no such row")
        if row.status != "open" and not force:
            raise CannotResolve(
                f"quarantine row {row_id} ({row.ticker} {row.date or 'undated'}) is already "
                f"{row.status} since {row.resolved_at:%Y-%m-%d %H:%M}; --force to resolve it again"
            )
    return _resolve(
        conn, [found[row_id] for row_id in dict.fromkeys(ids)], resolution, resolved_by, note
    )


def resolve_open(
    conn: Connection,
    ticker: str,
    reason: str,
    resolution: Resolution,
    resolved_by: str | None,
    note: str | None = None,
) -> list[QuarantinedRow]:
    """Resolve every open row of `ticker` whose reason starts with `reason`; the rows as
    resolved. Raises CannotResolve when there is none."""
    rows = [
        _row(row)
        for row in conn.execute(OPEN_ROWS_FOR_UPDATE, {"ticker": ticker, "reason": reason})
    ]
    if not rows:
        raise CannotResolve(f"no open quarantine row of {ticker} with a reason starting {reason!r}")
    return _resolve(conn, rows, resolution, resolved_by, note)


def _resolve(
    conn: Connection,
    rows: list[QuarantinedRow],
    resolution: Resolution,
    resolved_by: str | None,
    note: str | None,
) -> list[QuarantinedRow]:
    ids = [row.id for row in rows]
    parameters = {"ids": ids, "resolution": resolution, "resolved_by": resolved_by, "note": note}
    conn.execute(RESOLVE, parameters)
    resolved = {row.id: row for row in map(_row, conn.execute(ROWS_FOR_UPDATE, {"ids": ids}))}
    return [resolved[row_id] for row_id in ids]


def _row(row: Any) -> QuarantinedRow:
    return QuarantinedRow(*row)
