"""`rm-pipeline trades ...`: write trade ideas, move them through their lifecycle, analyze them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import click

from rm_pipeline.app.analysis_store import analyze_pending
from rm_pipeline.app.trades import (
    POSITION_SYNTAX,
    PositionSpec,
    TradeService,
    TradeStatus,
    TradeView,
)
from rm_pipeline.cli.users import AppGroup, authenticated, token_option
from rm_pipeline.db.engine import get_engine


class PositionParam(click.ParamType):
    """A position as TICKER[@EXCHANGE]:SIDE:PERCENT, e.g. AAPL:long:60 or SAP@XETRA:short:12.5."""

    name = "position"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> PositionSpec:
        if isinstance(value, PositionSpec):
            return value
        try:
            return PositionSpec.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def service() -> TradeService:
    return TradeService(get_engine())


def percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{float(value):+.2%}"


def echo_trade(trade: TradeView) -> None:
    click.echo(f"trade {trade.id}: {trade.name} [{trade.status}]")
    click.echo(f"  description: {trade.description}")
    click.echo(f"  positions ({trade.total_allocation}% allocated):")
    for p in trade.positions:
        security = f"{p.ticker}@{p.exchange}" if p.exchange else p.ticker
        click.echo(
            f"    {p.id}  {security:<16} {p.side:<5} {p.allocation_percent:>6}%  {p.security_type}"
        )
        if p.rationale:
            click.echo(f"      {p.rationale}")
    if trade.analyzed_at is None:
        click.echo("  analysis: pending")
        return
    returns = ", ".join(f"{name} {percent(value)}" for name, value in trade.returns.items())
    click.echo(
        f"  analysis ({trade.analyzed_at:%Y-%m-%d %H:%M}): {trade.recommendation}, "
        f"risk {trade.risk_level or 'unknown'}"
    )
    click.echo(f"    expected returns: {returns}")
    click.echo(f"    rationale: {trade.ai_rationale}")


@click.group(cls=AppGroup)
def trades() -> None:
    """Trade ideas: positions, lifecycle (draft → active → closed → archived) and analysis.

    Every command but `analyze` acts for the user of an access token (--token or
    RM_ACCESS_TOKEN).
    """


@trades.command()
@token_option
@click.option("--name", required=True, help="Short name of the trade.")
@click.option("--description", required=True, help="The idea behind it, in words.")
@click.option(
    "--position",
    "positions",
    type=PositionParam(),
    multiple=True,
    help=f"A position, repeatable: {POSITION_SYNTAX}, e.g. AAPL:long:60 or MSFT:short:40. "
    "Name the exchange (SAP@XETRA:long:10) when the ticker is listed on several. Allocations are "
    "percent of capital, more than 0, at most 100 in total.",
)
def create(token: str, name: str, description: str, positions: tuple[PositionSpec, ...]) -> None:
    """Create a draft trade with its positions."""
    echo_trade(service().create(authenticated(token), name, description, positions))


@trades.command()
@click.argument("trade_id", type=click.UUID)
@token_option
def show(trade_id: uuid.UUID, token: str) -> None:
    """Show a trade with its positions and its latest analysis."""
    echo_trade(service().get(authenticated(token), trade_id))


@trades.command("list")
@token_option
@click.option(
    "--status",
    type=click.Choice([s.value for s in TradeStatus]),
    help="Only trades in this status.",
)
def list_trades(token: str, status: str | None) -> None:
    """List your trades, newest first."""
    found = service().list_trades(authenticated(token), TradeStatus(status) if status else None)
    for trade in found:
        recommendation = trade.recommendation or "not analyzed"
        click.echo(f"{trade.id}  {trade.status:<8}  {recommendation:<15}  {trade.name}")
    if not found:
        click.echo("no trades")


@trades.command("add-position")
@click.argument("trade_id", type=click.UUID)
@click.argument("position", type=PositionParam())
@token_option
def add_position(trade_id: uuid.UUID, position: PositionSpec, token: str) -> None:
    """Add POSITION (TICKER[@EXCHANGE]:long|short:PERCENT) to a draft trade."""
    echo_trade(service().add_position(authenticated(token), trade_id, position))


@trades.command("remove-position")
@click.argument("trade_id", type=click.UUID)
@click.argument("position_id", type=click.UUID)
@token_option
def remove_position(trade_id: uuid.UUID, position_id: uuid.UUID, token: str) -> None:
    """Remove a position (its id is in `trades show`) from a draft trade."""
    echo_trade(service().remove_position(authenticated(token), trade_id, position_id))


def add_transition_command(action: str, summary: str) -> None:
    """One lifecycle command: `trades activate|close|archive TRADE_ID`."""

    @trades.command(action, help=summary)
    @click.argument("trade_id", type=click.UUID)
    @token_option
    def transition(trade_id: uuid.UUID, token: str) -> None:
        trade = getattr(service(), action)(authenticated(token), trade_id)
        click.echo(f"trade {trade.id} is now {trade.status}")


for _action, _summary in (
    ("activate", "Make a draft trade active (it needs at least one position)."),
    ("close", "Close an active trade."),
    ("archive", "Archive a closed trade, or a draft that will never go live."),
):
    add_transition_command(_action, _summary)


@trades.command()
def analyze() -> None:
    """Analyze every draft or active trade that is new or changed since its last analysis."""
    summary = analyze_pending(get_engine())
    click.echo(
        f"analyzed {len(summary.analyzed)} of {summary.pending} pending trades "
        f"({len(summary.changed)} changed meanwhile, {len(summary.invalid)} invalid)"
    )
    for trade_id, reason in summary.invalid.items():
        click.echo(f"  {trade_id}: {reason}")
