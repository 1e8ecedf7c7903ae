"""The main job end to end, as `make run` runs it: each Dagster job executed in turn on the
project's Dagster instance (PostgreSQL storage, multiprocess executor), so every run shows up in the
UI afterwards exactly like a scheduled one."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from sqlalchemy import Engine, text

from rm_pipeline.db.engine import dagster_url, with_driver
from rm_pipeline.db.migrate import PROJECT_ROOT
from rm_pipeline.settings import Settings

SATURDAY = 5
Progress = Callable[[str], None]
CONSOLE_AT_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class JobSummary:
    """What one job run did: per-asset metadata and each check's verdict."""

    job: str
    success: bool
    run_id: str
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)


def dagster_environment(settings: Settings) -> dict[str, str]:
    """Where Dagster keeps its instance: dagster.yaml at the project root, storage in PostgreSQL."""
    state = settings.data_dir.resolve() / "dagster"
    return {
        "DAGSTER_HOME": str(PROJECT_ROOT),
        # dagster-postgres binds NOTIFY payloads client-side, as psycopg2 does; SQLAlchemy 2.1
        # would otherwise pick psycopg 3 for a bare postgresql:// URL.
        "DAGSTER_PG_URL": with_driver(dagster_url(settings), "postgresql+psycopg2"),
        "RM_DAGSTER_ARTIFACTS": str(state / "storage"),
        "RM_DAGSTER_COMPUTE_LOGS": str(state / "logs"),
    }


def prepare_dagster(settings: Settings) -> dg.DagsterInstance:
    os.environ.update(dagster_environment(settings))
    return dg.DagsterInstance.get()


def _nearest_weekday(day: date, step: int) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=step)
    return day


def history_range(settings: Settings, today: date) -> tuple[str, str]:
    """First and last partition keys of the history `make run` loads: the last `history_years`,
    up to today's partition (the last weekday on or before today)."""
    start = today - timedelta(days=round(settings.history_years * 365.25))
    return _nearest_weekday(start, 1).isoformat(), _nearest_weekday(today, -1).isoformat()


def run_job(
    instance: dg.DagsterInstance, name: str, tags: Mapping[str, str] | None = None
) -> JobSummary:
    repository = ReconstructableRepository.for_module(
        "rm_pipeline.definitions", "defs", working_directory=str(PROJECT_ROOT)
    )
    with dg.execute_job(
        repository.get_reconstructable_job(name),
        instance=instance,
        tags=tags,
        run_config=CONSOLE_AT_INFO,
    ) as result:
        summary = JobSummary(job=name, success=result.success, run_id=result.run_id)
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            assert materialization is not None
            summary.materialized[materialization.asset_key.to_user_string()] = {
                key: value.value for key, value in materialization.metadata.items()
            }
        for evaluation in result.get_asset_check_evaluations():
            summary.checks[evaluation.check_name] = evaluation.passed
    return summary


def run_main_job(
    settings: Settings,
    progress: Progress,
    seed: Callable[[], str] | None = None,
    today: date | None = None,
) -> list[JobSummary]:
    """Securities, then the history range as one run, then `seed` (the demo data, when given),
    then everything downstream. Stops at the first job that fails."""
    instance = prepare_dagster(settings)
    first, last = history_range(settings, today or date.today())
    steps: list[tuple[str, dict[str, str] | None]] = [
        ("refresh_securities", None),
        (
            "ingest_price_history",
            {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        ),
        ("refresh_analytics", None),
    ]
    summaries = []
    for name, tags in steps:
        if name == "refresh_analytics" and seed is not None:
            progress(seed())
        progress(f"running {name}" + (f" for {first} to {last}" if tags else ""))
        summary = run_job(instance, name, tags)
        summaries.append(summary)
        if not summary.success:
            break
    return summaries


WAREHOUSE_SUMMARY = text(
    """
    SELECT (SELECT count(*) FROM securities WHERE is_active) AS active_securities,
           (SELECT count(*) FROM securities WHERE NOT is_active) AS inactive_securities,
           (SELECT count(*) FROM price_history) AS price_rows,
           (SELECT min(date) FROM price_history) AS first_date,
           (SELECT max(date) FROM price_history) AS last_date,
           (SELECT count(*) FROM corporate_actions) AS corporate_actions
    """
)


def warehouse_summary(engine: Engine) -> dict[str, Any]:
    """Counts and the date range of what the warehouse holds now."""
    with engine.connect() as conn:
        return dict(conn.execute(WAREHOUSE_SUMMARY).mappings().one())


def changed_rows(summaries: list[JobSummary]) -> int:
    """Rows any job inserted, updated or deactivated; 0 means the run changed nothing."""
    counters = (
        "rows_inserted",
        "rows_updated",
        "rows_removed",
        "deactivated",
        "corporate_actions_inserted",
    )
    return sum(
        int(metadata.get(counter, 0))
        for summary in summaries
        for metadata in summary.materialized.values()
        for counter in counters
    )
