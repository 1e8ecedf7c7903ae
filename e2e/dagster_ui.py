"""The project's Dagster UI as `make e2e` serves it: `rm-pipeline dev` on a free port, in a
throwaway directory with its own data directory (embedded PostgreSQL, Dagster's home), and the few
GraphQL calls that set it up and observe it.

The server runs in the throwaway directory, so neither the project's nor Dagster's reading of a
`.env` file there can point it at the developer's database; its environment drops every setting
of the project and of Dagster the developer may have exported.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rm_pipeline.db import embedded
from rm_pipeline.db.engine import get_engine
from rm_pipeline.demo import seed_demo, seed_demo_trades
from rm_pipeline.settings import Settings

RM_PIPELINE = Path(sys.executable).parent / "rm-pipeline"
LOCATION = "rm_pipeline"
REPOSITORY = "__repository__"
"""The repository name Dagster gives a code location's single `Definitions`."""
STARTUP_SECONDS = 120.0
STOP_SECONDS = 30.0
POLL_SECONDS = 0.5
FINISHED_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}

LOCATION_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""
LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""
RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""
SHOWS_WELCOME = "query { shouldShowNux }"
"""Whether the UI opens with its one-time "Join the Dagster community" dialog."""


class DagsterUIError(RuntimeError):
    """The server did not start, did not load the code location, or refused a request."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(data_dir: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment less every project (`RM_*`, `DATABASE_URL`) and Dagster
    (`DAGSTER_*`) variable, plus `settings` and the throwaway data directory."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RM_", "DAGSTER_")) and name != "DATABASE_URL"
    }
    return {**inherited, **settings, "RM_DATA_DIR": str(data_dir)}


@dataclass(frozen=True)
class DagsterUI:
    """A running `rm-pipeline dev`: its address and its data directory."""

    url: str
    data_dir: Path

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.load(response)
        if answer.get("errors"):
            raise DagsterUIError(f"GraphQL errors: {answer['errors']}")
        data: dict[str, Any] = answer["data"]
        return data

    def location_loaded(self) -> bool:
        """True once the code location is loaded; raises when it failed to load."""
        entries = self.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        entry = next((entry for entry in entries if entry["name"] == LOCATION), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return False
        location = entry["locationOrLoadError"]
        if location["__typename"] == "PythonError":
            raise DagsterUIError(f"code location {LOCATION} failed to load: {location['message']}")
        return True

    def launch_run(self, job: str, tags: Mapping[str, str]) -> str:
        """Launch a run of `job` with `tags`, as the launchpad does; returns its id."""
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": job,
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = self.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise DagsterUIError(f"{job} not launched: {result.get('message', result)}")
        run_id: str = result["run"]["runId"]
        return run_id

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        """The run's final status (SUCCESS, FAILURE or CANCELED)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status: str = self.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
            if status in FINISHED_RUN_STATUSES:
                return status
            time.sleep(POLL_SECONDS)
        raise DagsterUIError(f"run {run_id} still not finished after {timeout:.0f} s")

    def shows_welcome(self) -> bool:
        return bool(self.graphql(SHOWS_WELCOME)["shouldShowNux"])

    def warehouse_uri(self) -> str:
        """The libpq URI of the server's warehouse (its embedded PostgreSQL, already running)."""
        server = embedded.start(Settings(data_dir=self.data_dir).pgdata_dir)
        return embedded.database_uri(server, embedded.WAREHOUSE_DATABASE)

    def seed_demo(self) -> None:
        """The demo users, portfolios (their holdings synced) and trades in the server's
        warehouse, as `rm-pipeline run` seeds them; the securities must be loaded already."""
        engine = get_engine(self.warehouse_uri())
        with engine.begin() as conn:
            seed_demo(conn)
        seed_demo_trades(engine)


@contextmanager
def running_dagster_ui(
    workdir: Path, settings: Mapping[str, str], log: TextIO
) -> Iterator[DagsterUI]:
    """`rm-pipeline dev` in `workdir` with `settings`, its output to `log`, until the code location
    is loaded; afterwards its whole process group (`dagster dev` spawns the webserver, the daemon,
    a code server and run workers) and its embedded PostgreSQL are stopped."""
    data_dir = workdir / "data"
    port = free_port()
    process = subprocess.Popen(
        [str(RM_PIPELINE), "dev", "--port", str(port)],
        cwd=workdir,
        env=server_environment(data_dir, settings),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ui = DagsterUI(url=f"http://127.0.0.1:{port}", data_dir=data_dir)
        wait_until_loaded(ui, process)
        yield ui
    finally:
        stop_process_group(process)
        embedded.stop(Settings(data_dir=data_dir).pgdata_dir)


def wait_until_loaded(ui: DagsterUI, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DagsterUIError(f"rm-pipeline dev exited with {process.returncode}: see its log")
        with suppress(urllib.error.URLError, ConnectionError):
            if ui.location_loaded():
                return
        time.sleep(POLL_SECONDS)
    raise DagsterUIError(f"the UI did not load {LOCATION} within {STARTUP_SECONDS:.0f} s")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group (`dagster dev` then stops its services), SIGKILL to whatever is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
