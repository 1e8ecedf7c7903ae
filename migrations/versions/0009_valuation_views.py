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
exactly, read from that revision's own file.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = {
    "v_holding_valuations": """
        SELECT
            h.id AS holding_id, h.portfolio_id, p.name AS portfolio_name, p.user_id,
            h.security_id, s.ticker, s.exchange, s.name AS security_name, s.sector,
            h.side, h.quantity, h.average_entry_price,
            coalesce(s.currency, 'USD') AS security_currency,
            h.current_price,
            CASE h.side WHEN 'long' THEN 1 WHEN 'short' THEN -1 END * h.quantity * h.current_price
                AS local_market_value,
            valuation.day AS valuation_date,
            fx_rate(coalesce(s.currency, 'USD'), coalesce(p.currency, 'USD'), valuation.day)
                AS fx_rate,
            coalesce(p.currency, 'USD') AS portfolio_currency,
            h.market_value, h.cost_basis, h.unrealized_pnl, h.unrealized_pnl_percent,
            h.market_value / nullif(p.total_value, 0) AS weight,
            h.last_synced_at
        FROM portfolio_holdings AS h
        JOIN portfolios AS p ON p.id = h.portfolio_id
        JOIN securities AS s ON s.id = h.security_id
        CROSS JOIN (  -- the valuation date: the latest bar's, one index step per security
            SELECT max(bar.date) AS day
            FROM securities AS latest
            CROSS JOIN LATERAL (
                SELECT ph.date FROM price_history AS ph
                WHERE ph.security_id = latest.id ORDER BY ph.date DESC LIMIT 1
            ) AS bar
        ) AS valuation
    """,
    "v_portfolio_summary": """
        SELECT
            p.id AS portfolio_id, p.user_id, p.name, p.broker,
            coalesce(p.currency, 'USD') AS currency, p.is_active,
            p.cash_balance, p.equity_value, p.total_value, p.total_return, p.day_return,
            coalesce(h.holdings, 0) AS holdings,
            coalesce(h.unvalued_holdings, 0) AS unvalued_holdings,
            coalesce(h.long_value, 0) AS long_value,
            coalesce(h.short_value, 0) AS short_value,
            h.cost_basis, h.unrealized_pnl,
            p.last_synced_at
        FROM portfolios AS p
        LEFT JOIN (
            SELECT
                portfolio_id,
                count(*) AS holdings,
                count(*) FILTER (WHERE market_value IS NULL) AS unvalued_holdings,
                sum(market_value) FILTER (WHERE side = 'long') AS long_value,
                sum(market_value) FILTER (WHERE side = 'short') AS short_value,
                sum(cost_basis) AS cost_basis,
                sum(unrealized_pnl) AS unrealized_pnl
            FROM portfolio_holdings
            GROUP BY portfolio_id
        ) AS h ON h.portfolio_id = p.id
    """,
    "v_trade_positions": """
        SELECT
            pos.id AS position_id, pos.trade_id, t.trade_name, t.status AS trade_status, t.user_id,
            t.currency AS trade_currency, t.notional,
            pos.security_id, s.ticker, s.exchange, pos.position_type, pos.security_type,
            coalesce(s.currency, 'USD') AS security_currency,
            pos.allocation_percent, pos.status, pos.quantity, pos.entry_price, pos.entry_fx_rate,
            pos.current_price, pos.exit_price, pos.market_value, pos.unrealized_pnl,
            pos.realized_pnl, pos.split_factor, pos.opened_at, pos.closed_at
        FROM positions AS pos
        JOIN trades AS t ON t.id = pos.trade_id
        JOIN securities AS s ON s.id = pos.security_id
    """,
}


def grant_analyst() -> None:
    """rm_analyst reads the recreated views, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {', '.join(VIEWS)} TO rm_analyst; END IF; END $$"
    )


def replace_views(views: Mapping[str, str]) -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
    for name in VIEWS:
        op.execute(f"CREATE VIEW {name} WITH (security_invoker = true) AS {views[name]}")
    grant_analyst()


def analyst_views_of_0005() -> Mapping[str, str]:
    """The view definitions of revision 0005, from its file beside this one."""
    path = Path(__file__).with_name("0005_analyst_views_and_role.py")
    spec = importlib.util.spec_from_file_location("rm_pipeline_migration_0005", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    views: Mapping[str, str] = module.VIEWS
    return views


def upgrade() -> None:
    replace_views(VIEWS)


def downgrade() -> None:
    replace_views(analyst_views_of_0005())
