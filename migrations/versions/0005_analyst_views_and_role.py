"""Views for analysts, and the read-only `rm_analyst` role.

Views (all `security_invoker`, so a view never shows a reader more than the tables would):

- `v_latest_prices`: each security's latest bar, previous close and day's change.
- `v_daily_returns`: every bar with its close-to-close return. Its window is partitioned by
  security_id, ticker and exchange (one partition per security either way), so a filter on any of
  them is applied before the window runs rather than after it has read the whole history.
- `v_holding_valuations`: each portfolio holding with its security and its weight in the portfolio.
- `v_portfolio_summary`: each portfolio's values, returns and long / short exposure.
- `v_trade_positions`: the positions of every trade with their valuation.

`rm_analyst` may log in and read market data (securities, price_history, corporate_actions), the
valuations (portfolios without broker_account_id, portfolio_holdings, trades, positions) and the
views. Of `users` it reads only id, created_at, updated_at, last_login and is_active: never the phone
number, email, name, verification data or preferences. Nothing of `broker_connections`. It is
created without a password: the embedded server gives it one; on another server a DBA sets one.

Creating a role takes a superuser or CREATEROLE. A migrating role with neither, on a server without
`rm_analyst`, still gets the views; the role and its grants are skipped with a warning saying what
to run later: a superuser's `CREATE ROLE rm_analyst LOGIN;`, then `rm-pipeline db grant-analyst`,
which runs `grant_analyst()` of every applied revision again. Offline (`--sql`), the script creates
the role unconditionally, for whoever runs it.

Roles belong to the whole server while grants belong to one database, and several databases (the
test suite's, for one) share a server: the role is created only if missing, and the downgrade
revokes this database's grants and drops the role only when no other database still grants it
anything.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rm_pipeline.db import migration_sql

log = logging.getLogger("rm_pipeline.migrations")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = (
    "v_latest_prices",
    "v_daily_returns",
    "v_holding_valuations",
    "v_portfolio_summary",
    "v_trade_positions",
)
"""The analyst views, in `migrations/sql/<name>/0005.sql`."""

READABLE_TABLES = (
    "securities",
    "price_history",
    "corporate_actions",
    "portfolio_holdings",
    "trades",
    "positions",
)
READABLE_COLUMNS = {
    "users": ("id", "created_at", "updated_at", "last_login", "is_active"),
    "portfolios": (
        "id",
        "user_id",
        "name",
        "broker",
        "currency",
        "total_value",
        "cash_balance",
        "equity_value",
        "total_return",
        "day_return",
        "is_active",
        "is_connected",
        "last_synced_at",
        "created_at",
        "updated_at",
    ),
}

CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN
        CREATE ROLE rm_analyst LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created meanwhile by the migration of another database on this server
END
$$
"""

REVOKE_AND_DROP_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN
        RETURN;
    END IF;
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM rm_analyst;
    REVOKE USAGE ON SCHEMA public FROM rm_analyst;
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM rm_analyst', current_database());
    BEGIN
        DROP ROLE rm_analyst;
    EXCEPTION
        WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'role rm_analyst kept: other databases still grant it privileges';
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'role rm_analyst kept: only a superuser or CREATEROLE may drop it';
    END;
END
$$
"""


ROLE_STATE = """
SELECT current_user,
       EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst'),
       rolsuper OR rolcreaterole
FROM pg_roles WHERE rolname = current_user
"""

ROLE_SKIPPED = (
    "role rm_analyst not created: %s may not create roles (needs CREATEROLE), so the analyst "
    "views have no reader yet; later a superuser runs `CREATE ROLE rm_analyst LOGIN;` and "
    "`\\password rm_analyst` in psql, then `rm-pipeline db grant-analyst` grants it read access"
)


def analyst_role_ready() -> bool:
    """Whether rm_analyst exists, creating it when missing and the migrating role may."""
    if op.get_context().as_sql:
        op.execute(CREATE_ROLE)
        return True
    user, exists, may_create = op.get_bind().execute(sa.text(ROLE_STATE)).one()
    if not exists and not may_create:
        log.warning(ROLE_SKIPPED, user)
        return False
    op.execute(CREATE_ROLE)
    return True


def grant_analyst() -> None:
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO rm_analyst', "
        "current_database()); END $$"
    )
    op.execute("GRANT USAGE ON SCHEMA public TO rm_analyst")
    op.execute(f"GRANT SELECT ON {', '.join((*READABLE_TABLES, *VIEWS))} TO rm_analyst")
    for table, columns in READABLE_COLUMNS.items():
        op.execute(f"GRANT SELECT ({', '.join(columns)}) ON {table} TO rm_analyst")


def upgrade() -> None:
    migration_sql.create(VIEWS, revision)
    if analyst_role_ready():
        grant_analyst()


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    op.execute(REVOKE_AND_DROP_ROLE)
