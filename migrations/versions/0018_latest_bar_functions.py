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

The views of 0009 to 0016 keep their own copies of the same SQL; they return what the functions
return. `rm_analyst` may call both. The downgrade drops them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = {
    "latest_bar(uuid, date)": """
        CREATE FUNCTION latest_bar(security_id uuid, on_or_before date DEFAULT NULL)
        RETURNS SETOF price_history
        LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
        AS $$
            SELECT * FROM price_history AS p
            WHERE p.security_id = latest_bar.security_id
              AND p.date <= coalesce(latest_bar.on_or_before, 'infinity')
            ORDER BY p.date DESC
            LIMIT 1
        $$
    """,
    "valuation_date(date)": """
        CREATE FUNCTION valuation_date(on_or_before date DEFAULT NULL)
        RETURNS date
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$
            SELECT max(bar.date)
            FROM securities AS s
            CROSS JOIN LATERAL latest_bar(s.id, valuation_date.on_or_before) AS bar
        $$
    """,
}
"""Each function's signature and definition, in the order they are created."""


def grant_analyst() -> None:
    """rm_analyst may call the functions, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT EXECUTE ON FUNCTION {', '.join(FUNCTIONS)} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    for definition in FUNCTIONS.values():
        op.execute(definition)
    grant_analyst()


def downgrade() -> None:
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
