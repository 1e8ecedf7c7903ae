CREATE FUNCTION next_bar(security_id uuid, after date)
RETURNS SETOF price_history
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT * FROM price_history AS p
    WHERE p.security_id = next_bar.security_id AND p.date > next_bar.after
    ORDER BY p.date
    LIMIT 1
$$
