"""The demo seed: two users, four portfolios with a short among them and one abroad, trades with
one of them active on paper, idempotent, and adapted to the universe: what it cannot seed it skips
and names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, Engine, text

from rm_pipeline.demo import DemoSummary, DemoTradesSummary, seed_demo, seed_demo_trades
from rm_pipeline.warehouse.valuations import value_portfolios
from rm_pipeline_tests.warehouse.factories import add_bar, add_fx_rate, add_security

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
ABROAD = {"SHEL.L": ("LSE", "GBp"), "7203.T": ("TSE", "JPY"), "SAP.DE": ("XETRA", "EUR")}
DAY = date(2024, 1, 3)


def add_demo_universe(conn: Connection) -> None:
    for ticker, exchange in DEMO_SECURITIES.items():
        add_security(conn, ticker, exchange)
    for ticker, (exchange, currency) in ABROAD.items():
        add_security(conn, ticker, exchange, currency=currency)


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
        add_demo_universe(conn)
        first = seed_demo(conn)
        assert (first.users_created, first.portfolios_created) == (2, 4)
        assert [result.inserted for result in first.synced] == [5, 4, 3, 5]
        seeded = demo_state(conn)
        assert seeded == [
            ("+14155550101", "Growth", "manual", Decimal("8250.00"), 5, 0),
            ("+14155550101", "Long/Short", "manual", Decimal("21500.00"), 4, 2),
            ("+14155550102", "Global", "manual", Decimal("10000.00"), 3, 0),
            ("+14155550102", "Income", "manual", Decimal("12000.00"), 5, 0),
        ]

    with db.begin() as conn:
        again = seed_demo(conn)
        assert again == DemoSummary(0, 0, again.synced)
        assert [(r.inserted, r.updated, r.removed) for r in again.synced] == [(0, 0, 0)] * 4
        assert demo_state(conn) == seeded


def test_the_global_portfolio_is_valued_in_dollars_from_three_currencies(db: Engine) -> None:
    with db.begin() as conn:
        add_demo_universe(conn)
        seed_demo(conn)
        for ticker, close in (("SHEL.L", 1300), ("7203.T", 60000), ("SAP.DE", 100)):
            security = conn.execute(
                text("SELECT id FROM securities WHERE ticker = :t"), {"t": ticker}
            ).scalar_one()
            add_bar(conn, security, DAY, close)
        for currency, rate in (("GBP", "1.25"), ("JPY", "0.0065"), ("EUR", "1.10")):
            add_fx_rate(conn, currency, DAY, rate)
        value_portfolios(conn)
        values = conn.execute(
            text(
                "SELECT p.currency, p.equity_value, p.total_value FROM portfolios p "
                "WHERE p.name = 'Global'"
            )
        ).one()
    # 2,500 x 1,300 pence at $1.25 a pound + 100 x 60,000 yen at $0.0065 + 300 x 100 euros at
    # $1.10: 40,625 + 39,000 + 33,000, and $10,000 of cash.
    assert tuple(values) == ("USD", Decimal("112625.00"), Decimal("122625.00"))


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
            "portfolio Global (SHEL.L (LSE), 7203.T (TSE), SAP.DE (XETRA))",
        )
        assert demo_state(conn) == [("+14155550102", "Income", "manual", Decimal("12000.00"), 5, 0)]


def test_a_holding_on_an_exchange_matches_a_security_whose_exchange_is_unknown(
    db: Engine,
) -> None:
    with db.begin() as conn:
        for ticker, exchange in DEMO_SECURITIES.items():
            add_security(conn, ticker, None if ticker == "AAPL" else exchange)
        assert seed_demo(conn).skipped == (
            "portfolio Global (SHEL.L (LSE), 7203.T (TSE), SAP.DE (XETRA))",
        )
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
    skipped = (
        "trade Dividend defensives (JNJ, XOM)",
        "trade Global leaders (SHEL.L, 7203.T, SAP.DE)",
    )
    assert seed_demo_trades(db) == DemoTradesSummary(1, skipped, 0, ())
    assert seed_demo_trades(db) == DemoTradesSummary(0, skipped, 0, ())
    with db.connect() as conn:
        names = conn.execute(text("SELECT trade_name FROM trades")).scalars().all()
    assert names == ["Quality tech pair"]


def trade_positions(db: Engine) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT t.status, s.ticker, p.status, p.quantity FROM trades t "
                    "JOIN positions p ON p.trade_id = t.id "
                    "JOIN securities s ON s.id = p.security_id "
                    "WHERE t.trade_name = 'Global leaders' ORDER BY s.ticker"
                )
            )
        ]


def test_the_global_trade_opens_once_prices_and_rates_exist(db: Engine) -> None:
    """Without rates it stays a draft and is named; the next seeding activates it, once."""
    with db.begin() as conn:
        add_demo_universe(conn)
        seed_demo(conn)
        for ticker, close in (("SHEL.L", 2000), ("7203.T", 350), ("SAP.DE", 125)):
            security = conn.execute(
                text("SELECT id FROM securities WHERE ticker = :t"), {"t": ticker}
            ).scalar_one()
            add_bar(conn, security, DAY, close)

    refused = seed_demo_trades(db)
    assert (refused.created, refused.activated) == (3, 0)
    assert len(refused.not_activated) == 1
    assert refused.not_activated[0].startswith("trade Global leaders: trade ")
    assert "SHEL.L@LSE long: no GBp to USD rate" in refused.not_activated[0]
    assert {row[0] for row in trade_positions(db)} == {"draft"}

    with db.begin() as conn:
        for currency, rate in (("GBP", "1.25"), ("JPY", "0.0064"), ("EUR", "1.25")):
            add_fx_rate(conn, currency, DAY, rate)
    assert seed_demo_trades(db) == DemoTradesSummary(0, (), 1, ())
    assert seed_demo_trades(db) == DemoTradesSummary(0, (), 0, ())
    # $250,000: 40% at 2000 pence x $0.0125, 35% at 350 yen x $0.0064, 25% at 125 euros x $1.25.
    assert trade_positions(db) == [
        ("active", "7203.T", "open", Decimal("39062.500000")),
        ("active", "SAP.DE", "open", Decimal("400.000000")),
        ("active", "SHEL.L", "open", Decimal("4000.000000")),
    ]
