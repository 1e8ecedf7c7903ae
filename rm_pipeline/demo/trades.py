"""Seed the demo trades (`trades.csv`) through the trade service, once per user and trade name.

Each row names the trade's positions, its currency, its notional (empty: the trade layer's
default) and the status it should reach: `draft`, or `active`, which the seed reaches by
activating the trade through the service, so its positions open on paper at the latest closes.
A trade naming a ticker the warehouse lacks is skipped and named; an activation refused for want
of a price or an exchange rate leaves the trade a draft, is named, and is tried again by the next
seeding, once prices and rates exist.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, text

from rm_pipeline.app.errors import Conflict
from rm_pipeline.app.trades import PositionSpec, TradeService, TradeStatus

TRADES_FILE = Path(__file__).resolve().parent / "trades.csv"

EXISTING = text(
    "SELECT t.id, t.status FROM trades t JOIN users u ON u.id = t.user_id "
    "WHERE u.phone_number = :phone AND t.trade_name = :name"
)
OWNER = text("SELECT id FROM users WHERE phone_number = :phone")
ACTIVE_TICKERS = text(
    "SELECT DISTINCT ticker FROM securities WHERE is_active AND ticker = ANY(:tickers)"
)


@dataclass(frozen=True)
class DemoTrade:
    phone_number: str
    name: str
    description: str
    positions: tuple[PositionSpec, ...]
    currency: str
    notional: Decimal | None
    status: TradeStatus


def demo_trades() -> list[DemoTrade]:
    with TRADES_FILE.open(newline="", encoding="utf-8") as file:
        return [
            DemoTrade(
                row["phone_number"],
                row["trade_name"],
                row["trade_description"],
                tuple(PositionSpec.parse(p) for p in row["positions"].split(";")),
                row["currency"],
                Decimal(row["notional"]) if row["notional"] else None,
                TradeStatus(row["status"]),
            )
            for row in csv.DictReader(file)
        ]


@dataclass(frozen=True)
class DemoTradesSummary:
    """How many demo trades were created and activated; `skipped` names each trade left out and
    the tickers the warehouse has no active security for, `not_activated` each trade whose
    activation was refused, with the reason."""

    created: int
    skipped: tuple[str, ...]
    activated: int
    not_activated: tuple[str, ...]


def seed_demo_trades(engine: Engine) -> DemoTradesSummary:
    """Create the demo trades their (already seeded) users lack, except those naming a ticker
    the warehouse has no active security for, then activate the drafts meant to be active."""
    service = TradeService(engine)
    created = activated = 0
    skipped: list[str] = []
    not_activated: list[str] = []
    for trade in demo_trades():
        tickers = [position.ticker for position in trade.positions]
        with engine.connect() as conn:
            params = {"phone": trade.phone_number, "name": trade.name}
            existing = conn.execute(EXISTING, params).first()
            active = set(conn.execute(ACTIVE_TICKERS, {"tickers": tickers}).scalars())
            owner: uuid.UUID = conn.execute(OWNER, params).scalar_one()
        if existing is not None:
            trade_id, status = existing
        elif missing := [ticker for ticker in tickers if ticker not in active]:
            skipped.append(f"trade {trade.name} ({', '.join(missing)})")
            continue
        else:
            trade_id = service.create(
                owner,
                trade.name,
                trade.description,
                trade.positions,
                notional=trade.notional,
                currency=trade.currency,
            ).id
            status, created = TradeStatus.DRAFT, created + 1
        if trade.status is TradeStatus.ACTIVE and status == TradeStatus.DRAFT:
            try:
                service.activate(owner, trade_id)
                activated += 1
            except Conflict as refused:
                not_activated.append(f"trade {trade.name}: {refused}")
    return DemoTradesSummary(created, tuple(skipped), activated, tuple(not_activated))
