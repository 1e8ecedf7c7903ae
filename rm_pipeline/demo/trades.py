"""Seed the demo trades (`trades.csv`) through the trade service, once per user and trade name."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from rm_pipeline.app.trades import PositionSpec, TradeService

TRADES_FILE = Path(__file__).resolve().parent / "trades.csv"

EXISTING = text(
    "SELECT 1 FROM trades t JOIN users u ON u.id = t.user_id "
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


def demo_trades() -> list[DemoTrade]:
    with TRADES_FILE.open(newline="", encoding="utf-8") as file:
        return [
            DemoTrade(
                row["phone_number"],
                row["trade_name"],
                row["trade_description"],
                tuple(PositionSpec.parse(p) for p in row["positions"].split(";")),
            )
            for row in csv.DictReader(file)
        ]


@dataclass(frozen=True)
class DemoTradesSummary:
    """How many demo trades were created; `skipped` names each trade left out and the tickers
    the warehouse has no active security for."""

    created: int
    skipped: tuple[str, ...]


def seed_demo_trades(engine: Engine) -> DemoTradesSummary:
    """Create the demo trades their (already seeded) users lack, except those naming a ticker
    the warehouse has no active security for."""
    service = TradeService(engine)
    created = 0
    skipped: list[str] = []
    for trade in demo_trades():
        tickers = [position.ticker for position in trade.positions]
        with engine.connect() as conn:
            params = {"phone": trade.phone_number, "name": trade.name}
            if conn.execute(EXISTING, params).first():
                continue
            active = set(conn.execute(ACTIVE_TICKERS, {"tickers": tickers}).scalars())
            owner = conn.execute(OWNER, params).scalar_one()
        if missing := [ticker for ticker in tickers if ticker not in active]:
            skipped.append(f"trade {trade.name} ({', '.join(missing)})")
            continue
        service.create(owner, trade.name, trade.description, trade.positions)
        created += 1
    return DemoTradesSummary(created, tuple(skipped))
