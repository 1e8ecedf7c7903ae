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

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = """
CREATE VIEW v_trade_returns WITH (security_invoker = true) AS
SELECT
    t.id AS trade_id, t.trade_name, t.status AS trade_status, t.user_id, t.analyzed_at,
    t.return_1m, t.return_3m, t.return_6m, t.return_1y,
    realized.realized_1m, realized.realized_3m, realized.realized_6m, realized.realized_1y,
    realized.prices_through
FROM trades AS t
LEFT JOIN LATERAL (
    SELECT
        max(per_span.value) FILTER (WHERE per_span.months = 1) AS realized_1m,
        max(per_span.value) FILTER (WHERE per_span.months = 3) AS realized_3m,
        max(per_span.value) FILTER (WHERE per_span.months = 6) AS realized_6m,
        max(per_span.value) FILTER (WHERE per_span.months = 12) AS realized_1y,
        min(per_span.prices_through) AS prices_through
    FROM (
        SELECT
            span.months,
            CASE WHEN count(*) = count(leg.value) THEN round(sum(leg.value), 4) END AS value,
            min(latest.date) AS prices_through
        FROM positions AS pos
        LEFT JOIN LATERAL (
            SELECT h.date, h.close FROM price_history AS h
            WHERE h.security_id = pos.security_id
            ORDER BY h.date DESC
            LIMIT 1
        ) AS latest ON true
        CROSS JOIN (VALUES (1), (3), (6), (12)) AS span (months)
        LEFT JOIN LATERAL (
            SELECT h.close FROM price_history AS h
            WHERE h.security_id = pos.security_id
              AND h.date <= (latest.date - make_interval(months => span.months))::date
            ORDER BY h.date DESC
            LIMIT 1
        ) AS base ON true
        CROSS JOIN LATERAL (
            SELECT
                CASE pos.position_type WHEN 'long' THEN 1 WHEN 'short' THEN -1 END
                * pos.allocation_percent / 100 * (latest.close / base.close - 1) AS value
        ) AS leg
        WHERE pos.trade_id = t.id
        GROUP BY span.months
    ) AS per_span
) AS realized ON true
"""


def upgrade() -> None:
    op.execute(VIEW)
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst reads the view, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT SELECT ON v_trade_returns TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP VIEW v_trade_returns")
