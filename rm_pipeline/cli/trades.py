"""`rm-pipeline trades ...`: write trade ideas, move them through their lifecycle, analyze them."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

import click

from rm_pipeline.app.analysis_store import analyze_pending
from rm_pipeline.app.trades import (
    DEFAULT_CURRENCY,
    DEFAULT_NOTIONAL,
    POSITION_SYNTAX,
    PositionSpec,
    PositionView,
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


class AmountParam(click.ParamType):
    """A decimal amount, e.g. 250000, 250_000 or 1250.50."""

    name = "amount"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(f"{value!r} is not a number", param, ctx)


def service() -> TradeService:
    return TradeService(get_engine())


def percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{float(value):+.2%}"


def amount(value: Decimal | None, currency: str) -> str:
    """A number with its currency, or n/a when unknown."""
    return "n/a" if value is None else f"{value:,} {currency}"


def market_rate(base: str, quote: str, rate: Decimal) -> str:
    """A rate in market notation: the pair, base then quote, and how many units of the quote one
    unit of the base buys (`JPYUSD 0.0065`: a yen buys 0.0065 dollars)."""
    return f"{base}{quote} {rate.normalize():f}"


def staleness(p: PositionView) -> str:
    """How old a position's current price is: its close's date and whether its exchange held
    sessions since, by the latest valuation."""
    if p.price_date is None:
        return ""
    if p.is_stale is None:
        return f" (close of {p.price_date}, staleness unknown)"
    if not p.is_stale:
        return f" (close of {p.price_date})"
    behind = p.sessions_behind
    count = "" if behind is None else f", {behind} session{'' if behind == 1 else 's'} behind"
    return f" (close of {p.price_date}, stale{count})"


def position_status(status: str | None) -> str:
    """A position's status in words: `recommended`, the seed schema's default for a position
    never opened, reads as what it is, whatever the analysis says."""
    if status == "recommended":
        return "not opened"
    return status or "unknown"


def execution(p: PositionView, trade_currency: str) -> str:
    """A position's paper execution: prices in its security's currency, amounts in the trade's,
    the entry's conversion as a market rate (none when both currencies are one)."""
    quantity = "n/a" if p.quantity is None else f"{p.quantity:,}"
    entry = amount(p.entry_price, p.currency)
    if p.entry_fx_rate is not None and p.currency != trade_currency:
        entry += f" at {market_rate(p.currency, trade_currency, p.entry_fx_rate)}"
    parts = [
        position_status(p.status),
        f"quantity {quantity}",
        f"entry {entry}",
        f"current {amount(p.current_price, p.currency)}{staleness(p)}",
        f"market value {amount(p.market_value, trade_currency)}",
        f"unrealized P&L {amount(p.unrealized_pnl, trade_currency)}",
        f"realized P&L {amount(p.realized_pnl, trade_currency)}",
    ]
    if p.exit_price is not None:
        parts.append(f"exit {amount(p.exit_price, p.currency)}")
    if p.split_factor != 1:
        parts.append(f"split-adjusted x{p.split_factor.normalize()}")
    return ", ".join(parts)


def echo_trade(trade: TradeView) -> None:
    click.echo(f"trade {trade.id}: {trade.name} [{trade.status}]")
    click.echo(f"  description: {trade.description}")
    notional = amount(trade.notional or DEFAULT_NOTIONAL, trade.currency)
    click.echo(f"  notional: {notional}" + (" (the default)" if trade.notional is None else ""))
    click.echo(f"  positions ({trade.total_allocation}% allocated):")
    for p in trade.positions:
        security = f"{p.ticker}@{p.exchange}" if p.exchange else p.ticker
        click.echo(
            f"    {p.id}  {security:<16} {p.side:<5} {p.allocation_percent:>6}%  {p.security_type}"
        )
        click.echo(f"      {execution(p, trade.currency)}")
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
    multiple=True,
    help=f"A position, repeatable: {POSITION_SYNTAX}, e.g. AAPL:long:60 or MSFT:short:40. "
    "Name the exchange (SAP@XETRA:long:10) when the ticker is listed on several. Allocations are "
    "percent of capital, more than 0, at most 100 in total.",
)
@click.option(
    "--notional",
    type=AmountParam(),
    help=f"The amount activating the trade invests, in its currency: more than 0, at most 2 "
    f"decimals. Default: {DEFAULT_NOTIONAL:,}.",
)
@click.option(
    "--currency",
    default=DEFAULT_CURRENCY,
    show_default=True,
    help="The trade's currency, an ISO 4217 code such as EUR or JPY: its notional, market values "
    "and P&L are in it.",
)
def create(
    token: str,
    name: str,
    description: str,
    positions: tuple[str, ...],
    notional: Decimal | None,
    currency: str,
) -> None:
    """Create a draft trade with its positions. Every problem of the request (its fields', each
    position's) is reported at once, one line each, and nothing is stored."""
    user = authenticated(token)
    echo_trade(
        service().create(user, name, description, positions, notional=notional, currency=currency)
    )


@trades.command()
@click.argument("trade_id", type=click.UUID)
@token_option
def show(trade_id: uuid.UUID, token: str) -> None:
    """Show a trade with its positions, their paper execution and its latest analysis.

    Prices are in each security's currency (the current one with its close's date and, when its
    exchange held sessions since, how many), market values and P&L in the trade's. Rates are in
    market notation: JPYUSD 0.0065 is 0.0065 dollars a yen."""
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
    (
        "activate",
        "Make a draft trade active: its positions open at their latest closes (it needs at "
        "least one position, and a price and an exchange rate for each).",
    ),
    ("close", "Close an active trade: its positions close at their latest closes."),
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
