"""The valuation assets name, in their warnings and metadata, every rate whose absence left a
figure NULL, every holding whose day's change is unknown and every price valued stale."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import dagster as dg
from sqlalchemy import Engine, text

from rm_pipeline.defs.portfolios.assets import portfolio_valuations
from rm_pipeline.defs.trades.assets import trade_position_valuations
from rm_pipeline_tests.defs.conftest import Materialize, metadata
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_holding,
    add_portfolio,
    add_security,
    add_sessions,
    add_user,
)

WEDNESDAY, THURSDAY, FRIDAY = date(2024, 1, 10), date(2024, 1, 11), date(2024, 1, 12)


def warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The warnings the run logged."""
    return [e.user_message for e in instance.all_logs(run_id) if e.level == logging.WARNING]


def seed(db: Engine) -> None:
    """Toyota (Tokyo) closes Thursday and Friday with a yen rate for Friday only, SAP (Xetra) has
    no euro rate at all, and Shell (London) last closed Wednesday, two London sessions before
    Friday, the valuation date. One portfolio holds each, and an active trade holds SAP."""
    listings = (
        ("7203.T", "TSE", "JPY", "XTKS", (THURSDAY, FRIDAY)),
        ("SAP.DE", "XETRA", "EUR", "XETR", (THURSDAY, FRIDAY)),
        ("SHEL.L", "LSE", "USD", "XLON", (WEDNESDAY,)),
    )
    with db.begin() as conn:
        user = add_user(conn)
        trade = conn.execute(
            text(
                "INSERT INTO trades (user_id, trade_name, trade_description, status) "
                "VALUES (:user, 'idea', 'an idea', 'active') RETURNING id"
            ),
            {"user": user},
        ).scalar_one()
        for ticker, exchange, currency, calendar, days in listings:
            add_sessions(conn, calendar, WEDNESDAY, FRIDAY)
            security = add_security(conn, ticker, exchange, currency=currency, calendar=calendar)
            for day in days:
                add_bar(conn, security, day, 100)
            add_holding(conn, add_portfolio(conn, user, cash_balance=100), security, "long", 1, 90)
        add_fx_rate(conn, "JPY", FRIDAY, "0.0065")
        conn.execute(
            text(
                "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
                "allocation_percent, status, quantity, entry_price, entry_fx_rate) "
                "SELECT :trade, id, 'long', 'equity', 50, 'open', 1, 90, 1.1 FROM securities "
                "WHERE ticker = 'SAP.DE'"
            ),
            {"trade": trade},
        )


def test_every_missing_rate_and_unknown_day_change_is_named(
    db: Engine, materialize: Materialize
) -> None:
    seed(db)
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize([portfolio_valuations], instance=instance)
        logged = warnings(instance, result.run_id)
    values = metadata(result, "portfolio_valuations")
    missing = (
        "7203.T (JPY to USD on 2024-01-11), SAP.DE (EUR to USD on 2024-01-11), "
        "SAP.DE (EUR to USD on 2024-01-12)"
    )
    assert (values["holdings_without_rate"], values["missing_rates"]) == (2, missing)
    assert (values["stale_holdings"], values["stale_prices"]) == (
        1,
        "SHEL.L (close of 2024-01-10, 2 sessions behind)",
    )
    assert values["unknown_day_changes"] == "SHEL.L (no close since 2024-01-10)"
    assert any(missing in w and "day return" in w for w in logged), logged
    assert any("SHEL.L (no close since 2024-01-10)" in w for w in logged), logged
    assert any("SHEL.L (close of 2024-01-10, 2 sessions behind)" in w for w in logged), logged
    with db.connect() as conn:
        # Toyota's portfolio is valued, but its day's return is NULL for want of Thursday's rate.
        assert conn.execute(
            text(
                "SELECT p.total_value, p.day_return FROM portfolios p "
                "JOIN portfolio_holdings h ON h.portfolio_id = p.id "
                "JOIN securities s ON s.id = h.security_id WHERE s.ticker = '7203.T'"
            )
        ).one() == (Decimal("100.65"), None)  # 100 yen at $0.0065, and $100 of cash


def test_every_missing_position_rate_is_named_with_its_date(
    db: Engine, materialize: Materialize
) -> None:
    seed(db)
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize([trade_position_valuations], instance=instance)
        logged = warnings(instance, result.run_id)
    values = metadata(result, "trade_position_valuations")
    assert (values["positions_without_rate"], values["missing_rates"]) == (
        1,
        "SAP.DE (EUR to USD on 2024-01-12)",
    )
    assert (values["stale_positions"], values["positions_of_unknown_staleness"]) == (0, 0)
    assert any("SAP.DE (EUR to USD on 2024-01-12)" in w for w in logged), logged
