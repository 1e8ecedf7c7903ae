CREATE VIEW v_daily_returns WITH (security_invoker = true) AS
SELECT
    p.security_id, s.ticker, s.exchange, p.date, p.close, p.volume,
    lag(p.close) OVER bars AS previous_close,
    day_return(p.close, lag(p.close) OVER bars) AS daily_return
FROM price_history AS p
JOIN securities AS s ON s.id = p.security_id
WINDOW bars AS (PARTITION BY p.security_id, s.ticker, s.exchange ORDER BY p.date)
