"""Realized trailing returns of trades beside the projected ones: the view `v_trade_returns`.

One row per trade: the analyzer's projected `return_1m`, `return_3m`, `return_6m` and `return_1y`
(its drift extrapolated forward, as stored on `trades`), and beside each the realized trailing
return over the same span backwards: what the trade's allocation would actually have returned
over the last 1, 3, 6 and 12 calendar months.

Per position, the realized return over `k` months is its security's latest close divided by the
latest close dated on or before (that latest date - `k` months), minus 1, negated for a short.
The trade's is the allocation-weighted sum (`allocation_percent / 100`) of its positions': the
allocation put on at the start of the span and held, the unallocated rest in cash earning 0. Each
position looks back from its own latest close, so a leg whose prices stopped is measured up to
where they stop; `prices_through` is the oldest of those latest closes (the date up to which every
leg is priced). A trade's realized return is NULL when any position lacks the history (no close
that old, or no close at all, or a side that is neither long nor short) and when it has no
positions. Values are fractions rounded to 4 decimals, like the projected ones.

Each position costs five backwards steps of the `(security_id, date)` index, and a filter on
the trade (id, user, status) applies before any of them. The view is
`security_invoker` (it never shows a reader more than the tables would), and `rm_analyst` may read
it once the role exists (see 0005).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migration_sql.create(["v_trade_returns"], revision)
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst reads the view, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT SELECT ON v_trade_returns TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP VIEW v_trade_returns")
