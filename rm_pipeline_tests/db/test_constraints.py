"""The warehouse's constraints do their job: cascades, the allocation CHECK, UNIQUE, updated_at."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError


def insert(conn: Connection, table: str, **values: object) -> uuid.UUID:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    row = conn.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"), values
    )
    return row.scalar_one()


def count(conn: Connection, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture
def owned_rows(db: Engine) -> dict[str, uuid.UUID]:
    """A user with a trade, a position, a portfolio, a holding and a broker connection."""
    with db.begin() as conn:
        security = insert(conn, "securities", ticker="AAPL", name="Apple", security_type="equity")
        user = insert(conn, "users", phone_number="+14155550100")
        trade = insert(conn, "trades", user_id=user, trade_name="t", trade_description="d")
        insert(
            conn,
            "positions",
            trade_id=trade,
            security_id=security,
            position_type="long",
            security_type="equity",
            allocation_percent=50,
        )
        portfolio = insert(conn, "portfolios", user_id=user, name="main")
        insert(
            conn,
            "portfolio_holdings",
            portfolio_id=portfolio,
            security_id=security,
            quantity=10,
            average_entry_price=100,
            side="long",
        )
        connection = insert(
            conn, "broker_connections", user_id=user, portfolio_id=portfolio, broker="alpaca"
        )
    return {"user": user, "portfolio": portfolio, "connection": connection, "trade": trade}


def test_deleting_a_user_cascades_to_everything_it_owns(
    db: Engine, owned_rows: dict[str, uuid.UUID]
) -> None:
    owned = ("trades", "positions", "portfolios", "portfolio_holdings", "broker_connections")
    with db.begin() as conn:
        assert all(count(conn, table) == 1 for table in owned)
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": owned_rows["user"]})
        assert {table: count(conn, table) for table in owned} == dict.fromkeys(owned, 0)
        assert count(conn, "securities") == 1


def test_deleting_a_portfolio_detaches_its_broker_connection(
    db: Engine, owned_rows: dict[str, uuid.UUID]
) -> None:
    with db.begin() as conn:
        conn.execute(text("DELETE FROM portfolios WHERE id = :id"), {"id": owned_rows["portfolio"]})
        portfolio_id = conn.execute(
            text("SELECT portfolio_id FROM broker_connections WHERE id = :id"),
            {"id": owned_rows["connection"]},
        ).scalar_one()
    assert portfolio_id is None


@pytest.mark.parametrize("allocation", [0, 101, -5])
def test_allocation_check_rejects_out_of_range(
    db: Engine, owned_rows: dict[str, uuid.UUID], allocation: int
) -> None:
    with pytest.raises(IntegrityError, match="valid_allocation"), db.begin() as conn:
        conn.execute(
            text("UPDATE positions SET allocation_percent = :a WHERE trade_id = :t"),
            {"a": allocation, "t": owned_rows["trade"]},
        )


@pytest.mark.parametrize("allocation", [0.01, 100])
def test_allocation_check_accepts_its_bounds(
    db: Engine, owned_rows: dict[str, uuid.UUID], allocation: float
) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE positions SET allocation_percent = :a WHERE trade_id = :t"),
            {"a": allocation, "t": owned_rows["trade"]},
        )


@pytest.mark.parametrize(
    ("table", "values", "constraint"),
    [
        ("users", {"phone_number": "+14155550100"}, "users_phone_number_key"),
        (
            "securities",
            {"ticker": "AAPL", "name": "Apple again", "security_type": "equity", "exchange": "X"},
            "securities_ticker_exchange_key",
        ),
    ],
)
def test_unique_violations_name_the_constraint(
    db: Engine, table: str, values: dict[str, object], constraint: str
) -> None:
    with db.begin() as conn:
        insert(conn, table, **values)
    with pytest.raises(IntegrityError, match=constraint), db.begin() as conn:
        insert(conn, table, **values)


def test_updated_at_moves_on_raw_sql_updates_only_when_the_row_changes(db: Engine) -> None:
    with db.begin() as conn:
        user = insert(conn, "users", phone_number="+14155550199")
        conn.execute(
            text("UPDATE users SET updated_at = '2000-01-01' WHERE id = :id"), {"id": user}
        )
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET full_name = full_name WHERE id = :id"), {"id": user})
        unchanged = conn.execute(
            text("SELECT updated_at FROM users WHERE id = :id"), {"id": user}
        ).scalar_one()
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET full_name = 'Ada' WHERE id = :id"), {"id": user})
        changed = conn.execute(
            text("SELECT updated_at > now() - interval '1 minute' FROM users WHERE id = :id"),
            {"id": user},
        ).scalar_one()
    assert unchanged.year == 2000
    assert changed is True
