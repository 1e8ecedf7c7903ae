CREATE VIEW v_portfolio_summary WITH (security_invoker = true) AS
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
