"""Migration 0020 records how the rows resolved before it were resolved, from what is known of
them, and its downgrade drops what it added."""

from __future__ import annotations

import psycopg
import pytest

from rm_pipeline.db import migrate

ROWS = """
INSERT INTO quarantine (table_name, ticker, date, reason, data_source, last_seen_at, resolved_at)
VALUES
  ('price_history', 'OPEN', '2025-03-03', 'high_below_low', 'files', '2025-03-04 10:00', NULL),
  ('price_history', 'REP', '2025-03-03', 'repaired: x100', 'yahoo', '2025-03-04 10:00',
   '2025-03-04 10:00'),
  ('price_history', 'SET', '2025-03-03', 'unexplained_jump: x0.5', 'yahoo', '2025-03-04 10:00',
   '2025-03-04 10:00'),
  ('price_history', 'HAND', '2025-03-03', 'unexplained_jump: x0.5', 'yahoo', '2025-03-04 10:00',
   '2025-03-05 09:00')
"""
"""An open row, a repaired bar's values, a jump a load settled (resolved as it was seen) and one
an operator resolved by hand after it was seen."""


def resolutions(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT ticker, resolution FROM quarantine").fetchall())


def test_0020_backfills_the_resolution_of_resolved_rows(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0019")
    with psycopg.connect(empty_database) as conn:
        conn.execute(ROWS)

    migrate.upgrade(empty_database, "0020")

    assert resolutions(empty_database) == {
        "OPEN": None,
        "REP": "repaired",
        "SET": "settled",
        "HAND": "accepted",
    }
    with psycopg.connect(empty_database) as conn:
        invalid = conn.execute(
            "SELECT count(*) FROM quarantine WHERE resolved_by IS NOT NULL "
            "OR resolution_note IS NOT NULL"
        ).fetchone()
        assert invalid == (0,)
    with (
        psycopg.connect(empty_database) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="valid_quarantine_resolution"),
    ):
        conn.execute("UPDATE quarantine SET resolution = 'maybe' WHERE ticker = 'OPEN'")

    migrate.downgrade(empty_database, "0019")
    with psycopg.connect(empty_database) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'quarantine' "
            "AND column_name IN ('resolution', 'resolved_by', 'resolution_note')"
        ).fetchall()
        kept = conn.execute("SELECT count(*) FROM quarantine WHERE resolved_at IS NOT NULL")
        assert (columns, kept.fetchone()) == ([], (3,))
