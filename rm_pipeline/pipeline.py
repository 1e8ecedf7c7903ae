"""Jobs launched as the UI launches them, and the main job end to end, as `make run` runs it.

Every run goes through `dagster job launch` in the `rm_pipeline` code location (the packaged
`workspace.yaml`'s, or for `make run`'s three runs one code server of their own under that name):
it shows in the UI's job pages and re-executes there like a scheduled run. The instance (the packaged dagster.yaml, in a Dagster home under the data directory)
launches runs at once, in a process of their own; this module waits for each and reads what it did
back from the instance. Both files ship inside the package (links to the repository's top-level
files), so an installed `rm-pipeline` runs from any directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from sqlalchemy import Engine, text

from rm_pipeline.db.engine import dagster_url, with_driver
from rm_pipeline.defs.alerting import check_evaluations
from rm_pipeline.defs.partitions import nearest_weekday, partitions_today, range_tags
from rm_pipeline.settings import Settings

Progress = Callable[[str], None]
CONSOLE_AT_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
PACKAGE_DIR = Path(__file__).resolve().parent
WORKSPACE = PACKAGE_DIR / "workspace.yaml"
INSTANCE_CONFIG = PACKAGE_DIR / "dagster.yaml"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
POLL_SECONDS = 0.5
LOCATION = "rm_pipeline"
CODE_SERVER_START_SECONDS = 120.0
CODE_SERVER_STOP_SECONDS = 5.0
COUNTERS = ("rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected", "rows_removed")
"""Per-partition counts: a range run's total is their sum over its partitions. Other values (the
corporate actions, the failed tickers) are the run's own, recorded on its last partition (the
count of failed tickers on every one)."""


class JobLaunchError(RuntimeError):
    """A job could not be launched (its definitions did not load, the instance is unusable)."""


@dataclass
class JobSummary:
    """What one job run did: per-asset metadata (counts summed over partitions) and each check's
    verdict."""

    job: str
    success: bool
    run_id: str
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)


def dagster_home(settings: Settings) -> Path:
    """Dagster's home under the data directory, holding the packaged dagster.yaml (rewritten
    whenever the package's differs, so an upgrade takes effect)."""
    home = settings.data_dir.resolve() / "dagster"
    config = home / INSTANCE_CONFIG.name
    wanted = INSTANCE_CONFIG.read_text()
    if not config.exists() or config.read_text() != wanted:
        home.mkdir(parents=True, exist_ok=True)
        written = home / f".{config.name}.{os.getpid()}"
        written.write_text(wanted)
        written.replace(config)
    return home


def dagster_environment(settings: Settings) -> dict[str, str]:
    """Where Dagster keeps its instance: its home under the data directory, storage in
    PostgreSQL."""
    state = dagster_home(settings)
    return {
        "DAGSTER_HOME": str(state),
        # dagster-postgres binds NOTIFY payloads client-side, as psycopg2 does; SQLAlchemy 2.1
        # would otherwise pick psycopg 3 for a bare postgresql:// URL.
        "DAGSTER_PG_URL": with_driver(dagster_url(settings), "postgresql+psycopg2"),
        # A range run records one materialization per partition: Dagster writes them to its
        # event log in batches of this size instead of one transaction each, which dominated
        # long backfills (bench/backfill.py); a batch is held in memory until written, so a
        # few hundred keep a 15-year run's memory near a 2-year one's at the same speed.
        "DAGSTER_EVENT_BATCH_SIZE": os.environ.get("DAGSTER_EVENT_BATCH_SIZE", "250"),
        # ... and announces it with one planned event for the whole range, not one per
        # partition (which the event log writes one at a time). A failed range run then leaves
        # its partitions missing rather than failed; the failed run itself is alerted on.
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": os.environ.get(
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true"
        ),
        # Arrow's default allocator (mimalloc) keeps what each loaded batch freed, so a long
        # backfill's peak memory grew with its length; the system allocator gives it back.
        "ARROW_DEFAULT_MEMORY_POOL": os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "system"),
        "RM_DAGSTER_ARTIFACTS": str(state / "storage"),
        "RM_DAGSTER_COMPUTE_LOGS": str(state / "logs"),
    }


def prepare_dagster(settings: Settings) -> dg.DagsterInstance:
    os.environ.update(dagster_environment(settings))
    return dg.DagsterInstance.get()


def dagster_command() -> str:
    """The `dagster` executable of this environment: beside its Python, else on PATH."""
    beside = Path(sys.executable).parent / "dagster"
    return str(beside) if beside.exists() else shutil.which("dagster") or "dagster"


def history_range(settings: Settings, today: date) -> tuple[str, str]:
    """First and last partition keys of the history `make run` loads: from where the history
    starts (RM_HISTORY_START, or RM_HISTORY_YEARS back) to today's partition."""
    start = nearest_weekday(settings.history_start_date(today), step=1)
    return start.isoformat(), nearest_weekday(today, step=-1).isoformat()


