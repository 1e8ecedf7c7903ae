"""Jobs launched as the UI launches them, followed to their end, and stopped with the command.

Every run goes through `dagster job launch` in the `rm_pipeline` code location, served by one
code server of the command's own under that name: it shows in the UI's job pages and
re-executes there like a scheduled run. The instance (the packaged dagster.yaml, in a Dagster
home under the data directory) launches runs at once, in a process of their own; a `RunSession`
follows each run's events (its log lines are the command's progress) and reads what it did back
from the instance. Dagster's processes write to `<data dir>/logs/dagster.log`, not the terminal.

Runs live no longer than the command: before anything starts, runs a dead command left
unfinished are ended (`rm_pipeline.recovery`); when the command stops early (Ctrl-C, SIGTERM,
an error) its code server and run workers are stopped and its runs marked canceled; a run that
waits for a pool slot says which run holds it and gives up after RM_SLOT_WAIT_MINUTES.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

import dagster as dg
import psycopg
import yaml
from pydantic import SecretStr

from rm_pipeline.alerts import post_alert
from rm_pipeline.db.engine import DATABASE_UNREACHABLE, dagster_url, with_driver
from rm_pipeline.defs.alerting import ALERTED_BY_LAUNCHER_TAG, error_line, failed_run_message
from rm_pipeline.processes import (
    STOP_GRACE_SECONDS,
    Interrupted,
    signals_ignored,
    start_child,
    stop_group,
)
from rm_pipeline.recovery import (
    LAUNCHER_TAG,
    Launcher,
    describe_run,
    end_run,
    recover_abandoned_runs,
    slot_holders,
    stop_workers,
    workers_gone,
)
from rm_pipeline.run_summary import JobSummary, add_event
from rm_pipeline.settings import Settings

Progress = Callable[[str], None]
CONSOLE_AT_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
PACKAGE_DIR = Path(__file__).resolve().parent
WORKSPACE = PACKAGE_DIR / "workspace.yaml"
INSTANCE_CONFIG = PACKAGE_DIR / "dagster.yaml"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
POLL_SECONDS = 0.5
WORKER_CHECK_POLLS = 10
"""Polls between two looks at whether a followed run's worker still lives (every 5 s)."""
EVENTS_PAGE = 500
LOCATION = "rm_pipeline"
CODE_SERVER_START_SECONDS = 120.0
IDLE_STOP_GRACE_SECONDS = 0.2
"""How long a code server whose runs have all finished may take to exit after SIGTERM: it then
holds nothing to finish, and its graceful exit took 2 s of every command."""
CODE_SERVER_SCRATCH = "rm-pipeline-code-"
"""How a code server's scratch directory (its socket and workspace file, in the system's
temporary directory: a socket's path must stay short) is named, before its command's process
id and creation time."""
POOLS = ("price_loads", "fx_loads")
"""The pools the definitions' steps take slots of (`defs/market/assets.py`)."""


class JobLaunchError(RuntimeError):
    """A job could not be launched (its definitions did not load, the instance is unusable)."""


class DagsterStorageError(RuntimeError):
    """Dagster's database cannot be used: unreachable, missing, or holding tables this role may
    not write (another warehouse's instance); the message names the setting to change."""


class SlotWaitTimeout(RuntimeError):
    """A run waited longer than RM_SLOT_WAIT_MINUTES for a pool slot another run holds."""


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


DAGSTER = (sys.executable, "-m", "dagster")
"""Dagster's command line, as a module of this environment's Python. The code server starts each
run's process with multiprocessing's spawn, which imports the server's main module again unless
it is a package's `__main__`: through the `dagster` script, every run first imported Dagster's
whole command line (0.5 s a run)."""


def log_path(settings: Settings) -> Path:
    """Where the Dagster processes a command starts write their output."""
    return settings.data_dir.resolve() / "logs" / "dagster.log"


class CodeServer:
    """The command's code server, started and not yet necessarily serving: `workspace()` waits
    until it serves, so what a command does meanwhile (migrating, preparing the instance) runs
    while the server loads the definitions."""

    def __init__(
        self, process: subprocess.Popen[bytes], socket: Path, workspace_file: Path, log: str
    ) -> None:
        self.process = process
        self.socket = socket
        self.workspace_file = workspace_file
        self.log = log
        self.stop_grace = STOP_GRACE_SECONDS
        """How long the server may take to exit after SIGTERM before it is killed."""

    def workspace(self) -> Path:
        """A workspace file naming the server, once it serves; `JobLaunchError` when it died or
        did not start in time."""
        deadline = time.monotonic() + CODE_SERVER_START_SECONDS
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise JobLaunchError(f"the code server did not start: see {self.log}")
            time.sleep(0.1)
        return self.workspace_file


