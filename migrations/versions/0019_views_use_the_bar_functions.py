"""The views find bars through the functions of 0018, and two more bar functions join them.

- `bar_span(security_id uuid)` returns one row `(first, last)`: the dates of the security's first
  and last bar (both NULL without one). Two steps of the (security_id, date) index.
- `next_bar(security_id uuid, after date)` returns the security's first row of `price_history`
  dated after `after`: one row, or none. The mirror of `latest_bar`.

Both are `LANGUAGE sql STABLE` and return sets, so the planner inlines them in a FROM clause like
`latest_bar` (see 0018). `rm_analyst` may call them.

The views that wrote "the latest bar" or "the valuation date" out by hand now call `latest_bar()`
and `valuation_date()`, with the same columns and rows:

- `v_latest_prices`: a security's latest bar and the bar before it;
- `v_holding_valuations`: the valuation date;
- `v_trade_returns`: a position's latest bar and the bar a span before it;
- `trade_input_fingerprints`: a position's latest date and close (the fingerprints are unchanged,
  so no trade is analysed again for the upgrade).

The downgrade restores the views as they were and drops the two functions.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = {"bar_span": "bar_span(uuid)", "next_bar": "next_bar(uuid, date)"}
"""Each new function's name and signature, in the order they are created."""
ANALYST_VIEWS = ("v_latest_prices", "v_holding_valuations", "v_trade_returns")
"""The views rm_analyst reads that are recreated here."""
VIEWS = (*ANALYST_VIEWS, "trade_input_fingerprints")


def grant_analyst() -> None:
    """rm_analyst may call the functions and read the recreated views, once the role exists (see
    0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT EXECUTE ON FUNCTION {', '.join(FUNCTIONS.values())} TO rm_analyst; "
        f"GRANT SELECT ON {', '.join(ANALYST_VIEWS)} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    migration_sql.create(list(FUNCTIONS), revision)
    migration_sql.replace_views(VIEWS, revision)
    grant_analyst()


def downgrade() -> None:
    migration_sql.replace_views(VIEWS, "0018")
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(ANALYST_VIEWS)} TO rm_analyst; END IF; END $$"
    )
    for signature in reversed(FUNCTIONS.values()):
        op.execute(f"DROP FUNCTION {signature}")
