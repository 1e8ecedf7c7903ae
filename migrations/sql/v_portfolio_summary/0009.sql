CREATE VIEW v_portfolio_summary WITH (security_invoker = true) AS
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
