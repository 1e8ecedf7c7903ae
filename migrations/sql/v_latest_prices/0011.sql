CREATE VIEW v_latest_prices WITH (security_invoker = true) AS
SELECT
    s.id AS security_id, s.ticker, s.exchange, s.name, s.security_type, s.currency,
    bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume,
    previous.close AS previous_close,
    bar.close - previous.close AS day_change,
    day_return(bar.close, previous.close) AS day_return
FROM securities AS s
CROSS JOIN LATERAL (
    SELECT p.date, p.open, p.high, p.low, p.close, p.volume
    FROM price_history AS p
    WHERE p.security_id = s.id
    ORDER BY p.date DESC
    LIMIT 1
) AS bar
LEFT JOIN LATERAL (
    SELECT p.close
    FROM price_history AS p
    WHERE p.security_id = s.id AND p.date < bar.date
    ORDER BY p.date DESC
    LIMIT 1
) AS previous ON true
