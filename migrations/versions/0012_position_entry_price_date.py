"""The date of a position's entry price, so splits after it are applied.

A position opens at its security's latest close, which may be older than the opening itself (a
trade activated on a holiday, or on a history that stopped). A split dated between that close and
the opening would have been missed had splits been counted from the opening date, leaving the
quantity and entry price of before the split against restated prices. `positions.entry_price_date`
keeps the close's date; a position's `split_factor` is the product of the ratios of the splits
dated after it. Positions opened before this revision have none, and their splits count from their
opening date, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("positions", sa.Column("entry_price_date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("positions", "entry_price_date")
