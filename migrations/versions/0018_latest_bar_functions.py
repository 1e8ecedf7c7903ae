"""The latest bar of a security and the valuation date are defined once, as SQL functions.

- `latest_bar(security_id uuid, on_or_before date DEFAULT NULL)` returns the security's latest
  row of `price_history` dated on or before `on_or_before` (its latest of all without one): one
  row, or none when it has no such bar. One step of the (security_id, date DESC) index.
- `valuation_date(on_or_before date DEFAULT NULL)` returns the latest bar's date over all
  securities (on or before `on_or_before` when given; NULL for an empty history): one index step
  per security, so its cost follows the number of securities, not the length of the history.

Both are `LANGUAGE sql STABLE`. `latest_bar` returns a set so that the planner inlines it where it
is called in a FROM clause (`CROSS JOIN LATERAL latest_bar(s.id) AS bar`), which makes it the very
index scan written out by hand; it is not STRICT, which would forbid that (a NULL security id
finds no bar anyway). `valuation_date` is a scalar: called once per statement where it stands in
a CTE or a scalar subquery (`(SELECT valuation_date())`), but once per row where it stands in a
WHERE clause as is, like any function that is not inlined.

The views of 0009 to 0016 keep their own copies of the same SQL (until 0019); they return what the functions
return. `rm_analyst` may call both. The downgrade drops them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = {"latest_bar": "latest_bar(uuid, date)", "valuation_date": "valuation_date(date)"}
"""Each function's name and signature, in the order they are created."""


def grant_analyst() -> None:
    """rm_analyst may call the functions, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT EXECUTE ON FUNCTION {', '.join(FUNCTIONS.values())} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    migration_sql.create(list(FUNCTIONS), revision)
    grant_analyst()


def downgrade() -> None:
    for signature in reversed(FUNCTIONS.values()):
        op.execute(f"DROP FUNCTION {signature}")
