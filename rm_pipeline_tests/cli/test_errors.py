"""Expected failures end in one line from the project, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from rm_pipeline.cli import main; main()", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_an_unreachable_database_is_one_line_and_the_traceback_needs_verbose() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    quiet = run_cli("db", "upgrade", env=env)
    assert quiet.returncode == 1
    assert quiet.stderr.startswith("Error: cannot reach the database: ")
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.splitlines()) == 2
    verbose = run_cli("--verbose", "db", "upgrade", env=env)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
