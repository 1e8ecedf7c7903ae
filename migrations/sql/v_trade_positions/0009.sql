CREATE VIEW v_trade_positions WITH (security_invoker = true) AS
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
