"""Revisions 0005, 0009, 0013 and 0016: the analyst views and the read-only `rm_analyst` role,
checked as that role; on the embedded server also the role's own sessions and the databases it
reaches."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from rm_pipeline.db import embedded, migrate
from rm_pipeline.warehouse.valuations import value_portfolios, value_trade_positions
from rm_pipeline_tests.conftest import TEST_PGDATA
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_fx_rate,
    add_holding,
    add_portfolio,
    add_security,
    add_user,
)

VIEWS = (
    "v_latest_prices",
    "v_daily_returns",
    "v_holding_valuations",
    "v_portfolio_summary",
    "v_trade_positions",
    "v_trade_returns",
)
READABLE = (
    "SELECT * FROM securities",
    "SELECT * FROM price_history",
    "SELECT * FROM corporate_actions",
    "SELECT * FROM price_history_superseded",
    "SELECT * FROM fx_rates_superseded",
    "SELECT * FROM corporate_actions_superseded",
    "SELECT * FROM market_sessions",
    "SELECT * FROM price_gaps",
    "SELECT * FROM price_gap_coverage",
    "SELECT * FROM prices_as_of(LOCALTIMESTAMP)",
    "SELECT * FROM fx_rates_as_of(LOCALTIMESTAMP)",
    "SELECT * FROM corporate_actions_as_of(LOCALTIMESTAMP)",
    "SELECT valuation_date(), valuation_date(CURRENT_DATE)",
    "SELECT b.* FROM securities AS s CROSS JOIN LATERAL latest_bar(s.id, CURRENT_DATE) AS b",
    "SELECT * FROM portfolio_holdings",
    "SELECT * FROM trades",
    "SELECT * FROM positions",
    "SELECT id, created_at, updated_at, last_login, is_active FROM users",
    "SELECT id, user_id, name, total_value, day_return, last_synced_at FROM portfolios",
    *(f"SELECT * FROM {view}" for view in VIEWS),
)
WRITES = (
    "UPDATE securities SET name = 'x'",
    "DELETE FROM price_history",
    "INSERT INTO corporate_actions (security_id, date, action, value) "
    "VALUES (gen_random_uuid(), current_date, 'split', 2)",
    "CREATE TABLE analyst_scratch (id int)",
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT lo_import('/etc/hostname')",
)
REFUSED = (
    "SELECT phone_number FROM users",
    "SELECT email FROM users",
    "SELECT full_name FROM users",
    "SELECT verification_code, verification_expires_at FROM users",
    "SELECT verification_attempts FROM users",
    "SELECT is_verified FROM users",
    "SELECT preferences FROM users",
    "SELECT * FROM users",
    "SELECT * FROM broker_connections",
    "SELECT count(*) FROM broker_connections",
    "SELECT broker_account_id FROM portfolios",
    *WRITES,
)
TEMPORARY_TABLE = "CREATE TEMP TABLE analyst_scratch (id int)"


ANALYSTS_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "ANALYSTS.md"


def documented_examples() -> list[str]:
    """Every statement of the guide's "Example queries" section."""
    section = ANALYSTS_GUIDE.read_text().split("## Example queries", 1)[1]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    return [
        statement.strip() for block in blocks for statement in block.split(";") if statement.strip()
    ]


@contextmanager
def as_analyst(db: Engine) -> Iterator[Connection]:
    """A connection acting as rm_analyst for one transaction, rolled back afterwards."""
    with db.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(text("SET LOCAL ROLE rm_analyst"))
            yield conn
        finally:
            transaction.rollback()


@pytest.mark.parametrize("query", READABLE)
def test_the_analyst_reads_market_data_valuations_and_views(db: Engine, query: str) -> None:
    with as_analyst(db) as conn:
        conn.execute(text(query)).all()
        assert conn.execute(text("SELECT current_user")).scalar_one() == "rm_analyst"


@pytest.mark.parametrize("query", REFUSED)
def test_the_analyst_is_refused_sensitive_data_and_writes(db: Engine, query: str) -> None:
    with as_analyst(db) as conn, pytest.raises(ProgrammingError) as refused:
        conn.execute(text(query))
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


