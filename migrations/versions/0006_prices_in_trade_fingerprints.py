"""The latest bar of each position's security joins a trade's analysis inputs.

A trade's analysis is computed from its securities' price history, so new prices are new inputs:
`trade_input_fingerprints` now also covers, per position, the date and close of its security's
latest bar (one backwards step of the `(security_id, date)` index each). After a price load, every
draft or active trade holding a security that got a new bar, or whose history was re-fetched after
a split, needs analysis again; a trade analysed before its securities had any price is analysed
again once they do. The view is recreated (its owner is its only user, so no grant is lost).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from rm_pipeline.db import migration_sql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migration_sql.replace_views(["trade_input_fingerprints"], revision)


def downgrade() -> None:
    migration_sql.replace_views(["trade_input_fingerprints"], "0005")
