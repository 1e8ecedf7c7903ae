"""Every valuation says how old its price is; unvalued exposure is NULL, not 0.

`portfolio_holdings` and `positions` gain, written by the valuations
(`rm_pipeline.warehouse.valuations`) with the price they value:

- `price_date`: the date of the close `current_price` is (NULL for a security's cached price
  without history, and until the next valuation);
- `is_stale`: whether the security's exchange held a session (`market_sessions`, by
  `securities.trading_calendar`, 0014) after that date and on or before the valuation date, the
  latest date in `price_history`; a holiday or a weekend is no session. NULL when that is unknown
  (no calendar, no price date, sessions not stored that far), never false;
- `sessions_behind`: how many such sessions, NULL when unknown.

They are columns rather than view expressions because the valuation decides with them (a day
return across missed sessions is NULL) and counts them in its run's metadata, and because they
describe the price the stored values were computed from, which a view reading today's
`price_history` could contradict.

One FX convention for holdings and positions: every value converts at the rate of its price's
date, `fx_rate(security currency, portfolio or trade currency, price_date)` (today's for a price
without a date); a holding's cost basis at the same rate as its market value, a position's cost
at its entry rate. Until now holdings converted at the valuation date's rate, however old their
close.

The views recreated here (dropped, then created with `security_invoker` and granted again):

- `v_holding_valuations` adds `price_date`, `is_stale` and `sessions_behind` after
  `valuation_date`; its `fx_rate` is now the rate of the price's date, the one the valuation used
  (NULL for a holding without a price).
- `v_portfolio_summary` adds `stale_holdings`: how many holdings are stale, NULL when the staleness
  of any is unknown (a count that might be short is not shown as one). `long_value` and
  `short_value` are NULL when a holding of that side is unvalued (no price or no rate), 0 only
  when the portfolio holds none of that side; `cost_basis` and `unrealized_pnl` are NULL when any
  holding is unvalued, rather than partial sums.
- `v_trade_positions` adds `entry_price_date`, `price_date`, `is_stale`, `sessions_behind` and
  `fx_rate`, the rate of the price's date that converts `current_price` (the exit price once
  closed).

The downgrade restores 0009's views (`migrations/sql/<view>/0009.sql`), then drops the columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("portfolio_holdings", "positions")

VIEWS = ("v_holding_valuations", "v_portfolio_summary", "v_trade_positions")


def grant_analyst() -> None:
    """rm_analyst reads the recreated views, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("price_date", sa.Date(), nullable=True))
        op.add_column(table, sa.Column("is_stale", sa.Boolean(), nullable=True))
        op.add_column(table, sa.Column("sessions_behind", sa.Integer(), nullable=True))
    migration_sql.replace_views(VIEWS, revision)
    grant_analyst()


def downgrade() -> None:
    migration_sql.replace_views(VIEWS, "0015")
    grant_analyst()
    for table in TABLES:
        for column in ("sessions_behind", "is_stale", "price_date"):
            op.drop_column(table, column)
