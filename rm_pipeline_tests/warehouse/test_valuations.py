"""Portfolio and trade valuations on hand-checkable numbers, in one currency and across several."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.core.calendars import sessions
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
    add_sessions,
    add_user,
    row,
)

HOLDING = "current_price, market_value, cost_basis, unrealized_pnl, unrealized_pnl_percent"
PORTFOLIO = "equity_value, total_value, total_return, day_return"
PRICE_AGE = "price_date, is_stale, sessions_behind"
DAY_1, DAY_2 = date(2024, 1, 2), date(2024, 1, 3)


def two_day_prices(
    conn: Connection, ticker: str, day_1: int, day_2: int, currency: str = "USD"
) -> uuid.UUID:
    """A New York listing closing on two consecutive sessions, DAY_1 and DAY_2."""
    security = add_security(conn, ticker, currency=currency, calendar="XNYS")
    add_sessions(conn, "XNYS", DAY_1, DAY_2)
    add_bar(conn, security, DAY_1, day_1)
    add_bar(conn, security, DAY_2, day_2)
    return security


def all_known(
    holdings: int, holdings_updated: int, portfolios: int, portfolios_updated: int
) -> PortfolioValuationResult:
    """The result of a valuation that found every price, rate and day's change, none stale."""
    return PortfolioValuationResult(
        holdings=holdings,
        holdings_updated=holdings_updated,
        unpriced_holdings=0,
        portfolios=portfolios,
        portfolios_updated=portfolios_updated,
        holdings_without_rate=0,
        missing_rates=(),
        stale_holdings=0,
        unknown_staleness=0,
        stale_prices=(),
        holdings_without_day_change=0,
        unknown_day_changes=(),
    )


def test_long_and_short_holdings_over_two_days(db: Engine) -> None:
    with db.begin() as conn:
        long_security = two_day_prices(conn, "LNG", 110, 120)
        short_security = two_day_prices(conn, "SHT", 40, 45)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=1000)
        long_holding = add_holding(conn, portfolio, long_security, "long", 10, 100)
        short_holding = add_holding(conn, portfolio, short_security, "short", 5, 50)

        assert value_portfolios(conn) == all_known(2, 2, 1, 1)
        assert row(conn, "portfolio_holdings", long_holding, PRICE_AGE) == (DAY_2, False, 0)

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
        assert value_portfolios(conn) == all_known(1, 0, 1, 0)
        assert row(conn, "portfolio_holdings", holding, "updated_at") == before

        add_sessions(conn, "XNYS", DAY_1, date(2024, 1, 4))
        add_bar(conn, security, date(2024, 1, 4), 12)
        assert value_portfolios(conn) == all_known(1, 1, 1, 1)
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
        result = value_portfolios(conn)
        assert result.unknown_day_changes == ("CACHED (no previous close)",)
        assert result.unknown_staleness == 1  # the cached price has no date
        assert row(conn, "portfolio_holdings", holding, "market_value, unrealized_pnl") == (
            Decimal("50.00"),
            Decimal("10.00"),
        )
        assert row(conn, "portfolio_holdings", holding, PRICE_AGE) == (None, None, None)
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
        assert (result.holdings_without_rate, result.missing_rates) == (
            1,
            ("SAP.DE (EUR to USD on 2024-01-03)",),
        )
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

        assert value_trade_positions(conn) == PositionValuationResult(2, 2, 0, 0, (), 0, 0, ())
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
        assert value_trade_positions(conn) == PositionValuationResult(2, 0, 0, 0, (), 0, 0, ())
        assert row(conn, "positions", long_open, PRICE_AGE) == (DAY_2, False, 0)


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
            ("SAP.DE (EUR to USD on 2024-01-03)",),
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


def summary(conn: Connection, portfolio: uuid.UUID, columns: str) -> tuple[object, ...]:
    """`columns` of a portfolio's row of `v_portfolio_summary`."""
    return tuple(
        conn.execute(
            text(f"SELECT {columns} FROM v_portfolio_summary WHERE portfolio_id = :id"),
            {"id": portfolio},
        ).one()
    )


