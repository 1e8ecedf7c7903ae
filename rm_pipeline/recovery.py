"""Runs that outlived the command that launched them, found and ended before anything new starts.

Every run `rm-pipeline` launches carries a tag naming its launcher: this host, the command's pid
and when that process was created. A run is the command's for as long as the command lives: when
a later command finds a run unfinished whose launcher is gone (killed, crashed, its machine
restarted), it stops the run's worker if one is still running here, marks the run failed and
frees the pool slots the run held, so nothing waits on a run that will never end. Dagster's own
run monitoring does the same for runs launched by its daemon (`make dev`, deployments); runs
launched on other machines or by the daemon are left to it and are only named when they hold a
slot a new run waits for.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from rm_pipeline.processes import kill, live_process, this_process_created

LAUNCHER_TAG = "rm/launcher"
"""`host:pid:created` of the command that launched the run."""
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Launcher:
    """The process that launched a run."""

    host: str
    pid: int
    created: float

    def tag(self) -> str:
        return f"{self.host}:{self.pid}:{self.created:.3f}"

    @classmethod
    def here(cls, pid: int, created: float) -> Launcher:
        """Process `pid`, created at `created` (seconds since the epoch), on this host."""
        return cls(socket.gethostname(), pid, created)

    @classmethod
    def this_process(cls) -> Launcher:
        return cls.here(os.getpid(), this_process_created())

    @classmethod
    def of(cls, run: dg.DagsterRun) -> Launcher | None:
        """The launcher a run's tag names; None for runs launched otherwise."""
        host_and_pid, _, created = run.tags.get(LAUNCHER_TAG, "").rpartition(":")
        host, _, pid = host_and_pid.rpartition(":")
        try:
            return cls(host, int(pid), float(created))
        except ValueError:
            return None

    def is_gone(self) -> bool:
        """True when this launcher ran on this host and its process no longer runs."""
        return self.host == socket.gethostname() and live_process(self.pid, self.created) is None

    def describe(self) -> str:
        return f"rm-pipeline pid {self.pid} on {self.host}"


def worker_pids(instance: dg.DagsterInstance, run_id: str) -> list[tuple[int, float]]:
    """The processes a run reported running in (its run worker, step processes): each pid with
    the time it reported itself, from the run's engine events."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = str(data.metadata["pid"].value) if data and "pid" in data.metadata else ""
        if pid.isdigit():  # Dagster records the pid as text
            found.append((int(pid), entry.timestamp))
    return found


def workers_gone(instance: dg.DagsterInstance, run_id: str) -> bool:
    """True when the run reported the processes it runs in and none of them is alive here: a
    run worker killed or crashed, which can no longer end its run."""
    reported = worker_pids(instance, run_id)
    return bool(reported) and all(live_process(pid, at) is None for pid, at in reported)


def stop_workers(instance: dg.DagsterInstance, run_id: str) -> int:
    """Kill whatever processes of the run still run on this host; how many were killed."""
    killed = 0
    for pid, reported in worker_pids(instance, run_id):
        if (process := live_process(pid, reported)) is not None:
            kill(process)
            killed += 1
    return killed


def end_run(instance: dg.DagsterInstance, run: dg.DagsterRun, message: str) -> None:
    """Mark an unfinished run ended (canceled when it was being canceled, failed otherwise) and
    free the pool slots it held."""
    current = instance.get_run_by_id(run.run_id)
    if current is not None and current.status in UNFINISHED:
        if current.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message)
        else:
            instance.report_run_failed(current, message)
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def recover_abandoned_runs(instance: dg.DagsterInstance, say: Say) -> list[str]:
    """End every unfinished run whose launching command is gone, stopping its leftover workers,
    and free slots still held by finished runs; says one line per run ended, returns their ids."""
    ended = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        launcher = Launcher.of(run)
        if launcher is None or not launcher.is_gone():
            continue
        killed = stop_workers(instance, run.run_id)
        end_run(
            instance,
            run,
            f"{launcher.describe()}, which launched this run, ended without finishing it"
            + (f"; its {killed} leftover process(es) were stopped" if killed else ""),
        )
        say(
            f"recovered: run {run.run_id[:8]} of {run.job_name}, left unfinished by "
            f"{launcher.describe()} (gone), marked failed and its pool slots freed"
        )
        ended.append(run.run_id)
    free_slots_of_finished_runs(instance)
    return ended


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> None:
    """Free the pool slots of runs that finished without giving them back (a worker killed after
    its run was marked ended)."""
    holders = instance.event_log_storage.get_concurrency_run_ids()
    if not holders:
        return
    for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(holders))):
        if record.dagster_run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(record.dagster_run.run_id)


def slot_holders(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """For each pool in which run `run_id` has a step waiting for a slot, the runs holding the
    pool's slots."""
    waiting: dict[str, list[str]] = {}
    storage = instance.event_log_storage
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        if run_id in info.pending_run_ids:
            waiting[pool] = sorted(info.active_run_ids - {run_id})
    return waiting


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """A run in a few words: id, job, who launched it and its status."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id[:8]} (deleted)"
    launcher = Launcher.of(run)
    origin = launcher.describe() if launcher else "the Dagster UI, a schedule or a sensor"
    return f"run {run_id[:8]} of {run.job_name} ({run.status.value}, launched by {origin})"
