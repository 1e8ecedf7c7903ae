"""Portfolio and trade valuations on hand-checkable numbers, in one currency and across several."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.warehouse.valuations import (
    PortfolioValuationResult,
    PositionValuationResult,
    value_portfolios,
    value_trade_positions,
)
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_holding,
    add_portfolio,
    add_security,
    add_user,
    row,
)

HOLDING = "current_price, market_value, cost_basis, unrealized_pnl, unrealized_pnl_percent"
PORTFOLIO = "equity_value, total_value, total_return, day_return"
DAY_1, DAY_2 = date(2024, 1, 2), date(2024, 1, 3)


def two_day_prices(
    conn: Connection, ticker: str, day_1: int, day_2: int, currency: str = "USD"
) -> uuid.UUID:
    security = add_security(conn, ticker, currency=currency)
    add_bar(conn, security, DAY_1, day_1)
    add_bar(conn, security, DAY_2, day_2)
    return security


def test_long_and_short_holdings_over_two_days(db: Engine) -> None:
    with db.begin() as conn:
        long_security = two_day_prices(conn, "LNG", 110, 120)
        short_security = two_day_prices(conn, "SHT", 40, 45)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=1000)
        long_holding = add_holding(conn, portfolio, long_security, "long", 10, 100)
        short_holding = add_holding(conn, portfolio, short_security, "short", 5, 50)

        assert value_portfolios(conn) == PortfolioValuationResult(
            holdings=2,
            holdings_updated=2,
            unpriced_holdings=0,
            portfolios=1,
            portfolios_updated=1,
            holdings_without_rate=0,
            missing_rates=(),
        )

        # Long 10 @ 100, now 120: worth 1200, cost 1000, up 200 (20%).
        assert row(conn, "portfolio_holdings", long_holding, HOLDING) == (
            Decimal("120.000000"),
            Decimal("1200.00"),
            Decimal("1000.00"),
            Decimal("200.00"),
            Decimal("0.2000"),
        )
        # Short 5 @ 50, now 45: owes 225, opened for 250, up (50 - 45) x 5 = 25 (10%).
        assert row(conn, "portfolio_holdings", short_holding, HOLDING) == (
            Decimal("45.000000"),
            Decimal("-225.00"),
            Decimal("250.00"),
            Decimal("25.00"),
            Decimal("0.1000"),
        )
        # Equity 1200 - 225 = 975; total 1000 + 975; return 225 / 1250. Yesterday's equity
        # 1100 - 200 = 900, total 1900: the day's return is 75 / 1900 = 0.03947...
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("975.00"),
            Decimal("1975.00"),
            Decimal("0.1800"),
            Decimal("0.0395"),
        )


def test_revaluing_unchanged_data_writes_nothing(db: Engine) -> None:
    with db.begin() as conn:
        security = two_day_prices(conn, "AAA", 10, 11)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=5)
        holding = add_holding(conn, portfolio, security, "long", 3, 9)
        value_portfolios(conn)
    with db.begin() as conn:
        before = row(conn, "portfolio_holdings", holding, "updated_at")
        assert value_portfolios(conn) == PortfolioValuationResult(1, 0, 0, 1, 0, 0, ())
        assert row(conn, "portfolio_holdings", holding, "updated_at") == before

        add_bar(conn, security, date(2024, 1, 4), 12)
        assert value_portfolios(conn) == PortfolioValuationResult(1, 1, 0, 1, 1, 0, ())
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("36.00"),
            Decimal("41.00"),
            Decimal("0.3333"),
            Decimal("0.0789"),  # 3 / (5 + 33)
        )


def test_securities_without_history_use_their_cached_price(db: Engine) -> None:
    """No previous close, so no day return; the fallback price still values the holding."""
    with db.begin() as conn:
        security = add_security(conn, "CACHED", current_price="12.5")
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=100)
        holding = add_holding(conn, portfolio, security, "long", 4, 10)
        value_portfolios(conn)
        assert row(conn, "portfolio_holdings", holding, "market_value, unrealized_pnl") == (
            Decimal("50.00"),
            Decimal("10.00"),
        )
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("50.00"),
            Decimal("150.00"),
            Decimal("0.2500"),
            None,
        )


def test_an_unpriced_holding_leaves_its_portfolio_unvalued(db: Engine) -> None:
    with db.begin() as conn:
        priced = two_day_prices(conn, "PRICED", 10, 10)
        unpriced = add_security(conn, "NOPRICE")
        user = add_user(conn)
        mixed = add_portfolio(conn, user, cash_balance=100)
        add_holding(conn, mixed, priced, "long", 1, 10)
        add_holding(conn, mixed, unpriced, "long", 1, 10)
        cash_only = add_portfolio(conn, user, cash_balance=100)

        assert value_portfolios(conn).unpriced_holdings == 1
        assert row(conn, "portfolios", mixed, PORTFOLIO) == (None, None, None, None)
        assert row(conn, "portfolios", cash_only, PORTFOLIO) == (
            Decimal("0.00"),
            Decimal("100.00"),
            None,
            Decimal("0.0000"),
        )


def set_currency(conn: Connection, table: str, row_id: uuid.UUID, currency: str) -> None:
    conn.execute(
        text(f"UPDATE {table} SET currency = :currency WHERE id = :id"),
        {"currency": currency, "id": row_id},
    )


def test_pence_and_yen_holdings_in_a_dollar_portfolio(db: Engine) -> None:
    """Prices stay in pence and yen; values are dollars at each day's rate."""
    with db.begin() as conn:
        shell = two_day_prices(conn, "SHEL.L", 2500, 2600, currency="GBp")
        toyota = two_day_prices(conn, "7203.T", 2800, 3000, currency="JPY")
        add_fx_rate(conn, "GBP", DAY_1, "1.25")
        add_fx_rate(conn, "GBP", DAY_2, "1.30")
        add_fx_rate(conn, "JPY", DAY_1, "0.0068")
        add_fx_rate(conn, "JPY", DAY_2, "0.0065")
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=1000)
        long_shell = add_holding(conn, portfolio, shell, "long", 100, 2400)
        short_toyota = add_holding(conn, portfolio, toyota, "short", 50, 3100)

        assert value_portfolios(conn).holdings_without_rate == 0
        # 100 x 2600 pence at $1.30 a pound: $3,380; cost 100 x 2400 x 0.013 = $3,120.
        assert row(conn, "portfolio_holdings", long_shell, HOLDING) == (
            Decimal("2600.000000"),
            Decimal("3380.00"),
            Decimal("3120.00"),
            Decimal("260.00"),
            Decimal("0.0833"),
        )
        # Short 50 at 3000 yen, $0.0065 a yen: owes $975; opened for 50 x 3100 x 0.0065.
        assert row(conn, "portfolio_holdings", short_toyota, HOLDING) == (
            Decimal("3000.000000"),
            Decimal("-975.00"),
            Decimal("1007.50"),
            Decimal("32.50"),
            Decimal("0.0323"),
        )
        # Equity 3380 - 975; return 292.50 / 4127.50. Yesterday, at yesterday's rates:
        # 100 x 2500 x 0.0125 - 50 x 2800 x 0.0068 = 3125 - 952 = 2173, so the day's return
        # (currency moves included) is (2405 - 2173) / (1000 + 2173) = 0.07311...
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("2405.00"),
            Decimal("3405.00"),
            Decimal("0.0709"),
            Decimal("0.0731"),
        )