def test_a_year_old_close_is_stale_and_its_portfolio_counts_it(db: Engine) -> None:
    """A yen listing whose last close is a year before the valuation date: valued at that close
    and that day's rate, its date shown, stale by every New York session since."""
    year_ago = date(2023, 1, 3)
    behind = len(sessions("XNYS", year_ago, DAY_2)) - 1
    with db.begin() as conn:
        add_sessions(conn, "XNYS", year_ago, DAY_2)
        old = add_security(conn, "OLD", currency="JPY", calendar="XNYS")
        add_bar(conn, old, year_ago, 3000)
        fresh = two_day_prices(conn, "NEW", 10, 11)
        add_fx_rate(conn, "JPY", year_ago, "0.0076")
        add_fx_rate(conn, "JPY", DAY_2, "0.0070")  # the valuation date's, not the close's
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=0)
        stale = add_holding(conn, portfolio, old, "long", 100, 2500)
        add_holding(conn, portfolio, fresh, "long", 1, 10)

        result = value_portfolios(conn)
        assert (result.stale_holdings, result.unknown_staleness, result.stale_prices) == (
            1,
            0,
            (f"OLD (close of 2023-01-03, {behind} sessions behind)",),
        )
        # Its day's change is unknown: it missed every session since.
        assert result.unknown_day_changes == ("OLD (no close since 2023-01-03)",)
        # 100 x 3000 yen at $0.0076: $2,280 against a cost of 100 x 2500 x 0.0076.
        assert row(conn, "portfolio_holdings", stale, f"{PRICE_AGE}, market_value, cost_basis") == (
            year_ago,
            True,
            behind,
            Decimal("2280.00"),
            Decimal("1900.00"),
        )
        # Equity 2280 + 11; return (380 + 1) / (1900 + 10).
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("2291.00"),
            Decimal("2291.00"),
            Decimal("0.1995"),
            None,
        )
    with db.connect() as conn:
        assert conn.execute(
            text(
                "SELECT valuation_date, price_date, is_stale, sessions_behind, fx_rate "
                "FROM v_holding_valuations WHERE holding_id = :id"
            ),
            {"id": stale},
        ).one() == (DAY_2, year_ago, True, behind, Decimal("0.0076"))
        assert summary(conn, portfolio, "holdings, stale_holdings") == (2, 1)


def test_closes_of_the_latest_session_are_not_stale_across_a_weekend_or_a_holiday(
    db: Engine,
) -> None:
    """Monday 15 January 2024 is a London session and a New York holiday (Martin Luther King Jr.
    Day): New York's Friday close is its latest, two days and a holiday before the valuation
    date, and changes nothing that day."""
    thursday, friday, monday = date(2024, 1, 11), date(2024, 1, 12), date(2024, 1, 15)
    with db.begin() as conn:
        for calendar in ("XNYS", "XLON"):
            add_sessions(conn, calendar, thursday, monday)
        london = add_security(conn, "LDN.L", "LSE", calendar="XLON")
        add_bar(conn, london, friday, 100)
        add_bar(conn, london, monday, 102)
        new_york = add_security(conn, "NYC", "NYSE", calendar="XNYS")
        add_bar(conn, new_york, thursday, 50)
        add_bar(conn, new_york, friday, 55)
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=1000)
        in_london = add_holding(conn, portfolio, london, "long", 10, 100)
        in_new_york = add_holding(conn, portfolio, new_york, "long", 10, 50)

        assert value_portfolios(conn) == all_known(2, 2, 1, 1)
        assert row(conn, "portfolio_holdings", in_london, PRICE_AGE) == (monday, False, 0)
        assert row(conn, "portfolio_holdings", in_new_york, PRICE_AGE) == (friday, False, 0)
        # Only London moved: (1020 - 1000) / (1000 + 1000 + 550).
        assert row(conn, "portfolios", portfolio, "day_return") == (Decimal("0.0078"),)
        assert summary(conn, portfolio, "stale_holdings") == (0,)


def test_a_day_return_with_a_leg_across_missing_sessions_is_null_and_named(db: Engine) -> None:
    """GAP has no close on 3 and 4 January, both sessions: its previous close is not the day
    before's. NOCAL has no calendar, so whether its closes are consecutive is unknown."""
    friday = date(2024, 1, 5)
    with db.begin() as conn:
        add_sessions(conn, "XNYS", DAY_1, friday)
        gapped = add_security(conn, "GAP", calendar="XNYS")
        add_bar(conn, gapped, DAY_1, 10)
        add_bar(conn, gapped, friday, 12)
        uncharted = add_security(conn, "NOCAL")
        add_bar(conn, uncharted, date(2024, 1, 4), 10)
        add_bar(conn, uncharted, friday, 10)
        user = add_user(conn)
        across_gap = add_portfolio(conn, user, cash_balance=100)
        add_holding(conn, across_gap, gapped, "long", 1, 10)
        without_calendar = add_portfolio(conn, user, cash_balance=100)
        add_holding(conn, without_calendar, uncharted, "long", 1, 10)

        result = value_portfolios(conn)
        assert (result.holdings_without_day_change, result.unknown_day_changes) == (
            2,
            (
                "GAP (previous close 2024-01-02 is not the session before 2024-01-05)",
                "NOCAL (no trading calendar)",
            ),
        )
        assert (result.stale_holdings, result.unknown_staleness) == (0, 1)
        # Valued all the same; only the day's return is unknown.
        assert row(conn, "portfolios", across_gap, PORTFOLIO) == (
            Decimal("12.00"),
            Decimal("112.00"),
            Decimal("0.2000"),
            None,
        )
        assert row(conn, "portfolios", without_calendar, "total_value, day_return") == (
            Decimal("110.00"),
            None,
        )
    with db.connect() as conn:
        assert summary(conn, without_calendar, "stale_holdings") == (None,)


