CREATE VIEW trade_input_fingerprints AS
SELECT
    t.id AS trade_id,
    encode(
        sha256(convert_to(
            jsonb_build_array(
                t.trade_name,
                t.trade_description,
                (
                    SELECT coalesce(jsonb_agg(jsonb_build_array(
                        p.id, p.security_id, p.position_type, p.security_type,
                        p.allocation_percent,
                        (
                            SELECT jsonb_build_array(h.date, h.close)
                            FROM latest_bar(p.security_id) AS h
                        )
                    ) ORDER BY p.id), '[]')
                    FROM positions p
                    WHERE p.trade_id = t.id
                )
            )::text,
            'UTF8'
        )),
        'hex'
    ) AS fingerprint
FROM trades t
