CREATE FUNCTION bar_span(security_id uuid)
RETURNS TABLE (first date, last date)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT min(p.date), max(p.date)
    FROM price_history AS p
    WHERE p.security_id = bar_span.security_id
$$
