"""`rm-pipeline splits ...`: the splits the warehouse counts, and withdrawing an inferred one."""

from __future__ import annotations

from datetime import datetime

import click

from rm_pipeline.cli.providers import ISO_DATE
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.warehouse.splits import (
    NoInferredSplit,
    stored_splits,
    withdraw_inferred_split,
)


@click.group()
def splits() -> None:
    """Stock splits: reported by a provider, or inferred by the warehouse when a source restated
    a security's stored history at a split's ratio without reporting the split. Paper positions
    count both alike."""


@splits.command("list")
@click.argument("ticker", required=False)
@click.option("--inferred", is_flag=True, help="Only the inferred splits.")
def list_splits(ticker: str | None, inferred: bool) -> None:
    """List stored splits (of TICKER only, when given): date, ratio, basis, source and, for an
    inferred split, what it rests on."""
    with get_engine(warehouse_url()).connect() as conn:
        found = stored_splits(conn, ticker.upper() if ticker else None, inferred)
    if not found:
        click.echo("no splits stored")
        return
    for split in found:
        line = f"{split.ticker:<10} {split.date} {split.label:>6}  {split.basis:<8} {split.data_source or ''}"
        click.echo(line.rstrip())
        if split.note:
            click.echo(f"           {split.note}")
    click.echo(f"{len(found)} split{'s' if len(found) != 1 else ''}")


@splits.command()
@click.argument("ticker")
@click.argument("day", metavar="DATE", type=ISO_DATE)
def withdraw(ticker: str, day: datetime) -> None:
    """Withdraw the inferred split of TICKER on DATE (YYYY-MM-DD): it is deleted (the deletion is
    kept in corporate_actions_superseded) and open paper positions go back to the scale without
    it. Reported splits cannot be withdrawn here."""
    with get_engine(warehouse_url()).begin() as conn:
        try:
            moved = withdraw_inferred_split(conn, ticker.upper(), day.date())
        except NoInferredSplit as error:
            raise click.ClickException(str(error)) from None
    click.echo(
        f"{ticker.upper()}: inferred split of {day.date()} withdrawn; "
        f"{moved} open position{'s' if moved != 1 else ''} rescaled"
    )
