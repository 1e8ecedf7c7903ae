"""Analyst views of valuations in both currencies.

Valuations are in the portfolio's or the trade's currency while prices stay in the security's
(see `rm_pipeline.warehouse.valuations`); the views recreated here show both, and the rate
between them:

- `v_holding_valuations` adds `security_currency`, `local_market_value` (direction x quantity x
  current_price, in the security's currency), `valuation_date` (the latest date in
  `price_history`), `fx_rate` (`fx_rate(security currency, portfolio currency, valuation_date)`,
  the rate the valuation converts at) and `portfolio_currency`: `market_value`, `cost_basis` and
  `unrealized_pnl` are in the latter.
- `v_portfolio_summary` shows the portfolio's `currency` (USD when the column is NULL, as the
  valuation takes it) and `unvalued_holdings`, the holdings without a price or a rate that leave
  the portfolio's totals NULL.
- `v_trade_positions` adds `trade_currency`, `notional`, `security_currency`, `entry_fx_rate`,
  `exit_price`, `realized_pnl` and `split_factor` of paper execution (migration 0008).

A NULL security currency counts as USD everywhere, as in the valuations. The views stay
`security_invoker`; recreating them drops their grants, so `grant_analyst()` grants them again
(and `rm-pipeline db grant-analyst` runs it like 0005's). The downgrade restores 0005's views
(`migrations/sql/<view>/0005.sql`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

from rm_pipeline.db import migration_sql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("v_holding_valuations", "v_portfolio_summary", "v_trade_positions")


def grant_analyst() -> None:
    """rm_analyst reads the recreated views, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )


def upgrade() -> None:
    migration_sql.replace_views(VIEWS, revision)
    grant_analyst()


def downgrade() -> None:
    migration_sql.replace_views(VIEWS, "0008")
    grant_analyst()