def test_a_missing_rate_of_the_previous_close_is_named_with_its_date(db: Engine) -> None:
    """No yen rate for DAY_1: Toyota is valued, but the day's change cannot be converted."""
    with db.begin() as conn:
        toyota = two_day_prices(conn, "7203.T", 2800, 3000, currency="JPY")
        dollars = two_day_prices(conn, "AAA", 10, 10)
        add_fx_rate(conn, "JPY", DAY_2, "0.0065")
        portfolio = add_portfolio(conn, add_user(conn), cash_balance=0)
        add_holding(conn, portfolio, toyota, "long", 100, 2800)
        add_holding(conn, portfolio, dollars, "long", 1, 10)

        result = value_portfolios(conn)
        assert (
            result.unpriced_holdings,
            result.holdings_without_rate,
            result.missing_rates,
            result.unknown_day_changes,
        ) == (0, 1, ("7203.T (JPY to USD on 2024-01-02)",), ())
        # 100 x 3000 x 0.0065 + 10; return (1950 - 1820) / (1820 + 10).
        assert row(conn, "portfolios", portfolio, PORTFOLIO) == (
            Decimal("1960.00"),
            Decimal("1960.00"),
            Decimal("0.0710"),
            None,
        )


def test_a_security_held_in_several_currencies_converts_into_each(db: Engine) -> None:
    """Shell, in pence, held in a dollar, a pound and a euro portfolio (no euro rate), and traded
    in dollars and in pounds: each value converts into its own portfolio's or trade's currency at
    the rate of its close's date; a conversion without a rate is named once (with each date it
    lacks), however many holdings it leaves unvalued."""
    with db.begin() as conn:
        shell = two_day_prices(conn, "SHEL.L", 2500, 2600, currency="GBp")
        add_fx_rate(conn, "GBP", DAY_1, "1.25")
        add_fx_rate(conn, "GBP", DAY_2, "1.30")
        user = add_user(conn)
        portfolios = {}
        for currency in ("USD", "GBP", "EUR"):
            portfolios[currency] = add_portfolio(conn, user, cash_balance=0)
            set_currency(conn, "portfolios", portfolios[currency], currency)
        in_dollars = add_holding(conn, portfolios["USD"], shell, "long", 100, 2400)
        in_pounds = add_holding(conn, portfolios["GBP"], shell, "long", 100, 2400)
        add_holding(conn, portfolios["EUR"], shell, "long", 10, 2400)
        add_holding(conn, portfolios["EUR"], shell, "short", 10, 2400)
        dollar_trade, pound_trade = add_trade(conn, user, "active"), add_trade(conn, user, "active")
        set_currency(conn, "trades", pound_trade, "GBP")
        dollar_position = add_position(
            conn, dollar_trade, shell, "long", "open", 100, 2400, "0.0125"
        )
        pound_position = add_position(conn, pound_trade, shell, "long", "open", 100, 2400, "0.01")

        result = value_portfolios(conn)
        assert (result.holdings, result.unpriced_holdings, result.holdings_without_rate) == (
            4,
            2,
            2,
        )
        assert result.missing_rates == (
            "SHEL.L (GBp to EUR on 2024-01-02)",
            "SHEL.L (GBp to EUR on 2024-01-03)",
        )
        # 100 x 2600 pence: $3,380 at $1.30 a pound, or 2,600.00 pounds; yesterday $3,125 and
        # 2,500.00 pounds.
        value = "market_value, cost_basis"
        assert row(conn, "portfolio_holdings", in_dollars, value) == (
            Decimal("3380.00"),
            Decimal("3120.00"),
        )
        assert row(conn, "portfolio_holdings", in_pounds, value) == (
            Decimal("2600.00"),
            Decimal("2400.00"),
        )
        assert row(conn, "portfolios", portfolios["USD"], PORTFOLIO) == (
            Decimal("3380.00"),
            Decimal("3380.00"),
            Decimal("0.0833"),
            Decimal("0.0816"),
        )
        assert row(conn, "portfolios", portfolios["GBP"], PORTFOLIO) == (
            Decimal("2600.00"),
            Decimal("2600.00"),
            Decimal("0.0833"),
            Decimal("0.0400"),
        )
        assert row(conn, "portfolios", portfolios["EUR"], PORTFOLIO) == (None, None, None, None)

        assert value_trade_positions(conn).without_rate == 0
        # Entered at 100 x 2400 pence: $3,000 at $1.25 a pound, or 2,400 pounds.
        value = "market_value, unrealized_pnl"
        assert row(conn, "positions", dollar_position, value) == (
            Decimal("3380.00"),
            Decimal("380.00"),
        )
        assert row(conn, "positions", pound_position, value) == (
            Decimal("2600.00"),
            Decimal("200.00"),
        )