def test_minor_units_convert_to_their_major_currency_without_a_rate(db: Engine) -> None:
    """Pence in a pound portfolio: divided by 100, no stored rate needed; a security without a
    currency counts as USD, converted at the dollar's rate in pounds."""
    with db.begin() as conn:
        shell = two_day_prices(conn, "SHEL.L", 2500, 2600, currency="GBp")
        unknown = add_security(conn, "NOCCY", currency=None)
        add_bar(conn, unknown, DAY_2, 130)
        add_fx_rate(conn, "GBP", DAY_2, "1.30")
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=0)
        set_currency(conn, "portfolios", portfolio, "GBP")
        pence = add_holding(conn, portfolio, shell, "long", 100, 2400)
        dollars = add_holding(conn, portfolio, unknown, "long", 10, 117)

        value_portfolios(conn)
        assert row(conn, "portfolio_holdings", pence, "market_value, cost_basis") == (
            Decimal("2600.00"),
            Decimal("2400.00"),
        )
        # 10 x $130 at 1 / 1.30 pounds a dollar; cost 10 x $117 likewise.
        assert row(conn, "portfolio_holdings", dollars, "market_value, cost_basis") == (
            Decimal("1000.00"),
            Decimal("900.00"),
        )


def test_a_holding_without_a_rate_is_unvalued_counted_and_named(db: Engine) -> None:
    with db.begin() as conn:
        sap = two_day_prices(conn, "SAP.DE", 100, 110, currency="EUR")
        dollars = two_day_prices(conn, "AAA", 10, 10)
        add_fx_rate(conn, "EUR", DAY_2 - timedelta(days=8), "1.10")  # too old to use
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=100)
        unconverted = add_holding(conn, portfolio, sap, "long", 5, 90)
        add_holding(conn, portfolio, dollars, "long", 1, 10)

        result = value_portfolios(conn)
        assert (result.holdings_without_rate, result.missing_rates) == (1, ("SAP.DE (EUR to USD)",))
        assert result.unpriced_holdings == 1
        # The price is known and kept, in euros; nothing converted from it is.
        assert row(conn, "portfolio_holdings", unconverted, HOLDING) == (
            Decimal("110.000000"),
            None,
            None,
            None,
            None,
        )
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (None, None, None, None)


