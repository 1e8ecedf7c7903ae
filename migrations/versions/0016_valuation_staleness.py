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

The downgrade restores 0009's views, read from that revision's file, then drops the columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("portfolio_holdings", "positions")

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
            h.price_date, h.is_stale, h.sessions_behind,
            CASE WHEN h.current_price IS NOT NULL THEN
                fx_rate(coalesce(s.currency, 'USD'), coalesce(p.currency, 'USD'),
                        coalesce(h.price_date, CURRENT_DATE))
            END AS fx_rate,
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
            CASE WHEN h.portfolio_id IS NULL THEN 0 ELSE h.stale_holdings END AS stale_holdings,
            CASE WHEN h.portfolio_id IS NULL THEN 0 ELSE h.long_value END AS long_value,
            CASE WHEN h.portfolio_id IS NULL THEN 0 ELSE h.short_value END AS short_value,
            h.cost_basis, h.unrealized_pnl,
            p.last_synced_at
        FROM portfolios AS p
        LEFT JOIN (
            SELECT
                portfolio_id,
                count(*) AS holdings,
                count(*) FILTER (WHERE market_value IS NULL) AS unvalued_holdings,
                CASE WHEN bool_and(is_stale IS NOT NULL)
                    THEN count(*) FILTER (WHERE is_stale) END AS stale_holdings,
                CASE WHEN bool_and(market_value IS NOT NULL) FILTER (WHERE side = 'long')
                          IS NOT FALSE
                    THEN coalesce(sum(market_value) FILTER (WHERE side = 'long'), 0)
                END AS long_value,
                CASE WHEN bool_and(market_value IS NOT NULL) FILTER (WHERE side = 'short')
                          IS NOT FALSE
                    THEN coalesce(sum(market_value) FILTER (WHERE side = 'short'), 0)
                END AS short_value,
                CASE WHEN bool_and(market_value IS NOT NULL) THEN sum(cost_basis) END
                    AS cost_basis,
                CASE WHEN bool_and(market_value IS NOT NULL) THEN sum(unrealized_pnl) END
                    AS unrealized_pnl
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
            pos.allocation_percent, pos.status, pos.quantity, pos.entry_price,
            pos.entry_price_date, pos.entry_fx_rate,
            pos.current_price, pos.price_date, pos.is_stale, pos.sessions_behind,
            CASE WHEN pos.current_price IS NOT NULL THEN
                fx_rate(coalesce(s.currency, 'USD'), t.currency,
                        coalesce(pos.price_date, CURRENT_DATE))
            END AS fx_rate,
            pos.exit_price, pos.market_value, pos.unrealized_pnl,
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


def valuation_views_of_0009() -> Mapping[str, str]:
    """The view definitions of revision 0009, from its file beside this one."""
    path = Path(__file__).with_name("0009_valuation_views.py")
    spec = importlib.util.spec_from_file_location("rm_pipeline_migration_0009", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    views: Mapping[str, str] = module.VIEWS
    return views


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("price_date", sa.Date(), nullable=True))
        op.add_column(table, sa.Column("is_stale", sa.Boolean(), nullable=True))
        op.add_column(table, sa.Column("sessions_behind", sa.Integer(), nullable=True))
    replace_views(VIEWS)


def downgrade() -> None:
    replace_views(valuation_views_of_0009())
    for table in TABLES:
        for column in ("sessions_behind", "is_stale", "price_date"):
            op.drop_column(table, column)