def test_unvalued_exposure_is_null_not_zero(db: Engine) -> None:
    """SAP has no euro rate: a portfolio holding only SAP long has no known long exposure (and
    no short one: 0); one short SAP and long a dollar listing knows its long exposure only."""
    with db.begin() as conn:
        sap = two_day_prices(conn, "SAP.DE", 100, 110, currency="EUR")
        dollars = two_day_prices(conn, "AAA", 10, 10)
        user = add_user(conn)
        only_unvalued = add_portfolio(conn, user, cash_balance=100)
        add_holding(conn, only_unvalued, sap, "long", 5, 90)
        short_unvalued = add_portfolio(conn, user, cash_balance=100)
        add_holding(conn, short_unvalued, dollars, "long", 2, 10)
        add_holding(conn, short_unvalued, sap, "short", 5, 90)
        cash_only = add_portfolio(conn, user, cash_balance=100)
        value_portfolios(conn)
    columns = (
        "equity_value, total_value, unvalued_holdings, long_value, short_value, cost_basis, "
        "unrealized_pnl"
    )
    with db.connect() as conn:
        assert summary(conn, only_unvalued, columns) == (None, None, 1, None, 0, None, None)
        assert summary(conn, short_unvalued, columns) == (
            None,
            None,
            1,
            Decimal("20.00"),
            None,
            None,
            None,
        )
        assert summary(conn, cash_only, columns) == (
            Decimal("0.00"),
            Decimal("100.00"),
            0,
            0,
            0,
            None,
            None,
        )


def test_holdings_and_positions_of_a_security_convert_at_its_close_rate(db: Engine) -> None:
    """Toyota's latest close is Thursday's; New York's Friday close makes Friday the valuation
    date, whose yen rate differs. Held or traded, Toyota converts at Thursday's rate, and Friday
    being a Tokyo session, its close is a session behind."""
    wednesday, thursday, friday = date(2024, 1, 10), date(2024, 1, 11), date(2024, 1, 12)
    with db.begin() as conn:
        for calendar in ("XTKS", "XNYS"):
            add_sessions(conn, calendar, wednesday, friday)
        toyota = add_security(conn, "7203.T", "TSE", currency="JPY", calendar="XTKS")
        add_bar(conn, toyota, wednesday, 2900)
        add_bar(conn, toyota, thursday, 3000)
        later = add_security(conn, "AAA", calendar="XNYS")
        add_bar(conn, later, friday, 10)
        add_fx_rate(conn, "JPY", thursday, "0.0065")
        add_fx_rate(conn, "JPY", friday, "0.0070")
        user = add_user(conn)
        portfolio = add_portfolio(conn, user, cash_balance=0)
        holding = add_holding(conn, portfolio, toyota, "long", 100, 2800)
        trade = add_trade(conn, user, "active")
        position = add_position(conn, trade, toyota, "long", "open", 100, 2800, "0.0068")

        value_portfolios(conn)
        assert value_trade_positions(conn).stale_prices == (
            "7203.T (close of 2024-01-11, 1 session behind)",
        )
        # 100 x 3000 yen at $0.0065 (not Friday's $0.0070) = $1,950, either way.
        values = f"market_value, {PRICE_AGE}"
        expected = (Decimal("1950.00"), thursday, True, 1)
        assert row(conn, "portfolio_holdings", holding, values) == expected
        assert row(conn, "positions", position, values) == expected
    with db.connect() as conn:
        rates = conn.execute(
            text(
                "SELECT h.fx_rate, p.fx_rate FROM v_holding_valuations AS h "
                "CROSS JOIN v_trade_positions AS p"
            )
        ).one()
        assert tuple(rates) == (Decimal("0.0065"), Decimal("0.0065"))
