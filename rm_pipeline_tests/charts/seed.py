"""A year of a small market, a portfolio and an active trade, for the charts' tests: enough data
for every chart to draw something worth looking at."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, text

from rm_pipeline_tests.warehouse.factories import (
    add_holding,
    add_portfolio,
    add_security,
    add_user,
)

FIRST_DAY, LAST_DAY = date(2024, 1, 2), date(2024, 12, 31)
MISSING_DAY = date(2024, 7, 1)
"""A weekday on which SAP.DE has no bar: a gap in the portfolio's value."""
TRADE_START = date(2024, 6, 3)


@dataclass(frozen=True)
class Seeded:
    portfolio: uuid.UUID
    trade: uuid.UUID
    securities: dict[str, uuid.UUID]


def weekdays(first: date, last: date) -> list[date]:
    days = (first + timedelta(n) for n in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def close(start: float, drift: float, day: int) -> float:
    """A smooth, deterministic close: a trend with a wave."""
    return round(start * (1 + drift * day) * (1 + 0.04 * math.sin(day / 9)), 4)


def seed_year(conn: Connection) -> Seeded:
    """AAPL and MSFT (USD) and SAP.DE (EUR, with a daily EUR rate) close every weekday of 2024,
    SAP.DE except MISSING_DAY. The portfolio 'Growth' (USD) is long AAPL and SAP.DE and short
    MSFT; the trade 'Pair' (active since TRADE_START, with estimates) is long AAPL 60% and short
    MSFT 40%."""
    listings = {"AAPL": ("USD", 180.0, 0.0008), "MSFT": ("USD", 370.0, 0.0003)}
    listings["SAP.DE"] = ("EUR", 140.0, 0.0012)
    securities = {
        ticker: add_security(conn, ticker, currency=currency)
        for ticker, (currency, _, _) in listings.items()
    }
    bars = [
        {"security_id": securities[ticker], "day": day, "close": close(start, drift, n)}
        for ticker, (_, start, drift) in listings.items()
        for n, day in enumerate(weekdays(FIRST_DAY, LAST_DAY))
        if not (ticker == "SAP.DE" and day == MISSING_DAY)
    ]
    conn.execute(
        text(
            "INSERT INTO price_history (security_id, date, close) VALUES (:security_id, :day, :close)"
        ),
        bars,
    )
    conn.execute(
        text(
            "INSERT INTO fx_rates (base_currency, quote_currency, date, rate) VALUES ('EUR', 'USD', :day, :rate)"
        ),
        [
            {"day": day, "rate": round(1.08 + 0.02 * math.sin(n / 20), 4)}
            for n, day in enumerate(weekdays(FIRST_DAY, LAST_DAY))
        ],
    )
    user = add_user(conn)
    portfolio = add_portfolio(conn, user, cash_balance=10000)
    conn.execute(text("UPDATE portfolios SET name = 'Growth' WHERE id = :id"), {"id": portfolio})
    add_holding(conn, portfolio, securities["AAPL"], "long", 100, 150)
    add_holding(conn, portfolio, securities["SAP.DE"], "long", 80, 120)
    add_holding(conn, portfolio, securities["MSFT"], "short", 20, 400)
    trade = conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description, status, activated_at, "
            "return_1m, return_3m, return_6m, return_1y) VALUES (:user, 'Pair', 'AAPL over "
            "MSFT', 'active', :start, 0.012, 0.035, 0.07, 0.15) RETURNING id"
        ),
        {"user": user, "start": datetime.combine(TRADE_START, datetime.min.time())},
    ).scalar_one()
    for ticker, side, allocation in (("AAPL", "long", 60), ("MSFT", "short", 40)):
        conn.execute(
            text(
                "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
                "allocation_percent) VALUES (:trade, :security, :side, 'equity', :allocation)"
            ),
            {
                "trade": trade,
                "security": securities[ticker],
                "side": side,
                "allocation": allocation,
            },
        )
    return Seeded(portfolio=portfolio, trade=trade, securities=securities)