@pytest.mark.parametrize("entry", ["0", "0.000001"])
def test_a_return_that_does_not_fit_is_null_not_an_error(db: Engine, entry: str) -> None:
    """A zero cost basis, or one so small that the ratio (2 / 0.000001 - 1) overflows
    NUMERIC(10,4)."""
    with db.begin() as conn:
        security = two_day_prices(conn, "PENNY", 2, 2)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=0)
        holding = add_holding(conn, portfolio, security, "long", 10_000, entry)
        value_portfolios(conn)
        assert row(
            conn, "portfolio_holdings", holding, "market_value, cost_basis, unrealized_pnl_percent"
        ) == (Decimal("20000.00"), Decimal(entry) * 10_000, None)
        assert row(conn, "portfolios", portfolio, "total_value, total_return") == (
            Decimal("20000.00"),
            None,
        )


def test_trade_positions_of_active_trades_only(db: Engine) -> None:
    with db.begin() as conn:
        security = two_day_prices(conn, "TRD", 110, 120)
        user = add_user(conn)
        active, draft = (add_trade(conn, user, status) for status in ("active", "draft"))
        long_open = add_position(conn, active, security, "long", "open", 10, 100)
        short_open = add_position(conn, active, security, "short", "open", 5, 130)
        closed = add_position(conn, active, security, "long", "closed", 10, 100)
        in_draft = add_position(conn, draft, security, "long", "open", 10, 100)

        assert value_trade_positions(conn) == PositionValuationResult(2, 2, 0, 0, ())
        values = "current_price, market_value, unrealized_pnl"
        assert row(conn, "positions", long_open, values) == (
            Decimal("120.000000"),
            Decimal("1200.00"),
            Decimal("200.00"),
        )
        assert row(conn, "positions", short_open, values) == (
            Decimal("120.000000"),
            Decimal("-600.00"),
            Decimal("50.00"),
        )
        assert row(conn, "positions", closed, values) == (None, None, None)
        assert row(conn, "positions", in_draft, values) == (None, None, None)
        assert value_trade_positions(conn) == PositionValuationResult(2, 0, 0, 0, ())


def test_trade_positions_are_valued_in_the_trade_currency(db: Engine) -> None:
    """Entry at 2800 yen and $0.0068 a yen; now 3000 yen at $0.0065."""
    with db.begin() as conn:
        toyota = two_day_prices(conn, "7203.T", 2800, 3000, currency="JPY")
        sap = two_day_prices(conn, "SAP.DE", 100, 110, currency="EUR")
        add_fx_rate(conn, "JPY", DAY_2, "0.0065")
        trade = add_trade(conn, add_user(conn), "active")
        long_toyota = add_position(conn, trade, toyota, "long", "open", 100, 2800, "0.0068")
        short_toyota = add_position(conn, trade, toyota, "short", "open", 100, 2800, "0.0068")
        no_rate = add_position(conn, trade, sap, "long", "open", 10, 100, "1.1")

        result = value_trade_positions(conn)
        assert (result.positions, result.without_rate, result.missing_rates) == (
            3,
            1,
            ("SAP.DE (EUR to USD)",),
        )
        values = "current_price, market_value, unrealized_pnl"
        # 100 x 3000 x 0.0065 = $1,950 against 100 x 2800 x 0.0068 = $1,904.
        assert row(conn, "positions", long_toyota, values) == (
            Decimal("3000.000000"),
            Decimal("1950.00"),
            Decimal("46.00"),
        )
        assert row(conn, "positions", short_toyota, values) == (
            Decimal("3000.000000"),
            Decimal("-1950.00"),
            Decimal("-46.00"),
        )
        assert row(conn, "positions", no_rate, values) == (Decimal("110.000000"), None, None)


def add_trade(conn: Connection, user_id: uuid.UUID, status: str) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description, status) "
            "VALUES (:user_id, 'idea', 'an idea', :status) RETURNING id"
        ),
        {"user_id": user_id, "status": status},
    ).scalar_one()


def add_position(
    conn: Connection,
    trade_id: uuid.UUID,
    security_id: uuid.UUID,
    position_type: str,
    status: str,
    quantity: int,
    entry_price: int,
    entry_fx_rate: str = "1",
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
            "allocation_percent, status, quantity, entry_price, entry_fx_rate) "
            "VALUES (:trade_id, :security_id, :position_type, 'equity', 30, :status, "
            ":quantity, :entry_price, :entry_fx_rate) RETURNING id"
        ),
        {
            "trade_id": trade_id,
            "security_id": security_id,
            "position_type": position_type,
            "status": status,
            "quantity": quantity,
            "entry_price": entry_price,
            "entry_fx_rate": entry_fx_rate,
        },
    ).scalar_one()