def test_the_analyst_creates_no_temporary_tables(database_url: str) -> None:
    """In a new session: PostgreSQL checks TEMPORARY only when a session makes its temporary
    schema, so a pooled session that made one earlier as the owner would not ask again."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET ROLE rm_analyst")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
            conn.execute(TEMPORARY_TABLE)


def add_aapl_bars(db: Engine) -> None:
    """Two bars of AAPL, the security the documented examples name."""
    with db.begin() as conn:
        security = add_security(conn, "AAPL")
        add_bar(conn, security, date(2025, 1, 2), 100)
        add_bar(conn, security, date(2025, 1, 3), 101)


@pytest.mark.parametrize("query", documented_examples())
def test_the_documented_examples_run_as_the_analyst(db: Engine, query: str) -> None:
    add_aapl_bars(db)
    with as_analyst(db) as conn:
        conn.execute(text(query)).all()


def test_the_role_logs_in_and_holds_no_power(db: Engine) -> None:
    with db.connect() as conn:
        assert conn.execute(
            text(
                "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls "
                "FROM pg_authid WHERE rolname = 'rm_analyst'"
            )
        ).one() == (True, False, False, False, False)


EMBEDDED_ONLY = pytest.mark.skipif(
    bool(os.environ.get("RM_TEST_SERVER_URL")),
    reason="the embedded server's passwords and password files; another server has its own",
)


def analyst_login(database_url: str, database: str | None = None) -> str:
    """The URL that logs in as rm_analyst with its password file, to the test warehouse or to
    another database of the embedded test server."""
    passfile = embedded.password_file(TEST_PGDATA, embedded.ANALYST)
    url = make_url(database_url).set(username="rm_analyst", password=None)
    if database is not None:
        url = url.set(database=database)
    url = url.update_query_dict({"passfile": str(passfile)})
    return url.render_as_string(hide_password=False)


@EMBEDDED_ONLY
def test_the_analyst_connects_over_the_socket_with_its_password_file(database_url: str) -> None:
    passfile = embedded.password_file(TEST_PGDATA, embedded.ANALYST)
    assert passfile.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(analyst_login(database_url)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("rm_analyst",)
        assert conn.execute("SELECT count(*) FROM v_portfolio_summary").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT phone_number FROM users")


@EMBEDDED_ONLY
def test_the_analysts_sessions_are_read_only_and_turning_that_off_writes_nothing(
    database_url: str,
) -> None:
    with psycopg.connect(analyst_login(database_url), autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(TEMPORARY_TABLE)
        conn.execute("SET default_transaction_read_only = off")
        for statement in (*WRITES, TEMPORARY_TABLE):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == (0,)


@EMBEDDED_ONLY
def test_the_documented_examples_run_in_the_analysts_own_session(
    db: Engine, database_url: str
) -> None:
    add_aapl_bars(db)
    with psycopg.connect(analyst_login(database_url)) as conn:
        for query in documented_examples():
            conn.execute(query).fetchall()


@EMBEDDED_ONLY
@pytest.mark.parametrize("database", ["postgres", "template1", embedded.DAGSTER_DATABASE])
def test_the_analyst_connects_to_no_other_database(database_url: str, database: str) -> None:
    """Refused by the server's pg_hba.conf before any password, whether the database exists or
    not (the test server has no Dagster database)."""
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects"):
        psycopg.connect(analyst_login(database_url, database), connect_timeout=5)


def test_views_run_with_the_reader_rights_and_hide_personal_columns(db: Engine) -> None:
    with db.connect() as conn:
        options = dict(
            conn.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:views)"),
                {"views": list(VIEWS)},
            ).all()
        )
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = ANY(:views)"
                ),
                {"views": list(VIEWS)},
            ).scalars()
        )
    assert options == {view: ["security_invoker=true"] for view in VIEWS}
    exposed = {"phone_number", "email", "full_name", "preferences", "broker_account_id"}
    assert not columns & exposed
    assert not {column for column in columns if column.startswith("verification")}


def test_the_views_show_prices_returns_and_valuations(db: Engine) -> None:
    with db.begin() as conn:
        security = add_security(conn, "AAA")
        add_bar(conn, security, date(2024, 1, 2), 100, volume=10)
        add_bar(conn, security, date(2024, 1, 3), 110, volume=20)
        user = add_user(conn)
        portfolio = add_portfolio(conn, user, cash_balance=1000)
        holding = add_holding(conn, portfolio, security, "long", 10, 100)
        trade = conn.execute(
            text(
                "INSERT INTO trades (user_id, trade_name, trade_description, status) "
                "VALUES (:user, 'idea', 'an idea', 'active') RETURNING id"
            ),
            {"user": user},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
                "allocation_percent, status, quantity, entry_price, entry_fx_rate) "
                "VALUES (:trade, :security, 'short', 'equity', 100, 'open', 2, 120, 1)"
            ),
            {"trade": trade, "security": security},
        )
        value_portfolios(conn)
        value_trade_positions(conn)

    with as_analyst(db) as conn:
        assert fetch(
            conn, "v_latest_prices", "date, close, previous_close, day_change, day_return"
        ) == [(date(2024, 1, 3), Decimal(110), Decimal(100), Decimal(10), Decimal("0.1"))]
        assert fetch(conn, "v_daily_returns", "date, previous_close, daily_return, volume") == [
            (date(2024, 1, 2), None, None, 10),
            (date(2024, 1, 3), Decimal(100), Decimal("0.1"), 20),
        ]
        assert fetch(
            conn,
            "v_holding_valuations",
            "holding_id, ticker, side, market_value, unrealized_pnl, round(weight, 4)",
        ) == [(holding, "AAA", "long", Decimal(1100), Decimal(100), Decimal("0.5238"))]
        assert fetch(
            conn,
            "v_portfolio_summary",
            "portfolio_id, total_value, holdings, long_value, short_value, cost_basis",
        ) == [(portfolio, Decimal(2100), 1, Decimal(1100), Decimal(0), Decimal(1000))]
        assert fetch(
            conn,
            "v_trade_positions",
            "trade_id, ticker, position_type, market_value, unrealized_pnl",
        ) == [(trade, "AAA", "short", Decimal(-220), Decimal(20))]


def test_the_views_show_both_currencies_and_the_rate(db: Engine) -> None:
    """20 shares of a pence-quoted security at 2600 in a dollar portfolio, the pound at $1.30."""
    with db.begin() as conn:
        security = add_security(conn, "SHEL.L", "LSE", currency="GBp")
        add_bar(conn, security, date(2024, 1, 3), 2600)
        add_fx_rate(conn, "GBP", date(2024, 1, 3), "1.30")
        user = add_user(conn)
        portfolio = add_portfolio(conn, user, cash_balance=0)
        add_holding(conn, portfolio, security, "short", 20, 2500)
        trade = conn.execute(
            text(
                "INSERT INTO trades (user_id, trade_name, trade_description, status, currency) "
                "VALUES (:user, 'idea', 'an idea', 'closed', 'GBP') RETURNING id"
            ),
            {"user": user},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
                "allocation_percent, status, quantity, entry_price, entry_fx_rate, exit_price, "
                "realized_pnl, split_factor) VALUES (:trade, :security, 'long', 'equity', 50, "
                "'closed', 20, 2500, 0.01, 2600, 20, 2)"
            ),
            {"trade": trade, "security": security},
        )
        value_portfolios(conn)

    with as_analyst(db) as conn:
        assert fetch(
            conn,
            "v_holding_valuations",
            "ticker, security_currency, current_price, local_market_value, valuation_date, "
            "fx_rate, portfolio_currency, market_value",
        ) == [
            ("SHEL.L", "GBp", Decimal(2600), Decimal(-52000), date(2024, 1, 3), Decimal("0.013"),
             "USD", Decimal(-676)),
        ]  # fmt: skip
        assert fetch(
            conn, "v_portfolio_summary", "currency, holdings, unvalued_holdings, total_value"
        ) == [("USD", 1, 0, Decimal(-676))]
        assert fetch(
            conn,
            "v_trade_positions",
            "trade_currency, security_currency, entry_fx_rate, exit_price, realized_pnl, "
            "split_factor",
        ) == [("GBP", "GBp", Decimal("0.01"), Decimal(2600), Decimal(20), Decimal(2))]


def fetch(conn: Connection, view: str, columns: str) -> list[tuple[object, ...]]:
    """`columns` of every row of `view` (both written by the test itself), in a stable order."""
    return [tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM {view} ORDER BY 1"))]


def test_a_ticker_filter_reaches_below_the_daily_returns_window(db: Engine) -> None:
    """The view's window partitions by ticker too, so the filter need not read every bar first."""
    with db.connect() as conn:

        def filtered_after_the_window(where: str) -> bool:
            """Whether the filter applies to what the window over the bars returns, rather than
            to the bars it reads."""
            plan = conn.execute(
                text(f"EXPLAIN (FORMAT JSON) SELECT * FROM v_daily_returns WHERE {where}")
            ).scalar_one()
            [above] = [
                node
                for node in plan_nodes(plan[0]["Plan"])
                for child in node.get("Plans", [])
                if child["Node Type"] == "WindowAgg" and "price_history" in json.dumps(child)
            ]
            return "Filter" in above

        assert not filtered_after_the_window("ticker = 'AAA'")
        assert filtered_after_the_window("date > '2024-01-01'")


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A node of an EXPLAIN (FORMAT JSON) plan and every node below it."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


