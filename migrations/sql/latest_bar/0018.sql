CREATE FUNCTION latest_bar(security_id uuid, on_or_before date DEFAULT NULL)
RETURNS SETOF price_history
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT * FROM price_history AS p
    WHERE p.security_id = latest_bar.security_id
      AND p.date <= coalesce(latest_bar.on_or_before, 'infinity')
    ORDER BY p.date DESC
    LIMIT 1
$$