@contextmanager
def code_server() -> Iterator[Path]:
    """One code server for the runs launched inside the block, named as the workspace's
    `rm_pipeline` location; yields a workspace file naming it.

    Launched against the packaged workspace, each `dagster job launch` starts a server of its
    own (loading the definitions again) and waits for it to stop after the run; against this
    one it returns once the run is created. The server stops when the block ends."""
    with tempfile.TemporaryDirectory(prefix="rm-pipeline-code-") as scratch:
        socket = Path(scratch) / "grpc.sock"
        workspace = Path(scratch) / "workspace.yaml"
        entry = {"grpc_server": {"socket": str(socket), "location_name": LOCATION}}
        workspace.write_text(yaml.safe_dump({"load_from": [entry]}))
        target = ["--module-name", "rm_pipeline.definitions", "--attribute", "defs"]
        where = ["--location-name", LOCATION, "--socket", str(socket), "--log-level", "warning"]
        server = subprocess.Popen([dagster_command(), "api", "grpc", *target, *where])
        try:
            _wait_for_socket(server, socket)
            yield workspace
        finally:
            _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the code server; it may keep waiting on its finished runs' processes after SIGTERM,
    so it is killed when it has not stopped within CODE_SERVER_STOP_SECONDS (the runs, by then
    finished, are processes of their own and unaffected)."""
    server.terminate()
    try:
        server.wait(timeout=CODE_SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _wait_for_socket(server: subprocess.Popen[bytes], socket: Path) -> None:
    deadline = time.monotonic() + CODE_SERVER_START_SECONDS
    while not socket.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise JobLaunchError("the code server did not start: see its output above")
        time.sleep(0.1)


def launch_job(
    instance: dg.DagsterInstance,
    name: str,
    tags: Mapping[str, str] | None = None,
    workspace: Path = WORKSPACE,
    steps: Sequence[str] = (),
) -> JobSummary:
    """Launch one run of job `name` in the workspace's code location, wait for it, summarize it.
    `steps` names the job's top-level steps (ops or graphs) to run, all when empty."""
    run_id = str(uuid.uuid4())
    command = [dagster_command(), "job", "launch", "-w", str(workspace), "-j", name]
    command += ["--run-id", run_id, "--config-json", json.dumps(CONSOLE_AT_INFO)]
    if tags:
        command += ["--tags", json.dumps(dict(tags))]
    if steps:
        command += ["--op-selection", ",".join(steps)]
    launched = subprocess.run(command, check=False)
    if launched.returncode != 0 and instance.get_run_by_id(run_id) is None:
        raise JobLaunchError(f"`dagster job launch` could not start {name}: see its output above")
    run = wait_for_run(instance, run_id)
    return summarize_run(instance, name, run_id, success=run.status == dg.DagsterRunStatus.SUCCESS)


RANGE_LOAD_STEPS = ("price_history", "fx_rates")
"""What a range run of `ingest_price_history` launched from here runs: the loads, without their
checks, which run next, as a run of their own (`check_prices`, after `rm-pipeline backfill`) or
ahead of the analytics (`refresh_analytics`, in `make run`). In a partitioned run Dagster records
a planned evaluation of every check for every partition (and leaves them planned: the checks
evaluate once, over the whole table), which for 15 years is 27,000 rows and seconds before the
run starts. The nightly schedule's runs, a few days each, keep their checks."""


def load_range(
    instance: dg.DagsterInstance, first: str, last: str, workspace: Path = WORKSPACE
) -> list[JobSummary]:
    """Bars and exchange rates from partition `first` to `last` as one run, then the price and
    rate checks as one run (not when the load failed)."""
    load = launch_job(
        instance, "ingest_price_history", range_tags(first, last), workspace, RANGE_LOAD_STEPS
    )
    if not load.success:
        return [load]
    return [load, launch_job(instance, "check_prices", workspace=workspace)]


def wait_for_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise JobLaunchError(f"run {run_id} was not created: see the output above")
        if run.status in FINISHED:
            return run
        time.sleep(POLL_SECONDS)


SUMMARY_PAGE = 500
"""Materializations read at a time when summarizing a run: a range run has one per partition."""


def summarize_run(instance: dg.DagsterInstance, job: str, run_id: str, success: bool) -> JobSummary:
    summary = JobSummary(job=job, success=success, run_id=run_id)
    for materialization in run_materializations(instance, run_id):
        add_materialization(summary, materialization)
    for evaluation in check_evaluations(instance, run_id):
        summary.checks[evaluation.check_name] = evaluation.passed
    return summary


def run_materializations(
    instance: dg.DagsterInstance, run_id: str
) -> Iterator[dg.AssetMaterialization]:
    """The run's materializations in order, read a page at a time, so memory holds one page
    however many partitions the run had."""
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor, dg.DagsterEventType.ASSET_MATERIALIZATION, SUMMARY_PAGE
        )
        for record in page.records:
            materialization = record.event_log_entry.asset_materialization
            assert materialization is not None
            yield materialization
        if not page.has_more:
            return
        cursor = page.cursor


def add_materialization(summary: JobSummary, materialization: dg.AssetMaterialization) -> None:
    """Fold one materialization into the summary: counters add up over partitions, other values
    are the latest partition's."""
    asset = materialization.asset_key.to_user_string()
    merged = summary.materialized.setdefault(asset, {})
    for key, value in materialization.metadata.items():
        merged[key] = merged.get(key, 0) + value.value if key in COUNTERS else value.value
    summary.partitions[asset] = summary.partitions.get(asset, 0) + 1


def run_main_job(
    settings: Settings,
    progress: Progress,
    seed: Callable[[], str] | None = None,
    today: date | None = None,
) -> list[JobSummary]:
    """Securities, then the history range as one run (its loads: `RANGE_LOAD_STEPS`), then
    `seed` (the demo data, when given), then the price checks and everything downstream. Stops at
    the first job that fails."""
    instance = prepare_dagster(settings)
    first, last = history_range(settings, today or partitions_today())
    tags = range_tags(first, last)
    steps: list[tuple[str, dict[str, str] | None, Sequence[str]]] = [
        ("refresh_securities", None, ()),
        ("ingest_price_history", tags, RANGE_LOAD_STEPS),
        ("refresh_analytics", None, ()),
    ]
    summaries = []
    with code_server() as workspace:
        for name, run_tags, run_steps in steps:
            if name == "refresh_analytics" and seed is not None:
                progress(seed())
            progress(f"running {name}" + (f" for {first} to {last}" if run_tags else ""))
            summary = launch_job(instance, name, run_tags, workspace, run_steps)
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
