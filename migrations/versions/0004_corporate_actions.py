"""Corporate actions table, and one key per security even without an exchange.

Corporate actions: the splits and dividends the providers report.

The seed has nowhere to keep them. The ingestion needs them to notice a new split (the stored history
of that security is then re-fetched and replaced in one transaction, so stored prices never mix pre-
and post-split scales), and analysts need dividends for total returns. `value` is the split ratio
(new shares per old share: 4 for a 4-for-1 split, 0.1 for a 1-for-10 reverse split) or the cash
dividend per share, in the security's currency.

Securities key: the seed's UNIQUE (ticker, exchange) treats NULL exchanges as distinct, so a security
with no known exchange could be inserted twice and an upsert on (ticker, exchange) would never match
it. The constraint is recreated with NULLS NOT DISTINCT (PostgreSQL 15 and later), same name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SECURITIES_KEY = "securities_ticker_exchange_key"


def upgrade() -> None:
    op.drop_constraint(SECURITIES_KEY, "securities", type_="unique")
    op.execute(
        f"ALTER TABLE securities ADD CONSTRAINT {SECURITIES_KEY} "
        "UNIQUE NULLS NOT DISTINCT (ticker, exchange)"
    )
    op.create_table(
        "corporate_actions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("security_id", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("data_source", sa.String(length=50), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=True,
        ),
        sa.CheckConstraint("action IN ('split', 'dividend')", name="valid_corporate_action"),
        sa.CheckConstraint("value > 0", name="positive_corporate_action_value"),
        sa.ForeignKeyConstraint(
            ["security_id"],
            ["securities.id"],
            name="corporate_actions_security_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="corporate_actions_pkey"),
        sa.UniqueConstraint(
            "security_id", "date", "action", name="corporate_actions_security_id_date_action_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("corporate_actions")
    op.drop_constraint(SECURITIES_KEY, "securities", type_="unique")
    op.create_unique_constraint(SECURITIES_KEY, "securities", ["ticker", "exchange"])
