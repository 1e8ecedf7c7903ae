"""The processes a command starts, and how it stops them: on success, on error, on Ctrl-C and
on SIGTERM.

Each child starts in a process group of its own, so a Ctrl-C at the terminal reaches only the
command, which then stops its children in order instead of every process printing its own
traceback; everything a child starts in turn (a code server's run workers) shares the child's
group and is stopped with it. A child also dies with the command (Linux's parent-death signal),
so a command killed outright leaves no code server behind; a run worker left by such a kill is
found and stopped by the next command (`rm_pipeline.recovery`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO

import psutil

STOP_GRACE_SECONDS = 3.0
"""How long a stopped group may take to exit after SIGTERM before it is killed."""
PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop (SIGINT, SIGTERM or SIGHUP); the message says what was
    stopped when the command knows (`launch.run_session`), else the signal's name."""


_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)
"""Loaded here, in the parent: a child between fork and exec must not load libraries."""


def _die_with_parent() -> None:
    """In the child, before it runs: be killed when the process that started it dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_child(command: Sequence[str], output: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """Start `command` in a process group of its own that dies with this process; its output
    goes to `output` (this process's when None)."""
    return subprocess.Popen(
        list(command),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop_group(child: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop `child` and everything in its process group: SIGTERM, then SIGKILL for whatever is
    left after `grace` seconds (a Dagster run worker defers SIGTERM until its step ends)."""
    members = group_members(child.pid)
    _signal_group(child.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(members, timeout=grace)
    if alive:
        _signal_group(child.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=grace)
    child.wait()


def group_members(group: int) -> list[psutil.Process]:
    """The live processes of process group `group`."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except (ProcessLookupError, PermissionError):
        return


def live_process(pid: int, created_by: float) -> psutil.Process | None:
    """Process `pid` when it is alive and was created by `created_by` (seconds since the epoch,
    a second's slack for clocks): the process that reported that pid then, never a later one
    given the same pid."""
    try:
        process = psutil.Process(pid)
        if process.create_time() > created_by + 1.0 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def kill(process: psutil.Process) -> None:
    """Kill `process` and wait until it is gone."""
    try:
        process.kill()
        psutil.wait_procs([process], timeout=STOP_GRACE_SECONDS)
    except psutil.Error:
        return


def this_process_created() -> float:
    """When this process was created, as `live_process` compares it."""
    return psutil.Process().create_time()


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP interrupt the block alike (`Interrupted`, a KeyboardInterrupt),
    so `finally` blocks stop the children whichever way the command is asked to stop."""
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore SIGINT, SIGTERM and SIGHUP while the block cleans up, so a second Ctrl-C cannot
    cut the clean-up short."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
