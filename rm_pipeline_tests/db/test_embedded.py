"""The embedded server: two processes starting it at once share one working server; stop works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from rm_pipeline.db import embedded

START_AND_PRINT_URL = "from rm_pipeline.db.engine import warehouse_url; print(warehouse_url())"


def test_two_processes_starting_it_at_once_get_the_same_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RM_DATA_DIR"] = str(tmp_path / "state")
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", START_AND_PRINT_URL],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [starter.communicate(timeout=120) for starter in starters]
    pgdata = tmp_path / "state" / "pgdata"
    try:
        assert [starter.returncode for starter in starters] == [0, 0], outputs
        urls = {out.strip().splitlines()[-1] for out, _ in outputs}
        assert len(urls) == 1
        [url] = urls
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("rm_pipeline",)
        assert embedded.status(pgdata).running
    finally:
        assert embedded.stop(pgdata)
    assert not embedded.status(pgdata).running
    assert not embedded.stop(pgdata)
