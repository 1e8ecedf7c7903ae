CREATE FUNCTION fx_rate(from_currency text, to_currency text, on_date date)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH units AS (
        SELECT c.side, coalesce(u.major_currency, c.code) AS major,
               coalesce(u.units_per_major, 1) AS per_major
        FROM (VALUES ('from', from_currency), ('to', to_currency)) AS c(side, code)
        LEFT JOIN currency_units AS u ON u.code = c.code
    ),
    usd_per_major AS (
        SELECT side, per_major,
               CASE WHEN major = 'USD' THEN 1 ELSE (
                   SELECT r.rate FROM fx_rates AS r
                   WHERE r.base_currency = units.major AND r.quote_currency = 'USD'
                     AND r.date <= on_date AND r.date > on_date - 8
                   ORDER BY r.date DESC LIMIT 1
               ) END AS usd
        FROM units
    )
    SELECT CASE
        WHEN (SELECT major FROM units WHERE side = 'from')
             = (SELECT major FROM units WHERE side = 'to')
        THEN (SELECT per_major FROM units WHERE side = 'to')::numeric
             / (SELECT per_major FROM units WHERE side = 'from')
        ELSE (SELECT usd / per_major FROM usd_per_major WHERE side = 'from')
             / (SELECT usd / per_major FROM usd_per_major WHERE side = 'to')
    END
$$
