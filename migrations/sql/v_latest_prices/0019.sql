CREATE VIEW v_latest_prices WITH (security_invoker = true) AS
SELECT
    s.id AS security_id, s.ticker, s.exchange, s.name, s.security_type, s.currency,
    bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume,
    previous.close AS previous_close,
    CASE WHEN spanned.sessions > 1 THEN NULL ELSE bar.close - previous.close END
        AS day_change,
    CASE WHEN spanned.sessions > 1 THEN NULL ELSE day_return(bar.close, previous.close) END
        AS day_return,
    spanned.sessions
FROM securities AS s
CROSS JOIN LATERAL latest_bar(s.id) AS bar
LEFT JOIN LATERAL latest_bar(s.id, bar.date - 1) AS previous ON true
LEFT JOIN LATERAL (
    SELECT CASE WHEN bool_or(m.date = previous.date) AND bool_or(m.date = bar.date)
                THEN CAST(count(*) - 1 AS integer) END AS sessions
    FROM market_sessions AS m
    WHERE m.calendar = s.trading_calendar AND m.date BETWEEN previous.date AND bar.date
) AS spanned ON true
