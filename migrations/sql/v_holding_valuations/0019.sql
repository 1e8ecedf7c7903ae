CREATE VIEW v_holding_valuations WITH (security_invoker = true) AS
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
CROSS JOIN (SELECT valuation_date() AS day) AS valuation
