"""`rm-pipeline quarantine ...`: the rows loads refused, listed, shown, accepted or rejected."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Sequence
from datetime import datetime

import click
from sqlalchemy import Engine

from rm_pipeline.cli.providers import ISO_DATE
from rm_pipeline.core.words import counted
from rm_pipeline.db import migrate
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.settings import get_settings
from rm_pipeline.warehouse.quarantine import (
    CannotResolve,
    QuarantinedRow,
    QuarantineFilter,
    Resolution,
    list_quarantined,
    quarantined_row,
    resolve,
    resolve_open,
)

DETAIL_SHOWN = 40
"""Characters of a reason's detail the list shows; `show` prints it whole."""


def _engine() -> Engine:
    url = warehouse_url(get_settings())
    migrate.upgrade(url)
    return get_engine(url)


@click.group()
def quarantine() -> None:
    """The rows loads refused: a value the columns cannot hold, a date that is no session, a
    split-like move with no split reported (unexplained_jump), a history restated at another
    scale (unexplained_restatement), and the values of repaired bars (kept resolved).

    A row is open until it is resolved: accepted by an operator (`resolve`: the row is let in),
    rejected by an operator (`reject`: the source is wrong, the row stays out), settled by a later
    load, or repaired."""


@quarantine.command("list")
@click.option("--ticker", "tickers", multiple=True, help="Only this ticker (repeatable).")
@click.option("--reason", help="Only reasons starting so, e.g. unexplained_jump.")
@click.option("--since", type=ISO_DATE, help="Only rows dated on or after, YYYY-MM-DD.")
@click.option("--until", type=ISO_DATE, help="Only rows dated on or before, YYYY-MM-DD.")
@click.option("--run", help="Only rows last refused by this run (its id or first 8 characters).")
@click.option("--all", "include_resolved", is_flag=True, help="Resolved rows too.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows listed."
)
def list_rows(
    tickers: tuple[str, ...],
    reason: str | None,
    since: datetime | None,
    until: datetime | None,
    run: str | None,
    include_resolved: bool,
    limit: int,
) -> None:
    """List the open rows of the quarantine (every row with --all), most recently refused first:
    id, ticker, date, reason, source, run, when first and last refused, and status (open,
    accepted, rejected, settled or repaired). `show ID` prints a row whole."""
    where = QuarantineFilter(
        tickers=tuple(t.upper() for t in tickers),
        reason=reason,
        since=since.date() if since else None,
        until=until.date() if until else None,
        run=run,
        include_resolved=include_resolved,
    )
    with _engine().connect() as conn:
        listing = list_quarantined(conn, where, limit)
    if not listing.total:
        click.echo("no rows match" if include_resolved else "no open rows match")
        return
    header = ("id", "ticker", "date", "reason", "source", "run", "first seen", "last seen")
    table = [(*header, "status"), *(_cells(row) for row in listing.rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(header) + 1)]
    for cells in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        )
    found = counted(listing.total, "row")
    if listing.total > 1:
        found += f", {counted(listing.tickers, 'ticker')}"
    if listing.more:
        found += f"; {listing.more:,} more beyond the first {len(listing.rows):,} (--limit)"
    click.echo(found)


def _cells(row: QuarantinedRow) -> tuple[str, ...]:
    detail = row.detail
    if len(detail) > DETAIL_SHOWN:
        detail = detail[: DETAIL_SHOWN - 1] + "…"
    return (
        str(row.id),
        row.ticker,
        str(row.date or ""),
        f"{row.kind}: {detail}" if detail else row.kind,
        row.data_source,
        (row.run_id or "")[:8],
        f"{row.first_seen_at:%Y-%m-%d %H:%M}",
        f"{row.last_seen_at:%Y-%m-%d %H:%M}",
        row.status,
    )