GRANTS_IN_THIS_DATABASE = """
SELECT count(*)
FROM pg_shdepend AS d
JOIN pg_roles AS r ON r.oid = d.refobjid
JOIN pg_database AS here ON here.datname = current_database()
WHERE r.rolname = 'rm_analyst'
  AND (d.dbid = here.oid OR (d.classid = 'pg_database'::regclass AND d.objid = here.oid))
"""


def test_downgrade_keeps_the_role_other_databases_still_use(
    database_url: str, make_database: Callable[[], str]
) -> None:
    """This worker's own database grants rm_analyst too, so the role must survive."""
    scratch = make_database()
    migrate.upgrade(scratch)
    with psycopg.connect(scratch) as conn:
        granted = conn.execute(GRANTS_IN_THIS_DATABASE).fetchone()
        assert granted is not None and granted[0] > 0
    migrate.downgrade(scratch, "0004")
    with psycopg.connect(scratch) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'v\\_%'"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT has_table_privilege('rm_analyst', 'securities', 'SELECT'), "
            "has_database_privilege('rm_analyst', current_database(), 'CONNECT') "
        ).fetchone() == (False, True)  # CONNECT: PUBLIC's default, not a grant of 0005
        assert conn.execute(GRANTS_IN_THIS_DATABASE).fetchone() == (0,)
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            "SELECT has_table_privilege('rm_analyst', 'securities', 'SELECT')"
        ).fetchone() == (True,)
    migrate.upgrade(scratch)
    assert migrate.current_revision(scratch) == migrate.head_revision(scratch)


