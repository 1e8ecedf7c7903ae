"""Expected failures end in one line from the project, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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


def assert_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_an_invalid_setting_names_its_variable(tmp_path: Path) -> None:
    env = {**os.environ, "RM_PROVIDER": "bogus", "RM_HISTORY_START": "yesterday"}
    result = run_cli("providers", "bars", "AAPL", env=env)
    assert_one_line(
        result,
        "Error: invalid setting RM_PROVIDER='bogus': Input should be 'synthetic', 'yfinance' or "
        "'files'; RM_HISTORY_START='yesterday': Input should be a valid date",
    )


@pytest.mark.parametrize("command", [["--help"], ["run", "--help"], ["backfill", "--help"]])
@pytest.mark.parametrize(
    "setting",
    [
        {"RM_HISTORY_YEARS": "nan"},
        {"RM_HISTORY_START": "yesterday"},
        {"RM_INGEST_BATCH_SIZE": "0", "RM_PROVIDER": "bogus"},
    ],
)
def test_a_bad_setting_leaves_help_alone(command: list[str], setting: dict[str, str]) -> None:
    """`--help` reads no setting: it explains the commands however the environment is set."""
    result = run_cli(*command, env={**os.environ, **setting})
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_a_number_of_years_that_is_not_a_number_is_one_line_from_run() -> None:
    result = run_cli("run", env={**os.environ, "RM_HISTORY_YEARS": "nan"})
    assert_one_line(
        result, "Error: invalid setting RM_HISTORY_YEARS='nan': Input should be a finite number"
    )


def test_every_number_out_of_bounds_is_named_in_the_one_line() -> None:
    bad = {
        "RM_INGEST_BATCH_SIZE": "0",
        "RM_YFINANCE_THREADS": "0",
        "RM_YFINANCE_CACHE_TTL_MINUTES": "-1",
        "RM_POOL_SIZE": "0",
    }
    result = run_cli("db", "status", env={**os.environ, **bad})
    assert_one_line(result, *(f"{name}={value!r}: Input should be" for name, value in bad.items()))


def test_a_malformed_database_url_is_one_line_without_its_password() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://user:s3cret@host:abc/warehouse",
        "DAGSTER_PG_URL": "notaurl",
    }
    result = run_cli("db", "status", env=env)
    assert_one_line(
        result,
        "DATABASE_URL: the port must be a number from 1 to 65535",
        "DAGSTER_PG_URL: not a URL",
    )
    assert "s3cret" not in result.stderr


def test_a_broken_securities_file_names_its_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "AAPL.csv").write_text("Date,Close\n2025-01-02,100\n", encoding="utf-8")
    (tmp_path / "securities.csv").write_text(
        "ticker,name,security_type\nAAPL,Apple,stonk\n", encoding="utf-8"
    )
    result = run_cli(
        "providers", "securities", "AAPL", "--files-dir", str(tmp_path), env=dict(os.environ)
    )
    assert_one_line(result, "securities.csv, line 2, field 'security_type': 'stonk' is not one of")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"RM_PROVIDER": "files"}, "Error: RM_PROVIDER=files needs RM_PROVIDER_FILES_DIR"),
        ({"RM_UNIVERSE_FILE": "{dir}/universe.yaml"}, "expected a top-level 'securities:' list"),
        ({"RM_UNIVERSE_FILE": "{dir}/universe.png"}, "universe.png, line 1: not UTF-8 text"),
    ],
)
def test_run_refuses_a_bad_configuration_before_starting(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    (tmp_path / "universe.yaml").write_text("securities: 5\n", encoding="utf-8")
    (tmp_path / "universe.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    env = {**os.environ, "RM_DATA_DIR": str(tmp_path / "state")}
    env |= {name: value.format(dir=tmp_path) for name, value in settings.items()}
    for command in (["run"], ["backfill", "--start", "2025-01-02"]):
        result = run_cli(*command, env=env)
        assert_one_line(result, message)
        assert not (tmp_path / "state").exists()  # nothing started, nothing created
