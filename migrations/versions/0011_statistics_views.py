"""One definition of the day return in the analyst views: the SQL function `day_return()`.

`day_return(close_price, previous_close)` is `close_price / previous_close - 1` (NULL when the
previous close is NULL or 0): a security's return on a date, given its close on or before that date
and its close before it. The definition, and how the other market statistics are defined, is the
module docstring of `rm_pipeline.core.market_statistics`. The function is plain SQL and immutable,
so the planner inlines it: a view using it costs what the bare expression did.

`v_latest_prices.day_return` and `v_daily_returns.daily_return` are recomputed through it, with the
same columns, rows and `security_invoker` as in 0005. `rm_analyst` may execute it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("v_latest_prices", "v_daily_returns")
"""The two views of 0005 that compute a day return, now through `day_return()`."""


def upgrade() -> None:
    migration_sql.create(["day_return"], revision)
    migration_sql.replace_views(VIEWS, revision)
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst may call day_return() and read the recreated views, once the role exists (see
    0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT EXECUTE ON FUNCTION day_return(numeric, numeric) TO rm_analyst; "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    migration_sql.replace_views(VIEWS, "0010")
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )
    op.execute("DROP FUNCTION day_return(numeric, numeric)")
