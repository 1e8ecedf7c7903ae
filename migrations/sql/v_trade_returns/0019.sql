CREATE VIEW v_trade_returns WITH (security_invoker = true) AS
SELECT
    t.id AS trade_id, t.trade_name, t.status AS trade_status, t.user_id, t.analyzed_at,
    t.return_1m, t.return_3m, t.return_6m, t.return_1y,
    realized.realized_1m, realized.realized_3m, realized.realized_6m, realized.realized_1y,
    realized.prices_through
FROM trades AS t
LEFT JOIN LATERAL (
    SELECT
        max(per_span.value) FILTER (WHERE per_span.months = 1) AS realized_1m,
        max(per_span.value) FILTER (WHERE per_span.months = 3) AS realized_3m,
        max(per_span.value) FILTER (WHERE per_span.months = 6) AS realized_6m,
        max(per_span.value) FILTER (WHERE per_span.months = 12) AS realized_1y,
        min(per_span.prices_through) AS prices_through
    FROM (
        SELECT
            span.months,
            CASE WHEN count(*) = count(leg.value) THEN round(sum(leg.value), 4) END AS value,
            min(latest.date) AS prices_through
        FROM positions AS pos
        LEFT JOIN LATERAL latest_bar(pos.security_id) AS latest ON true
        CROSS JOIN (VALUES (1), (3), (6), (12)) AS span (months)
        LEFT JOIN LATERAL latest_bar(
            pos.security_id, (latest.date - make_interval(months => span.months))::date
        ) AS base ON latest.date IS NOT NULL
        CROSS JOIN LATERAL (
            SELECT
                CASE pos.position_type WHEN 'long' THEN 1 WHEN 'short' THEN -1 END
                * pos.allocation_percent / 100 * (latest.close / base.close - 1) AS value
        ) AS leg
        WHERE pos.trade_id = t.id
        GROUP BY span.months
    ) AS per_span
) AS realized ON true
