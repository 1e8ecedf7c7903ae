"""The demo seed: two users, three portfolios with a short among them, idempotent, securities first."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.demo import DemoSummary, seed_demo
from rm_pipeline.holdings import UnknownSecuritiesError
from rm_pipeline_tests.warehouse.factories import add_security

DEMO_SECURITIES = {
    "AAPL": "NASDAQ",
    "MSFT": "NASDAQ",
    "NVDA": "NASDAQ",
    "GOOGL": "NASDAQ",
    "AMZN": "NASDAQ",
    "TSLA": "NASDAQ",
    "QQQ": "NASDAQ",
    "SPY": "NYSEARCA",
    "JPM": "NYSE",
    "XOM": "NYSE",
    "KO": "NYSE",
    "JNJ": "NYSE",
}


def demo_state(conn: Connection) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            text(
                "SELECT u.phone_number, p.name, p.broker, p.cash_balance, "
                "count(h.id), count(h.id) FILTER (WHERE h.side = 'short') "
                "FROM users u JOIN portfolios p ON p.user_id = u.id "
                "LEFT JOIN portfolio_holdings h ON h.portfolio_id = p.id "
                "GROUP BY u.phone_number, p.name, p.broker, p.cash_balance "
                "ORDER BY u.phone_number, p.name"
            )
        )
    ]


def test_seeding_twice_creates_everything_once(db: Engine) -> None:
    with db.begin() as conn:
        for ticker, exchange in DEMO_SECURITIES.items():
            add_security(conn, ticker, exchange)
        first = seed_demo(conn)
        assert (first.users_created, first.portfolios_created) == (2, 3)
        assert [result.inserted for result in first.synced] == [5, 4, 5]
        seeded = demo_state(conn)
        assert seeded == [
            ("+14155550101", "Growth", "manual", Decimal("8250.00"), 5, 0),
            ("+14155550101", "Long/Short", "manual", Decimal("21500.00"), 4, 2),
            ("+14155550102", "Income", "manual", Decimal("12000.00"), 5, 0),
        ]

    with db.begin() as conn:
        again = seed_demo(conn)
        assert again == DemoSummary(0, 0, again.synced)
        assert [(r.inserted, r.updated, r.removed) for r in again.synced] == [(0, 0, 0)] * 3
        assert demo_state(conn) == seeded


def test_seeding_without_the_securities_names_them_and_writes_nothing(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "AAPL", "NASDAQ")
        with pytest.raises(UnknownSecuritiesError, match=r"MSFT \(NASDAQ\).*SPY \(NYSEARCA\)"):
            seed_demo(conn)
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM portfolios")).scalar_one() == 0
