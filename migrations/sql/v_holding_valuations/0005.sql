CREATE VIEW v_holding_valuations WITH (security_invoker = true) AS
SELECT
    h.id AS holding_id, h.portfolio_id, p.name AS portfolio_name, p.user_id,
    h.security_id, s.ticker, s.exchange, s.name AS security_name, s.sector,
    h.side, h.quantity, h.average_entry_price, h.current_price, h.market_value,
    h.cost_basis, h.unrealized_pnl, h.unrealized_pnl_percent,
    h.market_value / nullif(p.total_value, 0) AS weight,
    h.last_synced_at
FROM portfolio_holdings AS h
JOIN portfolios AS p ON p.id = h.portfolio_id
JOIN securities AS s ON s.id = h.security_id
