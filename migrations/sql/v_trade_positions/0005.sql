CREATE VIEW v_trade_positions WITH (security_invoker = true) AS
SELECT
    pos.id AS position_id, pos.trade_id, t.trade_name, t.status AS trade_status, t.user_id,
    pos.security_id, s.ticker, s.exchange, pos.position_type, pos.security_type,
    pos.allocation_percent, pos.status, pos.quantity, pos.entry_price, pos.current_price,
    pos.market_value, pos.unrealized_pnl, pos.opened_at, pos.closed_at
FROM positions AS pos
JOIN trades AS t ON t.id = pos.trade_id
JOIN securities AS s ON s.id = pos.security_id