@quarantine.command()
@click.argument("row_id", metavar="ID", type=int)
def show(row_id: int) -> None:
    """Print the quarantine row ID whole: every column, the full reason and the values the source
    sent (JSON)."""
    with _engine().connect() as conn:
        row = quarantined_row(conn, row_id)
    if row is None:
        raise click.ClickException(f"quarantine row {row_id}: no such row")
    fields = {
        "id": row.id,
        "status": row.status,
        "table": row.table_name,
        "ticker": row.ticker,
        "date": row.date,
        "reason": row.reason,
        "source": row.data_source,
        "run": row.run_id,
        "first seen": row.first_seen_at,
        "last seen": row.last_seen_at,
        "resolved at": row.resolved_at,
        "resolution": row.resolution,
        "resolved by": row.resolved_by,
        "note": row.resolution_note,
    }
    for name, value in fields.items():
        shown = f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else value
        click.echo(f"{name + ':':<13} {'' if shown is None else shown}".rstrip())
    if row.raw_values is None:
        click.echo("raw values:   none kept")
    else:
        click.echo("raw values:")
        click.echo(json.dumps(row.raw_values, indent=2, sort_keys=True, default=str))


def _resolution_command(resolution: Resolution, name: str, help_text: str) -> Callable[..., None]:
    @quarantine.command(name, help=help_text)
    @click.argument("ids", metavar="[ID]...", nargs=-1, type=int)
    @click.option("--ticker", help="Every open row of this ticker (with --reason).")
    @click.option(
        "--reason", help="...whose reason starts so (with --ticker), e.g. unexplained_jump."
    )
    @click.option("--note", help="Why, kept with the rows (resolution_note).")
    @click.option("--force", is_flag=True, help="Resolve rows already resolved, again.")
    def command(
        ids: tuple[int, ...],
        ticker: str | None,
        reason: str | None,
        note: str | None,
        force: bool,
    ) -> None:
        if ids and (ticker or reason):
            raise click.UsageError("name rows by ID or by --ticker and --reason, not both")
        if not ids and not (ticker and reason):
            raise click.UsageError("name rows by ID, or by --ticker and --reason together")
        user = _user()
        try:
            with _engine().begin() as conn:
                if ids:
                    rows = resolve(conn, ids, resolution, user, note, force)
                else:
                    assert ticker is not None and reason is not None
                    rows = resolve_open(conn, ticker.upper(), reason, resolution, user, note)
        except CannotResolve as error:
            raise click.ClickException(str(error)) from None
        _echo_resolved(rows, resolution)

    return command


def _user() -> str | None:
    """The operator's user name, or None when the system cannot tell."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _echo_resolved(rows: Sequence[QuarantinedRow], resolution: Resolution) -> None:
    for row in rows:
        click.echo(f"{resolution} {row.id}: {row.ticker} {row.date or 'undated'} {row.kind}")
    if resolution == "rejected":
        them = "it" if len(rows) == 1 else "them"
        click.echo(f"{counted(len(rows), 'row')} kept out; a later load will not reopen {them}")
        return
    for ticker in dict.fromkeys(row.ticker for row in rows):
        kinds = {row.kind for row in rows if row.ticker == ticker}
        if "unexplained_jump" in kinds:
            click.echo(f"next: the next load of {ticker} stores these rows (a load covering them)")
        if "unexplained_restatement" in kinds:
            click.echo(f"next: the next load replaces {ticker}'s history with the source's")
        if kinds - {"unexplained_jump", "unexplained_restatement"}:
            click.echo(
                f"next: nothing; {ticker}'s rows of an invalid value are closed, never stored "
                "(the source must send them valid)"
            )


resolve_rows = _resolution_command(
    "accepted",
    "resolve",
    """Accept quarantine rows (by ID, or every open row of --ticker whose reason starts with
    --reason): the operator lets them in. An accepted unexplained_jump is a real move: the next
    load of the ticker covering its date stores it. An accepted unexplained_restatement lets the
    next load replace the ticker's stored history with the source's (the old bars are kept as
    superseded), recording no split. Other rows are only closed: the loader refuses such values
    whatever. Refuses an unknown or already resolved row (unless --force); nothing is written
    then.""",
)
reject_rows = _resolution_command(
    "rejected",
    "reject",
    """Reject quarantine rows (by ID, or every open row of --ticker whose reason starts with
    --reason): the source is wrong. The rows stay out of the warehouse, and a later load refusing
    them again refreshes their run but does not reopen them. Refuses an unknown or already
    resolved row (unless --force); nothing is written then.""",
)
