"""The valuation identities, on generated portfolios (each example rolled back), in one currency
and converted from pence."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from rm_pipeline.warehouse.valuations import value_portfolios
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_holding,
    add_portfolio,
    add_security,
    add_sessions,
    add_user,
    row,
)

quantities = st.decimals(min_value="0.000001", max_value="100000", places=6)
usd_per_pound = st.decimals(min_value="0.5", max_value="3", places=10)
prices = st.decimals(min_value="0.01", max_value="10000", places=6)
cash = st.decimals(min_value="-100000", max_value="1000000", places=2)
holding = st.tuples(st.sampled_from(["long", "short"]), quantities, prices, prices, prices)

PORTFOLIO_NUMBERS = "equity_value, total_value, day_return"
EXAMPLES = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@contextmanager
def rolled_back(db: Engine) -> Iterator[Connection]:
    with db.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def expected_fraction(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A NUMERIC(10,4) fraction as documented: rounded half away from zero, NULL if it cannot be."""
    if not denominator:
        return None
    fraction = (numerator / denominator).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return fraction if abs(fraction) < 10**6 else None


def cents(amount: Decimal) -> Decimal:
    """Rounded to cents half away from zero, as PostgreSQL's round() does."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def valued_holdings(conn: Connection) -> list[dict[str, Decimal | str]]:
    return [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT side, market_value, cost_basis, unrealized_pnl, unrealized_pnl_percent "
                "FROM portfolio_holdings ORDER BY id"
            )
        ).mappings()
    ]


@EXAMPLES
@given(cash_balance=cash, positions=st.lists(holding, min_size=1, max_size=6))
def test_portfolio_identities(
    db: Engine,
    cash_balance: Decimal,
    positions: list[tuple[str, Decimal, Decimal, Decimal, Decimal]],
) -> None:
    with rolled_back(db) as conn:
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=cash_balance)
        for number, (side, quantity, entry, previous, current) in enumerate(positions):
            security = add_security(conn, f"S{number}")
            add_bar(conn, security, date(2024, 1, 2), previous)
            add_bar(conn, security, date(2024, 1, 3), current)
            add_holding(conn, portfolio, security, side, quantity, entry)
        value_portfolios(conn)

        equity, total = row(conn, "portfolios", portfolio, "equity_value, total_value")
        values = valued_holdings(conn)
        assert equity == sum(h["market_value"] for h in values)
        assert total == cash_balance + equity
        for h in values:
            if h["side"] == "long":
                assert h["market_value"] >= 0
                assert h["unrealized_pnl"] == h["market_value"] - h["cost_basis"]
            else:
                assert h["market_value"] <= 0
                assert h["unrealized_pnl"] == h["cost_basis"] + h["market_value"]
            assert h["unrealized_pnl_percent"] == expected_fraction(
                h["unrealized_pnl"], h["cost_basis"]
            )


@EXAMPLES
@given(quantity=quantities, entry=prices, previous=prices, current=prices)
def test_mirrored_long_and_short_cancel_out(
    db: Engine, quantity: Decimal, entry: Decimal, previous: Decimal, current: Decimal
) -> None:
    with rolled_back(db) as conn:
        security = add_security(conn, "MIRROR", calendar="XNYS")
        add_sessions(conn, "XNYS", date(2024, 1, 2), date(2024, 1, 3))
        add_bar(conn, security, date(2024, 1, 2), previous)
        add_bar(conn, security, date(2024, 1, 3), current)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=1000)
        add_holding(conn, portfolio, security, "long", quantity, entry)
        add_holding(conn, portfolio, security, "short", quantity, entry)
        value_portfolios(conn)

        long, short = sorted(valued_holdings(conn), key=lambda h: h["side"])
        assert long["market_value"] == -short["market_value"]
        assert long["unrealized_pnl"] == -short["unrealized_pnl"]
        assert long["unrealized_pnl_percent"] == (
            None if short["unrealized_pnl_percent"] is None else -short["unrealized_pnl_percent"]
        )
        assert row(conn, "portfolios", portfolio, PORTFOLIO_NUMBERS) == (
            Decimal("0.00"),
            Decimal("1000.00"),
            Decimal("0.0000"),
        )


@EXAMPLES
@given(
    rate=usd_per_pound,
    cash_balance=cash,
    positions=st.lists(holding, min_size=1, max_size=4),
)
def test_pence_holdings_convert_at_the_pound_rate_over_100(
    db: Engine,
    rate: Decimal,
    cash_balance: Decimal,
    positions: list[tuple[str, Decimal, Decimal, Decimal, Decimal]],
) -> None:
    """Each converted figure is the local one x rate / 100 to the cent; the identities hold."""
    day = date(2024, 1, 3)
    with rolled_back(db) as conn:
        add_fx_rate(conn, "GBP", day, rate)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=cash_balance)
        for number, (side, quantity, entry, _, current) in enumerate(positions):
            security = add_security(conn, f"L{number}", "LSE", currency="GBp")
            add_bar(conn, security, day, current)
            add_holding(conn, portfolio, security, side, quantity, entry)
        value_portfolios(conn)

        rows = conn.execute(
            text(
                "SELECT h.side, h.quantity, h.average_entry_price, h.current_price, "
                "h.market_value, h.cost_basis, h.unrealized_pnl "
                "FROM portfolio_holdings h ORDER BY h.id"
            )
        ).all()
        with localcontext(prec=60):  # exact products, as PostgreSQL's NUMERIC computes them
            for side, quantity, entry, current, market_value, cost_basis, pnl in rows:
                direction = 1 if side == "long" else -1
                assert market_value == direction * cents(quantity * current * rate / 100)
                assert cost_basis == cents(quantity * entry * rate / 100)
                assert pnl == direction * (abs(market_value) - cost_basis)
        equity, total = row(conn, "portfolios", portfolio, "equity_value, total_value")
        assert equity == sum(r.market_value for r in rows)
        assert total == cash_balance + equity
