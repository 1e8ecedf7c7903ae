"""Keep `updated_at` true for every writer.

The seed gives `updated_at` a default but nothing moves it on UPDATE, so raw SQL, bulk loads and other
applications would leave it stale. A BEFORE UPDATE trigger on every table that has the column sets it
to the transaction's timestamp whenever the row really changed (an UPDATE that rewrites identical
values leaves it alone, so idempotent re-runs do not look like changes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES_WITH_UPDATED_AT = (
    "users",
    "securities",
    "trades",
    "positions",
    "portfolios",
    "portfolio_holdings",
    "broker_connections",
)


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                NEW.updated_at := CURRENT_TIMESTAMP;
            END IF;
            RETURN NEW;
        END;
        $$
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def downgrade() -> None:
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(f"DROP TRIGGER {table}_set_updated_at ON {table}")
    op.execute("DROP FUNCTION set_updated_at()")
