"""Phone verification that survives guessing, and change detection for trade analysis.

`users.verification_code` widens from VARCHAR(10) to VARCHAR(64): the code is never stored in
plaintext but as its HMAC-SHA256 (keyed with a server-side pepper), whose hex digest is 64
characters. Downgrading shrinks the column back, so it first clears every pending code (users then
ask for a new one).

`users.verification_attempts` counts wrong guesses against the current code; the application burns
the code after a bounded number of them. It is a column rather than a key in `preferences` because
it is security state the application updates under a row lock, not a user preference.

`trades.analysis_fingerprint` records which inputs the stored analysis was computed from, and the
view `trade_input_fingerprints` computes the same fingerprint from the live rows: the trade's name
and description and, per position (ordered by id), its id, security, side, security type and
allocation. A trade needs analysis when the two differ. Comparing content rather than `updated_at`
also catches deleted positions, ignores writes that do not change the inputs (valuations updating a
position's prices, the analysis writing its own rationale), and does not depend on when concurrent
transactions started. The view lives in the database so that every writer and reader, raw SQL
included, shares the one rule; its per-trade subquery lets filters on the trade (id, status) apply
before any fingerprint is computed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "users",
        "verification_code",
        existing_type=sa.String(length=10),
        type_=sa.String(length=64),
        existing_nullable=True,
    )
    op.add_column(
        "users",
        sa.Column(
            "verification_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.add_column("trades", sa.Column("analysis_fingerprint", sa.String(length=64), nullable=True))
    migration_sql.create(["trade_input_fingerprints"], revision)


def downgrade() -> None:
    op.execute("DROP VIEW trade_input_fingerprints")
    op.drop_column("trades", "analysis_fingerprint")
    op.drop_column("users", "verification_attempts")
    op.execute(
        "UPDATE users SET verification_code = NULL, verification_expires_at = NULL "
        "WHERE verification_code IS NOT NULL"
    )
    op.alter_column(
        "users",
        "verification_code",
        existing_type=sa.String(length=64),
        type_=sa.String(length=10),
        existing_nullable=True,
    )
