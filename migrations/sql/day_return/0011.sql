CREATE FUNCTION day_return(close_price numeric, previous_close numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT close_price / nullif(previous_close, 0) - 1 $$
