"""The charts' data, read from a real warehouse: unknown values stay NULL (NaN), never 0."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.charts.coverage import coverage_by_year
from rm_pipeline.charts.portfolios import (
    active_portfolios,
    holding_weights,
    holdings_value,
    portfolio_charts,
)
from rm_pipeline.charts.trades import active_trades, realized_paths, trade_charts, trade_legs
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_holding,
    add_portfolio,
    add_security,
    add_sessions,
    add_user,
)

JAN_2, JAN_3, JAN_4, JAN_5, JAN_8, JAN_22 = (
    date(2024, 1, 2),
    date(2024, 1, 3),
    date(2024, 1, 4),
    date(2024, 1, 5),
    date(2024, 1, 8),
    date(2024, 1, 22),
)


def add_trade(
    conn: Connection,
    user: uuid.UUID,
    name: str,
    status: str,
    legs: tuple[tuple[uuid.UUID, str, int], ...],
    activated_at: datetime | None = None,
) -> uuid.UUID:
    trade = conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description, status, activated_at, "
            "return_1m, return_1y) VALUES (:user, :name, 'd', :status, :at, 0.01, 0.12) "
            "RETURNING id"
        ),
        {"user": user, "name": name, "status": status, "at": activated_at},
    ).scalar_one()
    for security, side, allocation in legs:
        conn.execute(
            text(
                "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
                "allocation_percent) VALUES (:trade, :security, :side, 'equity', :allocation)"
            ),
            {"trade": trade, "security": security, "side": side, "allocation": allocation},
        )
    return trade


def test_holdings_value_converts_each_day_and_leaves_unknown_days_null(db: Engine) -> None:
    """Long 2 AAA (USD), short 1 SAP (EUR) in a USD portfolio; one EUR rate, on Jan 2, which
    covers a week. Jan 2: 2 x 10 - 100 x 1.1 = -90; Jan 3: SAP has no bar; Jan 4:
    2 x 12 - 110 x 1.1 = -97; Jan 22: no EUR rate within a week. AAA's bar of 2022 is more
    than a year before the valuation date (Jan 22)."""
    with db.begin() as conn:
        aaa = add_security(conn, "AAA")
        sap = add_security(conn, "SAP", "XETRA", currency="EUR")
        for day, close in {
            date(2022, 12, 30): 5,
            JAN_2: 10,
            JAN_3: 11,
            JAN_4: 12,
            JAN_22: 13,
        }.items():
            add_bar(conn, aaa, day, close)
        for day, close in {JAN_2: 100, JAN_4: 110, JAN_22: 120}.items():
            add_bar(conn, sap, day, close)
        add_fx_rate(conn, "EUR", JAN_2, "1.1")
        portfolio = add_portfolio(conn, add_user(conn))
        add_holding(conn, portfolio, aaa, "long", 2, 9)
        add_holding(conn, portfolio, sap, "short", 1, 100)
    with db.connect() as conn:
        values = holdings_value(conn, [portfolio])
    assert list(values["date"]) == [JAN_2, JAN_3, JAN_4, JAN_22]
    np.testing.assert_allclose(values["value"], [-90.0, np.nan, -97.0, np.nan])
    assert set(values["portfolio_id"]) == {portfolio}


def test_weights_are_market_value_over_total_value(db: Engine) -> None:
    with db.begin() as conn:
        portfolio = add_portfolio(conn, add_user(conn))
        for ticker, side, market_value in (("AAA", "long", 300), ("BBB", "short", -100)):
            holding = add_holding(conn, portfolio, add_security(conn, ticker), side, 1, 1)
            conn.execute(
                text("UPDATE portfolio_holdings SET market_value = :v WHERE id = :id"),
                {"v": market_value, "id": holding},
            )
        add_holding(conn, portfolio, add_security(conn, "CCC"), "long", 1, 1)  # unvalued
        conn.execute(
            text("UPDATE portfolios SET total_value = 400 WHERE id = :id"), {"id": portfolio}
        )
    with db.connect() as conn:
        weights = holding_weights(conn, [portfolio])
    assert list(weights["ticker"]) == ["AAA", "BBB", "CCC"]
    np.testing.assert_allclose(weights["weight"], [0.75, -0.25, np.nan])


def test_realized_path_weighs_legs_from_the_close_at_the_start(db: Engine) -> None:
    """Started Jan 3: LONG's close at the start is Jan 2's 100 (none on Jan 3), SHORT's Jan 3's
    50. Jan 4: 0.6 x 10% - 0.4 x 10% = 2%; Jan 5: SHORT has no bar; Jan 8:
    0.6 x -10% - 0.4 x -10% = -2%. Bars before the start are not drawn."""
    with db.begin() as conn:
        long_leg, short_leg = add_security(conn, "LONG"), add_security(conn, "SHORT")
        for day, close in {JAN_2: 100, JAN_4: 110, JAN_5: 120, JAN_8: 90}.items():
            add_bar(conn, long_leg, day, close)
        for day, close in {JAN_2: 40, JAN_3: 50, JAN_4: 55, JAN_8: 45}.items():
            add_bar(conn, short_leg, day, close)
        user = add_user(conn)
        legs = ((long_leg, "long", 60), (short_leg, "short", 40))
        trade = add_trade(conn, user, "Pair", "active", legs, datetime(2024, 1, 3, 15, 30))
        add_trade(conn, user, "Draft", "draft", legs)
    with db.connect() as conn:
        trades = active_trades(conn)
        path = realized_paths(conn, [trade])
        legs_frame = trade_legs(conn, [trade])
    assert list(trades.frame["trade_name"]) == ["Pair"]
    assert trades.total == 1
    assert list(trades.frame[["return_1m", "return_3m"]].iloc[0].isna()) == [False, True]
    assert list(path["date"]) == [JAN_3, JAN_4, JAN_5, JAN_8]
    assert list(path["session"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(path["realized"], [0.0, 0.02, np.nan, -0.02], atol=1e-12)
    assert list(legs_frame["ticker"]) == ["LONG", "SHORT"]
    assert list(legs_frame["allocation_percent"]) == [60.0, 40.0]


def test_a_leg_without_a_close_at_the_start_leaves_the_whole_path_unknown(db: Engine) -> None:
    with db.begin() as conn:
        early, late = add_security(conn, "EARLY"), add_security(conn, "LATE")
        add_bar(conn, early, JAN_2, 10)
        add_bar(conn, early, JAN_4, 11)
        add_bar(conn, late, JAN_4, 20)  # first bar after the start
        legs = ((early, "long", 50), (late, "long", 50))
        trade = add_trade(conn, add_user(conn), "New", "active", legs, datetime(2024, 1, 3))
    with db.connect() as conn:
        path = realized_paths(conn, [trade])
    assert list(path["session"]) == [0, 1]
    assert path["realized"].isna().all()


def test_coverage_counts_securities_per_year_and_splits_gaps_over_new_year(db: Engine) -> None:
    """A's gap runs from 2023-12-28 to 2024-01-03: 2 NYSE sessions in each year; B's 3 sessions
    fall in 2024."""
    with db.begin() as conn:
        add_sessions(conn, "XNYS", date(2023, 12, 1), date(2024, 3, 29))
        a = add_security(conn, "A", calendar="XNYS")
        b = add_security(conn, "B", calendar="XNYS")
        for day in (date(2023, 12, 27), JAN_4, JAN_5):
            add_bar(conn, a, day, 1)
        for day in (date(2024, 3, 1), date(2024, 3, 7)):
            add_bar(conn, b, day, 1)
        conn.execute(
            text(
                "INSERT INTO price_gaps (security_id, first_missing, last_missing, sessions) "
                "VALUES (:a, '2023-12-28', '2024-01-03', 4), (:b, '2024-03-04', '2024-03-06', 3)"
            ),
            {"a": a, "b": b},
        )
    with db.connect() as conn:
        coverage = coverage_by_year(conn)
    assert coverage.to_dict("records") == [
        {"year": 2023, "securities": 1, "missing_sessions": 2},
        {"year": 2024, "securities": 2, "missing_sessions": 5},
    ]


@pytest.mark.parametrize("portfolios", [3, 12])
def test_portfolio_charts_are_capped_and_say_how_many_were_left_out(
    db: Engine, portfolios: int
) -> None:
    with db.begin() as conn:
        user, security = add_user(conn), add_security(conn, "AAA")
        add_bar(conn, security, JAN_2, 10)
        for n in range(portfolios):
            portfolio = add_portfolio(conn, user)
            conn.execute(
                text("UPDATE portfolios SET name = :name WHERE id = :id"),
                {"name": f"P{n:02d}", "id": portfolio},
            )
            add_holding(conn, portfolio, security, "long", 1, 1)
    with db.connect() as conn:
        charts = portfolio_charts(conn)
        listed = active_portfolios(conn)
    assert listed.total == portfolios
    shown = min(portfolios, 10)
    assert charts.value.count("#### P") == shown
    assert charts.value.count("](data:image/png;base64,") == shown
    assert charts.weights.count("#### P") == shown
    assert ("2 more portfolios not charted" in charts.value) == (portfolios == 12)


def test_without_active_trades_or_portfolios_the_charts_say_so(db: Engine) -> None:
    with db.connect() as conn:
        assert trade_charts(conn) == "_no active trades_"
        assert portfolio_charts(conn).value == "_no active portfolios_"


def test_a_trade_without_a_start_is_named_not_drawn(db: Engine) -> None:
    with db.begin() as conn:
        legs = ((add_security(conn, "AAA"), "long", 100),)
        trade = add_trade(conn, add_user(conn), "Undated", "active", legs)
        conn.execute(text("UPDATE trades SET created_at = NULL WHERE id = :id"), {"id": trade})
    with db.connect() as conn:
        charts = trade_charts(conn)
    assert (
        charts
        == "#### Undated\n\n_Undated: neither an activation nor a creation time to start from_"
    )
