"""The price partitions start at a declared date, whatever the day the definitions load, and
importing the definitions neither fails on a setting they do not read nor changes the process's
warnings; `make run` chooses its own range within the partitions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from rm_pipeline.defs.partitions import trading_days
from rm_pipeline.pipeline import history_range
from rm_pipeline.settings import Settings

IMPORT_DEFINITIONS = """
import json, warnings
import dagster as dg
filters = list(warnings.filters)
from rm_pipeline.definitions import defs
partitions = defs.resolve_job_def("ingest_price_history").partitions_def
dagster_warnings = (dg.BetaWarning, dg.PreviewWarning)
print(json.dumps({
    "first_key": partitions.get_first_partition_key(),
    "dagster_filters": [
        str(f) for f in warnings.filters if f not in filters and f[2] in dagster_warnings
    ],
}))
"""
"""Prints the first partition key and the filters of Dagster's warnings the import installed."""


def import_definitions(**variables: str) -> dict[str, object]:
    """What a fresh process importing the definitions with these environment variables sees."""
    environment = {name: value for name, value in os.environ.items() if name != "RM_HISTORY_START"}
    environment.update(variables)
    imported = subprocess.run(
        [sys.executable, "-c", IMPORT_DEFINITIONS],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    result: dict[str, object] = json.loads(imported.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_definitions_reads_no_history_years_and_silences_no_dagster_warning() -> None:
    imported = import_definitions(RM_HISTORY_YEARS="nan")
    assert imported == {"first_key": "2000-01-03", "dagster_filters": []}


def test_the_partitions_start_at_the_declared_history_start() -> None:
    assert import_definitions(RM_HISTORY_START="2010-01-02")["first_key"] == "2010-01-04"


def test_the_first_key_is_the_start_or_the_weekday_after_it() -> None:
    assert trading_days(date(2000, 1, 3)).get_first_partition_key() == "2000-01-03"
    assert trading_days(date(2000, 1, 1)).get_first_partition_key() == "2000-01-03"


@pytest.mark.parametrize(
    ("history_start", "years", "today", "expected"),
    [
        (date(2000, 1, 3), 2.0, date(2026, 12, 2), ("2024-12-02", "2026-12-02")),
        (date(2000, 1, 3), 2.0, date(2026, 12, 5), ("2024-12-05", "2026-12-04")),
        (date(2026, 6, 6), 2.0, date(2026, 12, 2), ("2026-06-08", "2026-12-02")),
    ],
)
def test_make_run_loads_the_last_years_but_none_before_the_partitions(
    history_start: date, years: float, today: date, expected: tuple[str, str]
) -> None:
    settings = Settings(history_start=history_start)
    assert history_range(settings, years, today) == expected
