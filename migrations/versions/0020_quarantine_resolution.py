"""How a quarantined row was resolved, by whom, and why.

Until now a row of `quarantine` was only open or resolved (`resolved_at`), and an operator
resolved it by hand in SQL, saying nothing of what was decided. `quarantine` gains three nullable
columns:

- `resolution`: how it was resolved, one of
  - 'accepted': an operator let it in (an accepted jump is a real move; an accepted restatement
    lets the next load replace the stored history);
  - 'rejected': an operator confirmed the source is wrong; the row stays out and a later load
    refusing it again does not reopen it;
  - 'settled': a later load settled it (the history was re-fetched at one scale);
  - 'repaired': the values the source sent for a bar the loader repaired, kept as a record.
  NULL while the row is open (CHECK `valid_quarantine_resolution`);
- `resolved_by`: who resolved it (the operator's user name); NULL for a load or unknown;
- `resolution_note`: the operator's note; NULL without one.

Rows resolved before this revision are backfilled from what is known of them: a reason starting
with 'repaired:' is 'repaired'; a row resolved at the moment it was last seen was settled by a
load's re-fetch (`RESOLVE_SCALE_HOLDS` sets both at once) and is 'settled'; any other resolved row
was resolved by an operator's hand and is 'accepted'. Who resolved them is not known: NULL.

rm_analyst reads the new columns through its grant on the table (0007): nothing to grant.

The downgrade drops the three columns; `resolved_at` keeps saying which rows were resolved.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOLUTION_RULE = "resolution IN ('accepted', 'rejected', 'settled', 'repaired')"

BACKFILL = """
UPDATE quarantine SET resolution = CASE
    WHEN reason LIKE 'repaired:%' THEN 'repaired'
    WHEN resolved_at = last_seen_at THEN 'settled'
    ELSE 'accepted'
END
WHERE resolved_at IS NOT NULL
"""
"""The resolution of each row resolved before this revision, from its reason and timestamps."""


def upgrade() -> None:
    op.add_column("quarantine", sa.Column("resolution", sa.String(length=20), nullable=True))
    op.add_column("quarantine", sa.Column("resolved_by", sa.Text(), nullable=True))
    op.add_column("quarantine", sa.Column("resolution_note", sa.Text(), nullable=True))
    op.create_check_constraint("valid_quarantine_resolution", "quarantine", RESOLUTION_RULE)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_constraint("valid_quarantine_resolution", "quarantine", type_="check")
    op.drop_column("quarantine", "resolution_note")
    op.drop_column("quarantine", "resolved_by")
    op.drop_column("quarantine", "resolution")
