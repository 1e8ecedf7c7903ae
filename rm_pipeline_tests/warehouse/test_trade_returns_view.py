"""Revision 0010: `v_trade_returns`, realized trailing returns beside the projected ones."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline_tests.warehouse.factories import add_bar, add_security, add_user

REALIZED = "realized_1m, realized_3m, realized_6m, realized_1y"


def add_trade(conn: Connection, user: uuid.UUID, *legs: tuple[uuid.UUID, str, int]) -> uuid.UUID:
    trade = conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description, return_1m, return_3m, "
            "return_6m, return_1y) VALUES (:user, 'pair', 'd', 0.01, 0.03, 0.06, 0.12) "
            "RETURNING id"
        ),
        {"user": user},
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


def returns_of(conn: Connection, trade: uuid.UUID, columns: str = REALIZED) -> tuple[object, ...]:
    return tuple(
        conn.execute(
            text(f"SELECT {columns} FROM v_trade_returns WHERE trade_id = :t"), {"t": trade}
        ).one()
    )


@pytest.fixture
def pair(db: Engine) -> uuid.UUID:
    """LONG (60% long) priced to 2024-12-31, SHORT (40% short) only to 2024-12-20.

    From LONG's latest close, 100 on 2024-12-31, the spans end on 2024-11-30, 2024-09-30,
    2024-06-30 and 2023-12-31, whose latest closes on or before are 98, 95, 90 and 80: +2.0408%,
    +5.2632%, +11.1111%, +25%. From SHORT's, 50 on 2024-12-20: 40 on 2024-11-20 (+25%), 62.5 on
    2024-09-20 (-20%), 50 on 2024-06-20 (0%), nothing as old as 2023-12-20.
    """
    with db.begin() as conn:
        long_leg = add_security(conn, "LONG")
        short_leg = add_security(conn, "SHORT")
        for day, close in {
            date(2023, 12, 29): 80,
            date(2024, 6, 28): 90,
            date(2024, 9, 30): 95,
            date(2024, 11, 29): 98,
            date(2024, 12, 2): 120,
            date(2024, 12, 31): 100,
        }.items():
            add_bar(conn, long_leg, day, close)
        for day, short_close in {
            date(2024, 6, 20): "50",
            date(2024, 9, 20): "62.5",
            date(2024, 11, 20): "40",
            date(2024, 12, 20): "50",
        }.items():
            add_bar(conn, short_leg, day, short_close)
        return add_trade(conn, add_user(conn), (long_leg, "long", 60), (short_leg, "short", 40))


def test_realized_returns_weigh_each_leg_by_its_allocation_and_negate_shorts(
    db: Engine, pair: uuid.UUID
) -> None:
    """1m: 0.6 x 2.0408% - 0.4 x 25% = -8.78%; 3m: 0.6 x 5.2632% + 0.4 x 20% = 11.16%;
    6m: 0.6 x 11.1111% = 6.67%; 1y: SHORT has no close a year before its latest, so NULL."""
    with db.connect() as conn:
        assert returns_of(conn, pair) == (
            Decimal("-0.0878"),
            Decimal("0.1116"),
            Decimal("0.0667"),
            None,
        )
        assert returns_of(conn, pair, "prices_through") == (date(2024, 12, 20),)


def test_projected_returns_sit_beside_the_realized_ones(db: Engine, pair: uuid.UUID) -> None:
    with db.connect() as conn:
        assert returns_of(conn, pair, "return_1m, return_3m, return_6m, return_1y") == (
            Decimal("0.0100"),
            Decimal("0.0300"),
            Decimal("0.0600"),
            Decimal("0.1200"),
        )


def test_a_trade_partly_in_cash_earns_nothing_on_the_cash(db: Engine) -> None:
    """Half in a security up 10% over the month: 5%. The month before 2024-02-29 starts on
    2024-01-29, so a close on 2024-01-31 would be too recent to start it."""
    with db.begin() as conn:
        security = add_security(conn, "HALF")
        add_bar(conn, security, date(2024, 1, 29), 100)
        add_bar(conn, security, date(2024, 1, 31), 105)
        add_bar(conn, security, date(2024, 2, 29), 110)
        trade = add_trade(conn, add_user(conn), (security, "long", 50))
    with db.connect() as conn:
        assert returns_of(conn, trade, "realized_1m, realized_3m") == (Decimal("0.0500"), None)


@pytest.mark.parametrize("case", ["no positions", "no prices", "unknown side"])
def test_what_is_not_known_is_null(db: Engine, case: str) -> None:
    with db.begin() as conn:
        security = add_security(conn, "SOME")
        if case != "no prices":
            add_bar(conn, security, date(2023, 1, 2), 100)
            add_bar(conn, security, date(2024, 1, 2), 120)
        legs = {
            "no positions": (),
            "no prices": ((security, "long", 100),),
            "unknown side": ((security, "sideways", 100),),
        }[case]
        trade = add_trade(conn, add_user(conn), *legs)
    with db.connect() as conn:
        assert returns_of(conn, trade) == (None, None, None, None)


def test_the_analyst_reads_the_view(db: Engine, pair: uuid.UUID) -> None:
    with db.connect() as conn, conn.begin() as transaction:
        conn.execute(text("SET LOCAL ROLE rm_analyst"))
        assert returns_of(conn, pair, "realized_6m") == (Decimal("0.0667"),)
        transaction.rollback()
