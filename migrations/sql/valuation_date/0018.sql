CREATE FUNCTION valuation_date(on_or_before date DEFAULT NULL)
RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT max(bar.date)
    FROM securities AS s
    CROSS JOIN LATERAL latest_bar(s.id, valuation_date.on_or_before) AS bar
$$
