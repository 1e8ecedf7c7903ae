"""What a command checks and shows around its runs: Dagster's database refused in one line when it
is missing or another instance's, a run's events turned into progress lines, launcher tags read
back. The runs themselves, faulted, are in faults/test_operations.py."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded
from rm_pipeline.defs.alerting import error_line
from rm_pipeline.launch import (
    CODE_SERVER_SCRATCH,
    CodeServer,
    DagsterStorageError,
    JobLaunchError,
    RunSession,
    check_dagster_storage,
    code_server,
    progress_line,
    remove_abandoned_scratch,
    scratch_owner,
)
from rm_pipeline.processes import this_process_created
from rm_pipeline.recovery import LAUNCHER_TAG, Launcher
from rm_pipeline.settings import Settings
from rm_pipeline_tests.conftest import create_database, drop_database


def settings_with_dagster_at(url: str) -> Settings:
    return Settings.model_validate({"DAGSTER_PG_URL": url})


@pytest.fixture
def foreign_dagster_database(server_url: str, owned_database: str) -> str:
    """A Dagster database its role owns but whose `kvs` table another role (the superuser) owns,
    as when it holds another warehouse's instance; the URL of the database's role."""
    name = make_url(owned_database).database
    assert name is not None
    with psycopg.connect(embedded.database_uri(server_url, name), autocommit=True) as conn:
        conn.execute("CREATE TABLE kvs (key text PRIMARY KEY, value text)")
    return owned_database


def test_a_dagster_database_of_another_instance_is_refused_naming_its_tables(
    foreign_dagster_database: str,
) -> None:
    with pytest.raises(DagsterStorageError) as refused:
        check_dagster_storage(settings_with_dagster_at(foreign_dagster_database))
    message = str(refused.value)
    assert message.startswith("DAGSTER_PG_URL: role rm_owner_")
    assert "may not write Dagster's tables there (kvs, owned by postgres)" in message
    assert "point DAGSTER_PG_URL at a database of this warehouse's own" in message


def test_a_missing_dagster_database_is_refused_in_one_line(server_url: str) -> None:
    missing = make_url(create_database(server_url, "rm_gone"))
    drop_database(server_url, missing.render_as_string(hide_password=False))
    with pytest.raises(DagsterStorageError) as refused:
        check_dagster_storage(
            settings_with_dagster_at(missing.render_as_string(hide_password=False))
        )
    message = str(refused.value)
    assert message.startswith("DAGSTER_PG_URL: cannot connect: ")
    assert f'database "{missing.database}" does not exist' in message and "\n" not in message


def test_a_usable_dagster_database_passes(server_url: str) -> None:
    url = create_database(server_url, "rm_dagster")
    try:
        check_dagster_storage(settings_with_dagster_at(url))
    finally:
        drop_database(server_url, url)


def test_a_code_server_that_died_with_the_database_up_is_said_to_have_died(
    tmp_path: Path,
) -> None:
    """Only a database that cannot be reached turns a dead code server into the database's loss
    (the faults tests kill the server); otherwise the server's log is named."""
    exited = subprocess.Popen(["true"])
    exited.wait()
    log = str(tmp_path / "dagster.log")
    server = CodeServer(exited, tmp_path / "grpc.sock", tmp_path / "workspace.yaml", log)
    with dg.DagsterInstance.ephemeral() as instance, open(log, "wb") as output:
        session = RunSession(instance, server, output, progress=print, slot_wait_seconds=60)
        with pytest.raises(JobLaunchError, match=f"the code server did not start: see {log}"):
            session.launch("refresh_securities")
    assert session.launched == []


def test_the_scratch_of_a_killed_command_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    """A code server's scratch directory outlives a killed command; the next command removes
    it, but not that of a command still running, nor a directory whose name says no owner."""
    created = int(this_process_created())
    killed = tmp_path / f"{CODE_SERVER_SCRATCH}{os.getpid()}-{created - 3600}-a1"  # pid reused
    running = tmp_path / f"{CODE_SERVER_SCRATCH}{os.getpid()}-{created}-b2"
    unnamed = tmp_path / f"{CODE_SERVER_SCRATCH}c3"
    for scratch in (killed, running, unnamed):
        scratch.mkdir()
        (scratch / "workspace.yaml").write_text("load_from: []\n")
    assert remove_abandoned_scratch(tmp_path) == [killed]
    assert sorted(tmp_path.iterdir()) == sorted([running, unnamed])


def test_a_code_servers_scratch_is_named_after_its_command(tmp_path: Path) -> None:
    with open(tmp_path / "dagster.log", "wb") as output, code_server(output) as server:
        owner = scratch_owner(server.workspace_file.parent.name)
    assert owner is not None and owner.pid == os.getpid()
    assert not owner.is_gone()


def entry(message: str = "", event: dg.DagsterEvent | None = None) -> dg.EventLogEntry:
    return dg.EventLogEntry(
        error_info=None,
        level=logging.INFO,
        user_message=message,
        run_id="r",
        timestamp=0.0,
        step_key="price_history.load_batches[share_1]",
        dagster_event=event,
    )


def test_a_runs_own_log_line_is_progress_after_its_step() -> None:
    line = progress_line(entry("batch 1/4: 12 tickers\nsecond line"))
    assert line == "  price_history.load_batches[share_1]: batch 1/4: 12 tickers"
    debug = entry("detail")._replace(level=logging.DEBUG)
    assert progress_line(debug) is None


def test_an_error_line_drops_the_class_path_dagster_puts_first() -> None:
    failure = "dagster._core.definitions.events.Failure: yfinance unreachable: refused\nmore"
    assert error_line(failure, "Failure") == "yfinance unreachable: refused"
    assert error_line("psycopg.OperationalError: gone", "Failure") == (
        "psycopg.OperationalError: gone"
    )
    assert error_line("", None) == "failed"


def test_a_launcher_tag_reads_back_and_a_dead_launcher_is_gone() -> None:
    this = Launcher.this_process()
    run = dg.DagsterRun(job_name="j", tags={LAUNCHER_TAG: this.tag()})
    assert Launcher.of(run) == Launcher(this.host, this.pid, round(this.created, 3))
    assert not this.is_gone()
    assert Launcher(this.host, os.getpid(), this.created - 3600).is_gone()  # pid now reused
    assert not Launcher("another-host", 1, 0.0).is_gone()  # another machine's: not ours to end
    assert Launcher.of(dg.DagsterRun(job_name="j")) is None
