"""The latest bar of each position's security joins a trade's analysis inputs.

A trade's analysis is computed from its securities' price history, so new prices are new inputs:
`trade_input_fingerprints` now also covers, per position, the date and close of its security's
latest bar (one backwards step of the `(security_id, date)` index each). After a price load, every
draft or active trade holding a security that got a new bar, or whose history was re-fetched after
a split, needs analysis again; a trade analysed before its securities had any price is analysed
again once they do. `CREATE OR REPLACE` keeps the view's columns and grants.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def fingerprints_view(position_inputs: str) -> str:
    return VIEW_TEMPLATE.replace("POSITION_INPUTS", position_inputs)


VIEW_TEMPLATE = """
CREATE OR REPLACE VIEW trade_input_fingerprints AS
SELECT
    t.id AS trade_id,
    encode(
        sha256(convert_to(
            jsonb_build_array(
                t.trade_name,
                t.trade_description,
                (
                    SELECT coalesce(jsonb_agg(POSITION_INPUTS ORDER BY p.id), '[]')
                    FROM positions p
                    WHERE p.trade_id = t.id
                )
            )::text,
            'UTF8'
        )),
        'hex'
    ) AS fingerprint
FROM trades t
"""


POSITION_INPUTS = """jsonb_build_array(
                        p.id, p.security_id, p.position_type, p.security_type,
                        p.allocation_percent
                    )"""
POSITION_AND_PRICE_INPUTS = """jsonb_build_array(
                        p.id, p.security_id, p.position_type, p.security_type,
                        p.allocation_percent,
                        (
                            SELECT jsonb_build_array(h.date, h.close)
                            FROM price_history h
                            WHERE h.security_id = p.security_id
                            ORDER BY h.date DESC
                            LIMIT 1
                        )
                    )"""


def upgrade() -> None:
    op.execute(fingerprints_view(POSITION_AND_PRICE_INPUTS))


def downgrade() -> None:
    op.execute(fingerprints_view(POSITION_INPUTS))