def remove_abandoned_scratch(directory: Path | None = None) -> list[Path]:
    """Remove the scratch directories of code servers whose command is gone (a killed command
    has no chance to remove its own), as `scratch_owner` names it. Returns the directories
    removed."""
    removed = []
    for path in (directory or Path(tempfile.gettempdir())).glob(f"{CODE_SERVER_SCRATCH}*"):
        owner = scratch_owner(path.name)
        if owner is not None and owner.is_gone():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def scratch_prefix(owner: Launcher) -> str:
    """The start of the name of `owner`'s scratch directory: its pid and creation time."""
    return f"{CODE_SERVER_SCRATCH}{owner.pid}-{int(owner.created)}-"


def scratch_owner(name: str) -> Launcher | None:
    """The command on this host (the system's temporary directory is this host's) that made
    the scratch directory `name` (`scratch_prefix`), or None when the name does not say."""
    pid, _, rest = name.removeprefix(CODE_SERVER_SCRATCH).partition("-")
    created = rest.partition("-")[0]
    if not (name.startswith(CODE_SERVER_SCRATCH) and pid.isdigit() and created.isdigit()):
        return None
    return Launcher.here(int(pid), float(created))


@contextmanager
def code_server(output: IO[bytes]) -> Iterator[CodeServer]:
    """One code server for the runs launched inside the block, named as the workspace's
    `rm_pipeline` location.

    Launched against the packaged workspace, each `dagster job launch` would start a server of
    its own (loading the definitions again) and wait for it to stop after the run; against this
    one it returns once the run is created. The server and the run workers it starts (its
    process group) write to `output` and are stopped when the block ends, however it ends."""
    remove_abandoned_scratch()
    with tempfile.TemporaryDirectory(prefix=scratch_prefix(Launcher.this_process())) as scratch:
        socket, workspace = Path(scratch) / "grpc.sock", Path(scratch) / "workspace.yaml"
        entry = {"grpc_server": {"socket": str(socket), "location_name": LOCATION}}
        workspace.write_text(yaml.safe_dump({"load_from": [entry]}))
        target = ["--module-name", "rm_pipeline.definitions", "--attribute", "defs"]
        where = ["--location-name", LOCATION, "--socket", str(socket), "--log-level", "warning"]
        server = start_child([*DAGSTER, "api", "grpc", *target, *where], output)
        code = CodeServer(server, socket, workspace, output.name)
        try:
            yield code
        finally:
            with signals_ignored():
                stop_group(server, grace=code.stop_grace)