VIEW_COLUMNS = """
SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position)
FROM information_schema.columns
WHERE table_name IN ('v_holding_valuations', 'v_portfolio_summary', 'v_trade_positions')
GROUP BY table_name ORDER BY table_name
"""
READABLE_VIEWS = """
SELECT bool_and(has_table_privilege('rm_analyst', v, 'SELECT'))
FROM unnest(ARRAY['v_holding_valuations', 'v_portfolio_summary', 'v_trade_positions']) AS v
"""


def test_the_currency_views_downgrade_to_0005s_still_granted(
    make_database: Callable[[], str],
) -> None:
    scratch = make_database()
    migrate.upgrade(scratch, "0008")
    with psycopg.connect(scratch) as conn:
        before = conn.execute(VIEW_COLUMNS).fetchall()
    migrate.upgrade(scratch, "0009")
    with psycopg.connect(scratch) as conn:
        upgraded = dict(conn.execute(VIEW_COLUMNS).fetchall())
        assert conn.execute(READABLE_VIEWS).fetchone() == (True,)
    assert {"security_currency", "fx_rate", "portfolio_currency"} <= set(
        upgraded["v_holding_valuations"]
    )
    assert {"trade_currency", "realized_pnl", "split_factor"} <= set(upgraded["v_trade_positions"])
    migrate.downgrade(scratch, "0008")
    with psycopg.connect(scratch) as conn:
        assert conn.execute(VIEW_COLUMNS).fetchall() == before
        assert conn.execute(READABLE_VIEWS).fetchone() == (True,)


def test_the_staleness_views_downgrade_to_0009s_still_granted(
    make_database: Callable[[], str],
) -> None:
    scratch = make_database()
    migrate.upgrade(scratch, "0015")
    with psycopg.connect(scratch) as conn:
        before = conn.execute(VIEW_COLUMNS).fetchall()
    migrate.upgrade(scratch, "0016")
    with psycopg.connect(scratch) as conn:
        upgraded = dict(conn.execute(VIEW_COLUMNS).fetchall())
        assert conn.execute(READABLE_VIEWS).fetchone() == (True,)
    age = {"price_date", "is_stale", "sessions_behind", "fx_rate"}
    assert age <= set(upgraded["v_holding_valuations"]) & set(upgraded["v_trade_positions"])
    assert "stale_holdings" in upgraded["v_portfolio_summary"]
    migrate.downgrade(scratch, "0015")
    with psycopg.connect(scratch) as conn:
        assert conn.execute(VIEW_COLUMNS).fetchall() == before
        assert conn.execute(READABLE_VIEWS).fetchone() == (True,)


@EMBEDDED_ONLY
@pytest.mark.parametrize("role", ["postgres", "rm_analyst"])
def test_no_role_logs_in_without_its_password(database_url: str, role: str) -> None:
    url = make_url(database_url).set(username=role, password=None)
    without = url.set(query={"host": url.query["host"]}).render_as_string(hide_password=False)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without, connect_timeout=5)
    wrong = url.set(password="guess", query={"host": url.query["host"]})
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong.render_as_string(hide_password=False), connect_timeout=5)
