CREATE FUNCTION time_ordered_uuid() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    -- A version 4 UUID whose first 48 bits are replaced by the Unix time in milliseconds and
    -- whose version nibble becomes 7 (bits 52 and 53 of the bytea, counted from the right of
    -- each byte): a version 7 UUID as RFC 9562 lays it out, 74 random bits kept.
    SELECT encode(
        set_bit(
            set_bit(
                overlay(
                    uuid_send(gen_random_uuid())
                    PLACING substring(
                        int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                        FROM 3
                    )
                    FROM 1 FOR 6
                ),
                52, 1
            ),
            53, 1
        ),
        'hex'
    )::uuid
$$