class RunSession:
    """Runs launched by one command through one code server, each followed to its end: its log
    lines shown as progress, a wait for a pool slot said out loud and bounded."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        server: CodeServer,
        output: IO[bytes],
        progress: Progress,
        slot_wait_seconds: float,
        alert_webhook: SecretStr | None = None,
    ) -> None:
        self.instance = instance
        self.server = server
        self.output = output
        self.progress = progress
        self.slot_wait_seconds = slot_wait_seconds
        self.alert_webhook = alert_webhook
        self.launcher = Launcher.this_process()
        self.launched: list[str] = []

    def launch(
        self, name: str, tags: Mapping[str, str] | None = None, steps: Sequence[str] = ()
    ) -> JobSummary:
        """Launch one run of job `name`, follow it to its end, summarize it. `steps` names the
        job's top-level steps (ops or graphs) to run, all when empty."""
        run_id = str(uuid.uuid4())
        all_tags = {
            **(tags or {}),
            LAUNCHER_TAG: self.launcher.tag(),
            ALERTED_BY_LAUNCHER_TAG: "true",
        }
        workspace = self.served_workspace()
        command = [*DAGSTER, "job", "launch", "-w", str(workspace), "-j", name]
        command += ["--run-id", run_id, "--config-json", json.dumps(CONSOLE_AT_INFO)]
        command += ["--tags", json.dumps(all_tags)]
        if steps:
            command += ["--op-selection", ",".join(steps)]
        self.launched.append(run_id)
        launch = start_child(command, self.output)
        try:
            returncode = launch.wait()
        finally:
            if launch.poll() is None:
                stop_group(launch)
        if returncode != 0 and self.instance.get_run_by_id(run_id) is None:
            raise JobLaunchError(
                f"`dagster job launch` could not start {name}: see {self.output.name}"
            )
        summary = JobSummary(job=name, success=False, run_id=run_id)
        run = self.follow(run_id, summary)
        if run.status == dg.DagsterRunStatus.FAILURE:
            self.alert_failure(run)
        summary.success = run.status == dg.DagsterRunStatus.SUCCESS
        return summary

    def served_workspace(self) -> Path:
        """The code server's workspace once it serves. A server that died because the database
        went away is reported as the database's loss (`DATABASE_UNREACHABLE`, from asking the
        instance for a run), not as the server's."""
        try:
            return self.server.workspace()
        except JobLaunchError:
            self.instance.get_run_records(limit=1)
            raise

    def alert_failure(self, run: dg.DagsterRun) -> None:
        """Post the failed run as the daemon's failed-run sensor would (it runs without one);
        the run's failure is already on screen, so only the delivery is said."""
        failures = self.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        reason = failures[-1].message if failures else "the run failed"
        message = failed_run_message(self.instance, run, reason)
        webhook = self.alert_webhook
        if webhook is not None and post_alert(webhook.get_secret_value(), message):
            self.progress(f"  the failure of run {run.run_id[:8]} was posted to the alert webhook")

    def follow(self, run_id: str, summary: JobSummary) -> dg.DagsterRun:
        """Wait for the run to finish, showing its log lines and folding its events into
        `summary` as they come (each read once: a 15-year range run has 7,828 materializations);
        `SlotWaitTimeout` when it waits for a pool slot longer than allowed."""
        cursor: str | None = None
        waiting_since: float | None = None
        polls = 0
        while True:
            polls += 1
            run = self.instance.get_run_by_id(run_id)
            if run is None:
                raise JobLaunchError(f"run {run_id} was not created: see {self.output.name}")
            cursor = self._read_new_events(run_id, cursor, summary)
            if run.status in FINISHED:
                return run
            if polls % WORKER_CHECK_POLLS == 0 and workers_gone(self.instance, run_id):
                end_run(self.instance, run, f"its run worker died: see {self.output.name}")
                continue
            waiting_since = self._check_slot_wait(run_id, waiting_since)
            time.sleep(POLL_SECONDS)

    def _read_new_events(self, run_id: str, cursor: str | None, summary: JobSummary) -> str | None:
        while True:
            page = self.instance.get_records_for_run(run_id, cursor, limit=EVENTS_PAGE)
            for record in page.records:
                add_event(summary, record.event_log_entry)
                if (line := progress_line(record.event_log_entry)) is not None:
                    self.progress(line)
            cursor = page.cursor
            if not page.has_more:
                return cursor

    def _check_slot_wait(self, run_id: str, since: float | None) -> float | None:
        """When the run waits for a pool slot: end runs whose launcher is gone (the holder may
        be one) and say once which runs hold the slots; give up after the allowed wait. Returns
        when the wait began, None while the run waits for nothing."""
        holders = slot_holders(self.instance, run_id)
        if not holders:
            return None
        if since is None:
            recover_abandoned_runs(self.instance, self.progress)
            self.progress(f"  waiting for a slot of pool {self._holding(holders)}")
            return time.monotonic()
        if time.monotonic() - since > self.slot_wait_seconds:
            raise SlotWaitTimeout(
                f"gave up after {self.slot_wait_seconds / 60:g} min (RM_SLOT_WAIT_MINUTES) "
                f"waiting for a slot of pool {self._holding(holders)}: let that run finish or "
                "cancel it in the Dagster UI, then run this again"
            )
        return since

    def _holding(self, holders: Mapping[str, Sequence[str]]) -> str:
        return "; ".join(
            f"{pool}, held by "
            + (", ".join(describe_run(self.instance, r) for r in runs) or "nobody")
            for pool, runs in holders.items()
        )

    def unfinished(self) -> list[dg.DagsterRun]:
        """This session's runs that have not finished."""
        runs = (self.instance.get_run_by_id(run_id) for run_id in self.launched)
        return [run for run in runs if run is not None and not run.is_finished]

    def request_cancel(self) -> list[str]:
        """Mark this session's unfinished runs as being canceled, so their workers, stopped
        next, end them canceled rather than failed; the runs' ids."""
        runs = self.unfinished()
        for run in runs:
            self.instance.report_run_canceling(run)
        return [run.run_id for run in runs]

    def finish_cancel(self, run_ids: Sequence[str], reason: str) -> list[str]:
        """Once their processes are stopped: end the runs still unfinished as canceled, free
        their slots; a line for each run."""
        lines = []
        for run_id in run_ids:
            stop_workers(self.instance, run_id)
            run = self.instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                self.instance.report_run_canceled(run, reason)
            self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            job = run.job_name if run is not None else "?"
            lines.append(f"run {run_id[:8]} of {job} canceled")
        return lines


