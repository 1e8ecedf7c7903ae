"""Missing sessions in the price history are kept as facts, and no return spans them unnoticed.

`price_gaps`: one row per run of consecutive sessions of a security's trading calendar
(`market_sessions`, 0014) that lack a bar between its first and last stored bar: `first_missing`
and `last_missing` (both sessions), `sessions` (how many), `found_at` (when it was found with this
extent) and `run_id` (the load that found it). A holiday is no session, so it is never a gap;
sessions after the last bar are staleness, not a gap.

`price_gap_coverage`: for each security, the span of its stored history (`first_date` to
`last_date`, its first and last bar when it was refreshed) over which `price_gaps` is complete. A
security with bars but no coverage, or whose bars reach beyond it, has gaps unknown there (its
calendar is NULL or its sessions are not stored), never none.

`rm_pipeline.warehouse.gaps.refresh_gaps` keeps both, after every price load, in the load's
transaction: it recomputes only the span from each loaded security's last bar before the load to
its first bar after it (a load creates or fills gaps there and nowhere else; a history a re-fetch
replaced is scanned whole), and scans the whole history of a security not covered yet. So the
first load after this upgrade scans every existing history once, and each later one only what it
touched.

`v_daily_returns` gains `sessions`: how many sessions of the security's calendar lie after the
previous bar up to this one (1 for consecutive sessions; NULL on the first bar and when either date
is not a stored session of its calendar, so unknown). `daily_return` is NULL when `sessions` is
more than 1: a return across missing sessions is not one day's. `v_latest_prices` does the same
for its `day_change` and `day_return`, with the same `sessions`. Both are recreated (dropped, then
created with `security_invoker` and granted again); the downgrade restores 0011's, read from that
revision's file. `rm_analyst` reads the two tables.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rm_pipeline.db import migration_sql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")
TABLES = ("price_gaps", "price_gap_coverage")

VIEWS = ("v_latest_prices", "v_daily_returns")
"""The views as of this revision. `v_daily_returns` numbers each calendar's sessions once and
joins both dates of a return to their numbers (reading all 1.9 million returns of 500 securities
over 15 years takes about a fifth longer than 0011's view); its window stays inside the subquery,
partitioned as in 0005, so a filter on the security still applies before the window runs. `v_latest_prices` counts the sessions of each
security's one latest return through the (calendar, date) key."""


def grant_analyst() -> None:
    """rm_analyst reads the gaps, their coverage and the recreated views, once the role exists
    (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join((*TABLES, *VIEWS))} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    op.create_table(
        "price_gaps",
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("first_missing", sa.Date(), nullable=False),
        sa.Column("last_missing", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("found_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "sessions > 0 AND last_missing >= first_missing", name="valid_price_gap"
        ),
        sa.ForeignKeyConstraint(
            ["security_id"],
            ["securities.id"],
            name="price_gaps_security_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("security_id", "first_missing", name="price_gaps_pkey"),
    )
    op.create_table(
        "price_gap_coverage",
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("checked_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("last_date >= first_date", name="valid_price_gap_coverage"),
        sa.ForeignKeyConstraint(
            ["security_id"],
            ["securities.id"],
            name="price_gap_coverage_security_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("security_id", name="price_gap_coverage_pkey"),
    )
    migration_sql.replace_views(VIEWS, revision)
    grant_analyst()


def downgrade() -> None:
    migration_sql.replace_views(VIEWS, "0014")
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )
    for table in reversed(TABLES):
        op.drop_table(table)
