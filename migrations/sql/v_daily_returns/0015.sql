CREATE VIEW v_daily_returns WITH (security_invoker = true) AS
WITH numbered_sessions AS (
    SELECT calendar, date, row_number() OVER (PARTITION BY calendar ORDER BY date) AS n
    FROM market_sessions
)
SELECT
    r.security_id, r.ticker, r.exchange, r.date, r.close, r.volume, r.previous_close,
    CASE WHEN here.n - before.n > 1 THEN NULL ELSE day_return(r.close, r.previous_close) END
        AS daily_return,
    CAST(here.n - before.n AS integer) AS sessions
FROM (
    SELECT
        p.security_id, s.ticker, s.exchange, s.trading_calendar, p.date, p.close,
        p.volume, lag(p.date) OVER bars AS previous_date,
        lag(p.close) OVER bars AS previous_close
    FROM price_history AS p
    JOIN securities AS s ON s.id = p.security_id
    WINDOW bars AS (PARTITION BY p.security_id, s.ticker, s.exchange ORDER BY p.date)
) AS r
LEFT JOIN numbered_sessions AS here
    ON here.calendar = r.trading_calendar AND here.date = r.date
LEFT JOIN numbered_sessions AS before
    ON before.calendar = r.trading_calendar AND before.date = r.previous_date
