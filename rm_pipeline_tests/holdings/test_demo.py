"""The demo seed: two users, three portfolios with a short among them, idempotent, and adapted to
the universe: what it cannot seed it skips and names."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, Engine, text

from rm_pipeline.demo import DemoSummary, DemoTradesSummary, seed_demo, seed_demo_trades
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


def test_a_partial_universe_seeds_the_complete_portfolios_and_names_the_others(
    db: Engine,
) -> None:
    income = {"KO": "NYSE", "JNJ": "NYSE", "JPM": "NYSE", "XOM": "NYSE", "SPY": "NYSEARCA"}
    with db.begin() as conn:
        for ticker, exchange in income.items():
            add_security(conn, ticker, exchange)
        add_security(conn, "AAPL", None)  # a price file's ticker: exchange unknown
        summary = seed_demo(conn)
        assert (summary.users_created, summary.portfolios_created) == (2, 1)
        assert summary.skipped == (
            "portfolio Growth (MSFT (NASDAQ), NVDA (NASDAQ), GOOGL (NASDAQ), AMZN (NASDAQ))",
            "portfolio Long/Short (QQQ (NASDAQ), TSLA (NASDAQ))",
        )
        assert demo_state(conn) == [("+14155550102", "Income", "manual", Decimal("12000.00"), 5, 0)]


def test_a_holding_on_an_exchange_matches_a_security_whose_exchange_is_unknown(
    db: Engine,
) -> None:
    with db.begin() as conn:
        for ticker, exchange in DEMO_SECURITIES.items():
            add_security(conn, ticker, None if ticker == "AAPL" else exchange)
        assert seed_demo(conn).skipped == ()
        held = conn.execute(
            text(
                "SELECT count(*) FROM portfolio_holdings h JOIN securities s "
                "ON s.id = h.security_id WHERE s.ticker = 'AAPL' AND s.exchange IS NULL"
            )
        ).scalar_one()
        assert held == 1


def test_demo_trades_naming_missing_tickers_are_skipped_and_named(db: Engine) -> None:
    with db.begin() as conn:
        for ticker in ("AAPL", "MSFT", "KO"):
            add_security(conn, ticker, None)
        seed_demo(conn)
    assert seed_demo_trades(db) == DemoTradesSummary(
        created=1, skipped=("trade Dividend defensives (JNJ, XOM)",)
    )
    assert seed_demo_trades(db) == DemoTradesSummary(
        created=0, skipped=("trade Dividend defensives (JNJ, XOM)",)
    )
    with db.connect() as conn:
        names = conn.execute(text("SELECT trade_name FROM trades")).scalars().all()
    assert names == ["Quality tech pair"]
