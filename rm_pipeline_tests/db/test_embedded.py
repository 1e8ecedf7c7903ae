"""The embedded server: two processes starting it at once share one working server; stop works;
`rm_analyst` reaches the warehouse only, on a new data directory and on one an older version
wrote; a database kept to its owner lets no one else in; the server gets its buffer cache without
cutting off a process using it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded
from rm_pipeline.db.engine import ensure_dagster_database

START_AND_PRINT_URL = "from rm_pipeline.db.engine import warehouse_url; print(warehouse_url())"


def test_two_processes_starting_it_at_once_get_the_same_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RM_DATA_DIR"] = str(tmp_path / "state")
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", START_AND_PRINT_URL],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [starter.communicate(timeout=120) for starter in starters]
    pgdata = tmp_path / "state" / "pgdata"
    try:
        assert [starter.returncode for starter in starters] == [0, 0], outputs
        urls = {out.strip().splitlines()[-1] for out, _ in outputs}
        assert len(urls) == 1
        [url] = urls
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("rm_pipeline",)
        assert embedded.status(pgdata).running
    finally:
        assert embedded.stop(pgdata)
    assert not embedded.status(pgdata).running
    assert not embedded.stop(pgdata)


OLDER_HBA = "local all all scram-sha-256\n"
"""What an older version wrote: passwords, and every database open to every role."""


def analyst_refusal(server_uri: str, pgdata: Path, database: str) -> str:
    """Why the server refuses rm_analyst, logging in to `database` with its password file; empty
    when it lets the role in."""
    passfile = embedded.password_file(pgdata, embedded.ANALYST)
    url = make_url(embedded.database_uri(server_uri, database)).set(username=embedded.ANALYST)
    url = url.update_query_dict({"passfile": str(passfile)})
    try:
        psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=5).close()
    except psycopg.OperationalError as refused:
        return str(refused)
    return ""


HBA_REFUSES = "pg_hba.conf rejects connection"
NOT_GRANTED = "permission denied for database"


def test_the_analyst_reaches_only_the_warehouse_also_on_an_older_data_directory(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    server_uri = embedded.start(pgdata)
    try:
        embedded.ensure_database(server_uri, embedded.WAREHOUSE_DATABASE)
        ensure_dagster_database(server_uri)
        assert analyst_refusal(server_uri, pgdata, embedded.WAREHOUSE_DATABASE) == ""
        for database in ("postgres", "template1", embedded.DAGSTER_DATABASE):
            assert HBA_REFUSES in analyst_refusal(server_uri, pgdata, database)

        (pgdata / "pg_hba.conf").write_text(OLDER_HBA)
        embedded.reload_configuration(server_uri)
        assert analyst_refusal(server_uri, pgdata, "postgres") == ""
        assert NOT_GRANTED in analyst_refusal(server_uri, pgdata, embedded.DAGSTER_DATABASE)

        assert embedded.start(pgdata) == server_uri
        assert (pgdata / "pg_hba.conf").read_text() == embedded.HBA
        assert HBA_REFUSES in analyst_refusal(server_uri, pgdata, "postgres")
        assert analyst_refusal(server_uri, pgdata, embedded.WAREHOUSE_DATABASE) == ""
    finally:
        assert embedded.stop(pgdata)


DATABASE_ACCESS = """
SELECT datacl,
       has_database_privilege('rm_analyst', datname, 'CONNECT'),
       has_database_privilege(datdba, datname, 'CONNECT')
FROM pg_database WHERE datname = %s
"""


def database_access(url: str, name: str) -> tuple[object, ...]:
    """`name`'s ACL, and whether rm_analyst and the owner may connect to it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(DATABASE_ACCESS, (name,)).fetchone()
    assert row is not None
    return tuple(row)


def test_a_database_kept_to_its_owner_lets_no_other_role_connect(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    name = url.partition("?")[0].rsplit("/", 1)[1]
    assert database_access(url, name)[1:] == (True, True)  # PUBLIC's CONNECT: every role's

    embedded.keep_to_owner(url, name)
    kept = database_access(url, name)
    assert kept[1:] == (False, True)

    embedded.keep_to_owner(url, name)
    assert database_access(url, name) == kept


def shared_buffers_mb(uri: str) -> int:
    with psycopg.connect(uri) as conn:
        row = conn.execute(
            "SELECT pg_size_bytes(current_setting('shared_buffers')) / 1048576"
        ).fetchone()
    assert row is not None
    return int(row[0])


START_IN_ANOTHER_PROCESS = (
    "import sys; from pathlib import Path; from rm_pipeline.db import embedded; "
    "embedded.start(Path(sys.argv[1]), keep_running=sys.argv[2] == 'keep')"
)


def start_in_another_process(pgdata: Path, *, keep_running: bool = True) -> None:
    """Start the server as a command does, in a process of its own: left running after it, or
    (`keep_running=False`, as the tests start theirs) stopped when that process exits."""
    started = subprocess.run(
        [
            sys.executable,
            "-c",
            START_IN_ANOTHER_PROCESS,
            str(pgdata),
            "keep" if keep_running else "stop",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr


def test_a_new_server_gets_its_buffer_cache_a_running_one_at_its_next_start(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    uri = embedded.start(pgdata)
    try:
        assert shared_buffers_mb(uri) == embedded.shared_buffers_mb() > 128
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET shared_buffers = '128MB'")
        embedded.stop(pgdata)
        start_in_another_process(pgdata)
        with psycopg.connect(uri) as client:
            assert shared_buffers_mb(uri) == 128
            start_in_another_process(pgdata)
            assert client.execute("SELECT 1").fetchone() == (1,)
            assert shared_buffers_mb(uri) == 128
        embedded.stop(pgdata)
        start_in_another_process(pgdata)
        assert shared_buffers_mb(uri) == embedded.shared_buffers_mb()
    finally:
        embedded.stop(pgdata)


def test_a_server_restarted_for_its_buffer_cache_still_stops_with_its_last_user(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    start_in_another_process(pgdata, keep_running=False)
    running = embedded.status(pgdata).running
    if running:
        embedded.stop(pgdata)
    assert not running