def progress_line(entry: dg.EventLogEntry) -> str | None:
    """What a run's event shows as progress: the run's own log lines (INFO and up) and its step
    failures, one line each, after the step's name."""
    event = entry.dagster_event
    step = f"  {entry.step_key}: " if entry.step_key else "  "
    if event is None:
        level = entry.level if isinstance(entry.level, int) else logging.getLevelName(entry.level)
        if isinstance(level, int) and level >= logging.INFO and entry.user_message:
            return step + entry.user_message.strip().splitlines()[0]
        return None
    if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data:
        error = event.step_failure_data.error
        message = error_line(error.message, error.cls_name) if error else event.message or ""
        return step + "FAILED: " + message
    return None


@contextmanager
def run_session(settings: Settings, progress: Progress) -> Iterator[RunSession]:
    """The project's Dagster instance, runs of dead commands ended, pools set up, one code
    server, started first: it loads the definitions while the instance is prepared and while
    the block does what comes before its first launch (migrating the warehouse). When the block
    ends early (an error, Ctrl-C, SIGTERM) the session's unfinished runs are stopped and marked
    canceled, and an interruption becomes `Interrupted` saying so."""
    os.environ.update(dagster_environment(settings))
    log = log_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    canceling: list[str] = []
    session: RunSession | None = None
    try:
        with log.open("ab") as output, code_server(output) as server:
            check_dagster_storage(settings)
            instance = prepare_instance(settings, progress)
            session = RunSession(
                instance,
                server,
                output,
                progress,
                slot_wait_seconds=settings.slot_wait_minutes * 60,
                alert_webhook=settings.alert_webhook_url,
            )
            try:
                yield session
                if not session.unfinished():
                    server.stop_grace = IDLE_STOP_GRACE_SECONDS
            except DATABASE_UNREACHABLE:
                raise  # nothing to record the cancellation in: the next command ends the runs
            except BaseException:
                with signals_ignored():
                    canceling = _quietly(session.request_cancel)
                raise
    except BaseException as error:
        why = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        reason = f"the command that launched this run {why}"
        with signals_ignored():
            finish = partial(session.finish_cancel, canceling, reason) if session else None
            canceled = _quietly(finish) if finish and canceling else []
        if isinstance(error, KeyboardInterrupt):
            raise Interrupted(interrupted_line(canceled)) from None
        raise


def _quietly(action: Callable[[], list[str]]) -> list[str]:
    """`action()`, or nothing when the database is unreachable (the next command's
    `recover_abandoned_runs` then ends the runs)."""
    try:
        return action()
    except Exception:
        return []


def interrupted_line(canceled: Sequence[str]) -> str:
    what = "; ".join(canceled) if canceled else "no run was in progress"
    return (
        f"interrupted: {what}. Batches already committed are whole and kept; the next "
        "`rm-pipeline run` (or backfill) loads the rest"
    )


def prepare_instance(settings: Settings, progress: Progress) -> dg.DagsterInstance:
    """The project's instance, with runs whose command is gone ended and the pools' limits
    created, one command at a time: two first runs at once would both create Dagster's tables
    and the pools' limits, and one of them fail."""
    with instance_lock(settings):
        instance = prepare_dagster(settings)
        recover_abandoned_runs(instance, progress)
        known = {limit.name for limit in instance.event_log_storage.get_pool_limits()}
        for pool in POOLS:
            if pool not in known:
                instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
    return instance


@contextmanager
def instance_lock(settings: Settings) -> Iterator[None]:
    """An advisory lock on Dagster's database, held by one command at a time."""
    with psycopg.connect(dagster_url(settings), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('rm-pipeline instance'))")
        yield


FOREIGN_DAGSTER_TABLES = """
    SELECT c.relname, pg_get_userbyid(c.relowner) AS owner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
      AND c.relname IN ('runs', 'event_logs', 'kvs', 'instance_info', 'concurrency_limits')
      AND NOT (has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'UPDATE'))
    ORDER BY 1
"""
"""Dagster's own tables this role may not write: the database belongs to another instance."""


def check_dagster_storage(settings: Settings) -> None:
    """Refuse, in one line and before Dagster retries for seconds, a Dagster database that is
    unreachable, missing, or another role's."""
    where = (
        "DAGSTER_PG_URL"
        if settings.dagster_database_url
        else "Dagster's database beside the warehouse (DAGSTER_PG_URL names another)"
    )
    try:
        with psycopg.connect(dagster_url(settings), connect_timeout=10) as conn:
            foreign = conn.execute(FOREIGN_DAGSTER_TABLES).fetchall()
            role = conn.info.user
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        raise DagsterStorageError(f"{where}: cannot connect: {reason}") from error
    if foreign:
        tables = ", ".join(table for table, _ in foreign)
        owners = ", ".join(sorted({owner for _, owner in foreign}))
        raise DagsterStorageError(
            f"{where}: role {role} may not write Dagster's tables there ({tables}, owned by "
            f"{owners}): it holds another instance; point DAGSTER_PG_URL at a database of "
            "this warehouse's own"
        )
