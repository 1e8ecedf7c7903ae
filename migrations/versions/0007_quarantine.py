"""The quarantine: every row a load set aside, with why, what the source sent, and which run.

A provider row that fails validation (a cell that cannot be parsed, a date that is not a session
of its exchange, a value the columns cannot hold, a high below its low), and a bar that moves by a
split-like ratio with no split reported, is not written to `price_history`; it is kept here
instead, so nothing a source sent is lost silently and analysts can see what was refused. One row
per (table, ticker, date, reason, source): a row refused again on a later run refreshes
`last_seen_at` and `run_id`. `resolved_at` is set when a later load settled it (the split was
reported and the history re-fetched).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("table_name", sa.String(length=50), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_values", postgresql.JSONB(), nullable=True),
        sa.Column("data_source", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=False),
        sa.Column("last_seen_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=False),
        sa.Column("resolved_at", postgresql.TIMESTAMP(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="quarantine_pkey"),
        sa.UniqueConstraint(
            "table_name",
            "ticker",
            "date",
            "reason",
            "data_source",
            name="quarantine_table_name_ticker_date_reason_data_source_key",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("idx_quarantine_ticker_date", "quarantine", ["ticker", "date"])
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst reads the quarantine, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT SELECT ON quarantine TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    op.drop_table("quarantine")
