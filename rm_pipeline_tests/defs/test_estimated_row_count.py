"""The table's rows as the server's statistics count them, read without scanning the table."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from rm_pipeline.defs.metadata import estimated_row_count

STATISTICS_FLUSH_SECONDS = 10


def test_estimated_row_count_follows_committed_inserts(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO securities (ticker, name, security_type, exchange) "
                "SELECT 'E' || g, 'E', 'equity', 'TEST' FROM generate_series(1, 37) g"
            )
        )
    deadline = time.monotonic() + STATISTICS_FLUSH_SECONDS
    while True:
        with db.connect() as conn:
            counted = estimated_row_count(conn, "securities").value
            exact = conn.execute(text("SELECT count(*) FROM securities")).scalar_one()
        if counted == exact or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert exact >= 37
    assert counted == exact
