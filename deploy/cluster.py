"""`make cluster`: a real Celery cluster on this machine, doing what docs/DEPLOYMENT.md's Celery
section tells an operator to do, and proving that the steps of a run execute on its workers and
load the same warehouse as the in-process executor.

Why: the Celery and Kubernetes executors are otherwise only validated (their definitions load,
their documented run configs fit the jobs' schema); this runs steps on Celery workers end to end.

What it does, in a scratch directory of its own (the user's `.rm_pipeline/`, `.env` and
warehouse are never read nor touched):

1. a PostgreSQL server: the embedded one under the scratch directory, or, when DATABASE_URL is
   set, that URL's server, on which it creates (and in the end drops) databases of its own:
   `rm_cluster_celery` and `rm_cluster_in_process`, the two warehouses, and `rm_cluster_dagster`,
   Dagster's storage (its role needs CREATEDB);
2. Redis on 127.0.0.1 on a free port (`redis-server`, Debian's package), without persistence;
3. two Celery workers, `dagster-celery worker start -A dagster_celery.app -y celery.yaml -n
   rm-worker-N`, with `RM_EXECUTOR=celery` and the run workers' environment
   (`rm_pipeline.launch.dagster_environment`: the same DAGSTER_HOME, so the same storage
   directory for the steps' outputs);
4. with `RM_EXECUTOR=celery` and `RM_CELERY_BROKER` / `RM_CELERY_BACKEND` naming that Redis: the
   securities master (a universe file of `--securities` tickers the synthetic provider serves),
   then `rm-pipeline backfill` of the last `--years` years; then a table of which worker ran
   which step, read from Dagster's event log (each step a worker runs records the worker's
   name); it fails when a step ran elsewhere or a worker ran none;
5. the same two loads with `RM_EXECUTOR=in_process` into the second warehouse, and a row for row
   comparison of the two warehouses' `securities` (market columns), `price_history`, `fx_rates`
   and `corporate_actions`, without ids and timestamps: equal, or it fails naming the first
   difference.

Everything it started (workers, Redis, the embedded server) is stopped on success, on an error,
and on Ctrl-C or SIGTERM, and the scratch directory removed (kept with `--keep`, for its logs).
The last line says what ran, e.g. `cluster: 2 workers ran 9 steps of a 100 x 3-year backfill
(80,208 bars); the warehouse equals the in-process load's`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import dagster as dg
import psycopg
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded, migrate
from rm_pipeline.db.engine import to_libpq_url
from rm_pipeline.defs.partitions import partitions_today
from rm_pipeline.launch import dagster_environment, prepare_dagster, run_session
from rm_pipeline.processes import interruptible, signals_ignored, start_child, stop_group
from rm_pipeline.providers.universe import default_tickers
from rm_pipeline.settings import Settings, get_settings

BIN = Path(sys.executable).parent
WORKERS = ("rm-worker-1", "rm-worker-2")
DATABASES = {"celery": "rm_cluster_celery", "in_process": "rm_cluster_in_process"}
"""The two warehouses, by the executor that loads each."""
DAGSTER_DATABASE = "rm_cluster_dagster"
START_SECONDS = 180.0
"""How long Redis or a worker may take to be ready."""
BACKFILL_STOP_SECONDS = 60.0
"""How long an interrupted backfill may take to cancel its runs and stop its processes."""
WORKER_STOP_SECONDS = 15.0
"""How long a worker may take for its warm shutdown before it is killed."""
CELERY_WORKER_KEY = "Celery worker"
"""The metadata entry of the engine event that dagster-celery records for each step it runs."""
COMPARED_TABLES = ("securities", "price_history", "fx_rates", "corporate_actions")
SKIPPED_TYPES = ("uuid", "timestamp without time zone", "timestamp with time zone")
"""Column types left out of the comparison: ids (UUIDs) and the times rows were written."""
SKIPPED_COLUMNS = frozenset({"id"})
SECURITY_KEY = ("ticker", "exchange")
"""What names a security in both warehouses, in place of its id."""
INHERITED_PREFIXES = ("RM_", "DAGSTER_", "DATABASE_URL")
"""Variables of the caller's environment the scratch processes do not inherit: they get the
scratch directory's settings alone."""


class ClusterError(RuntimeError):
    """What went wrong, in one line (the logs under the scratch directory say more)."""


@dataclass
class Cluster:
    """The scratch directory and everything started in it, stopped by `stop` in reverse order."""

    scratch: Path
    server_uri: str = ""
    external: bool = False
    children: list[tuple[str, subprocess.Popen[bytes], float]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def pgdata(self) -> Path:
        return self.scratch / "pgdata"

    def log(self, name: str) -> IO[bytes]:
        (self.scratch / "logs").mkdir(parents=True, exist_ok=True)
        output = (self.scratch / "logs" / name).open("ab")
        self.logs.append(output)
        return output

    def start(
        self, name: str, command: Sequence[str], env: Mapping[str, str], grace: float
    ) -> subprocess.Popen[bytes]:
        """Start `command` in a process group of its own (stopped with `stop`), its output in
        `logs/<name>.log`."""
        with _environment(env):
            child = start_child(command, self.log(f"{name}.log"))
        self.children.append((name, child, grace))
        return child

    def stop_child(self, child: subprocess.Popen[bytes]) -> None:
        for entry in [e for e in self.children if e[1] is child]:
            self.children.remove(entry)
            stop_group(child, grace=entry[2])

    def stop(self) -> list[str]:
        """Stop every child (newest first), then the database server or the databases it made;
        what was stopped, one phrase each."""
        stopped = []
        while self.children:
            name, child, grace = self.children.pop()
            if child.poll() is None:
                stopped.append(name)
            stop_group(child, grace=grace)
        if self.server_uri and self.external:
            drop_databases(self.server_uri)
            stopped.append("its databases (dropped)")
        elif embedded.status(self.pgdata).running:
            embedded.stop(self.pgdata)
            stopped.append("the embedded PostgreSQL")
        for output in self.logs:
            output.close()
        return stopped


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` as this process's environment inside the block (children inherit it; settings are
    read from it), the previous one restored afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def say(line: str) -> None:
    print(line, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_environment(scratch: Path) -> dict[str, str]:
    """The caller's environment without its rm-pipeline, Dagster and database settings, with
    this environment's executables first on PATH (dagster-celery starts `celery` from PATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["RM_DATA_DIR"] = str(scratch / "data")
    env["RM_PROVIDER"] = "synthetic"
    env["RM_UNIVERSE_FILE"] = str(scratch / "universe.yaml")
    env["RM_INGEST_BATCH_SIZE"] = "50"  # 4 batches of 100 x 3 years: two load steps to deal out
    return env


def database_url(server_uri: str, database: str) -> str:
    return embedded.database_uri(server_uri, database)


def prepare_databases(cluster: Cluster) -> None:
    """The server (embedded, or DATABASE_URL's) and fresh databases of the cluster's own on it."""
    given = os.environ.get("DATABASE_URL") or os.environ.get("RM_DATABASE_URL")
    if given:
        url = make_url(to_libpq_url(given)).set(database="postgres")
        cluster.server_uri = url.render_as_string(hide_password=False)
        cluster.external = True
        say(
            f"database: the server of DATABASE_URL, databases {', '.join(DATABASES.values())} and {DAGSTER_DATABASE}"
        )
    else:
        cluster.server_uri = embedded.start(cluster.pgdata, keep_running=True)
        say(f"database: embedded PostgreSQL under {cluster.pgdata}")
    drop_databases(cluster.server_uri)
    with psycopg.connect(cluster.server_uri, autocommit=True) as conn:
        for name in (*DATABASES.values(), DAGSTER_DATABASE):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_databases(server_uri: str) -> None:
    with psycopg.connect(server_uri, autocommit=True) as conn:
        for name in (*DATABASES.values(), DAGSTER_DATABASE):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def write_universe(path: Path, securities: int) -> None:
    """The synthetic provider's default tickers (listings in several currencies), topped up with
    made-up US symbols it generates history for."""
    tickers = default_tickers()[:securities]
    tickers += [f"ZC{number:04d}" for number in range(securities - len(tickers))]
    path.write_text("securities:\n" + "".join(f"  - {ticker}\n" for ticker in tickers))


def start_redis(cluster: Cluster, env: Mapping[str, str]) -> int:
    """Redis on loopback, on a free port, in a directory of its own, saving nothing."""
    directory = cluster.scratch / "redis"
    directory.mkdir()
    server = shutil.which("redis-server")
    if server is None:
        raise ClusterError("redis-server is not installed: apt-get install redis-server")
    for _attempt in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        command = [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        child = cluster.start("redis", command, env, grace=5.0)
        deadline = time.monotonic() + START_SECONDS
        while child.poll() is None and time.monotonic() < deadline:
            if redis_answers(port):
                return port
            time.sleep(0.1)
        cluster.stop_child(child)
    raise ClusterError(f"Redis did not start: see {cluster.scratch / 'logs' / 'redis.log'}")


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def celery_config(port: int) -> dict[str, Any]:
    """The run config's `execution: config:` block, as `celery.yaml` holds it."""
    return {
        "execution": {
            "config": {
                "broker": f"redis://127.0.0.1:{port}/0",
                "backend": f"redis://127.0.0.1:{port}/1",
                "include": ["rm_pipeline.definitions"],
            }
        }
    }


def phase_environment(
    cluster: Cluster, base: Mapping[str, str], executor: str, port: int | None
) -> dict[str, str]:
    """The settings of one warehouse's load, and Dagster's environment for them (what
    `rm-pipeline` gives its run workers)."""
    env = dict(base)
    env["DATABASE_URL"] = database_url(cluster.server_uri, DATABASES[executor])
    env["DAGSTER_PG_URL"] = database_url(cluster.server_uri, DAGSTER_DATABASE)
    env["RM_EXECUTOR"] = executor
    if port is not None:
        env["RM_CELERY_BROKER"] = f"redis://127.0.0.1:{port}/0"
        env["RM_CELERY_BACKEND"] = f"redis://127.0.0.1:{port}/1"
    with _environment(env):
        env.update(dagster_environment(Settings()))
    return env


def start_workers(cluster: Cluster, env: Mapping[str, str], config: Path) -> None:
    """The Celery workers, each running one step at a time; returns once each says it is
    ready."""
    children = []
    for name in WORKERS:
        command = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"]
        command += ["-y", str(config), "-n", name, "--", "--concurrency=1"]
        children.append((name, cluster.start(name, command, env, grace=WORKER_STOP_SECONDS)))
    deadline = time.monotonic() + START_SECONDS
    waiting = dict(children)
    while waiting:
        for name, child in list(waiting.items()):
            log = cluster.scratch / "logs" / f"{name}.log"
            if child.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"worker {name} did not start: see {log}\n{tail(log)}")
            if b" ready." in log.read_bytes():
                del waiting[name]
        time.sleep(0.2)


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def load(cluster: Cluster, env: Mapping[str, str], executor: str, first: str, last: str) -> None:
    """The securities master, then `rm-pipeline backfill` of `first` to `last`, into the
    warehouse of `executor`, run with that executor."""
    log = cluster.log(f"load-{executor}.log")
    with _environment(env):
        settings = Settings()
        migrate.upgrade(os.environ["DATABASE_URL"])

        def progress(line: str) -> None:
            log.write(f"{line}\n".encode())
            log.flush()

        with run_session(settings, progress) as session:
            securities = session.launch("refresh_securities")
    if not securities.success:
        raise ClusterError(f"the securities master did not load ({executor}): see {log.name}")
    command = [str(BIN / "rm-pipeline"), "backfill", "--start", first, "--end", last]
    began = time.monotonic()
    backfill = cluster.start(f"backfill-{executor}", command, env, BACKFILL_STOP_SECONDS)
    returncode = backfill.wait()
    cluster.stop_child(backfill)
    output = cluster.scratch / "logs" / f"backfill-{executor}.log"
    if returncode != 0:
        raise ClusterError(
            f"rm-pipeline backfill failed ({executor}): see {output}\n{tail(output)}"
        )
    say(f"  {executor}: securities loaded, backfill took {time.monotonic() - began:.0f} s")


@dataclass(frozen=True)
class StepPlace:
    job: str
    step: str
    worker: str | None
    """The Celery worker that ran the step; None when it ran in the run's own process."""


def step_places(env: Mapping[str, str]) -> list[StepPlace]:
    """Every step of every run in the cluster's Dagster instance, and where it ran: the worker
    named by the engine event dagster-celery records as it starts the step."""
    places = []
    with _environment(env):
        instance = prepare_dagster(Settings())
        for run in reversed(instance.get_runs()):
            workers: dict[str, str] = {}
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                data = entry.dagster_event.engine_event_data if entry.dagster_event else None
                value = data.metadata.get(CELERY_WORKER_KEY) if data else None
                if value is not None and entry.step_key:
                    workers[entry.step_key] = str(value.value)
            started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            for entry in started:
                step = entry.step_key or "?"
                places.append(StepPlace(run.job_name, step, workers.get(step)))
    return places


def show_places(places: Sequence[StepPlace]) -> set[str]:
    """Print the table step -> worker; the workers that took part. Fails when a step ran outside
    the workers, or a worker ran none."""
    width = max(len(f"{p.job} / {p.step}") for p in places)
    say(f"  {'job / step':<{width}}  worker")
    for place in places:
        say(f"  {f'{place.job} / {place.step}':<{width}}  {place.worker or 'IN PROCESS'}")
    if in_process := [p.step for p in places if p.worker is None]:
        raise ClusterError(f"steps ran outside the Celery workers: {', '.join(in_process)}")
    took_part = {p.worker.split("@", 1)[0] for p in places if p.worker}
    if idle := sorted(set(WORKERS) - took_part):
        raise ClusterError(f"worker {', '.join(idle)} ran no step: the steps did not spread")
    return took_part


def compared_columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [
        name for name, kind in rows if name not in SKIPPED_COLUMNS and kind not in SKIPPED_TYPES
    ]


def comparison_query(conn: psycopg.Connection[Any], table: str) -> tuple[list[str], sql.Composed]:
    """The table's compared columns, a security's id replaced by its ticker and exchange, in a
    total order."""
    names = compared_columns(conn, table)
    has_security = "security_id" in {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
    }
    selected = [sql.SQL("t.{}").format(sql.Identifier(n)) for n in names]
    joined = sql.SQL("")
    if has_security and table != "securities":
        names = [*(f"security.{key}" for key in SECURITY_KEY), *names]
        selected = [sql.SQL("s.{}").format(sql.Identifier(k)) for k in SECURITY_KEY] + selected
        joined = sql.SQL(" JOIN securities s ON s.id = t.security_id")
    columns = sql.SQL(", ").join(selected)
    order = sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(selected)))
    query = sql.SQL("SELECT {} FROM {} t{} ORDER BY {}").format(
        columns, sql.Identifier(table), joined, order
    )
    return names, query


def compare_warehouses(celery_url: str, in_process_url: str) -> dict[str, int]:
    """Rows of each compared table, equal in both; else `ClusterError` naming the first
    difference."""
    counts = {}
    with psycopg.connect(celery_url) as left, psycopg.connect(in_process_url) as right:
        for table in COMPARED_TABLES:
            names, query = comparison_query(left, table)
            right_names, _ = comparison_query(right, table)
            if names != right_names:
                raise ClusterError(f"{table}: the columns differ: {names} against {right_names}")
            rows = 0
            with left.cursor(name=f"left_{table}") as a, right.cursor(name=f"right_{table}") as b:
                a.execute(query)
                b.execute(query)
                while True:
                    mine, theirs = a.fetchmany(5000), b.fetchmany(5000)
                    for offset, (x, y) in enumerate(zip(mine, theirs, strict=False)):
                        if x != y:
                            raise ClusterError(first_difference(table, rows + offset, names, x, y))
                    if len(mine) != len(theirs):
                        more = "celery" if len(mine) > len(theirs) else "in-process"
                        raise ClusterError(f"{table}: the {more} warehouse has more rows")
                    if not mine:
                        break
                    rows += len(mine)
            counts[table] = rows
    return counts


def first_difference(
    table: str, row: int, names: Sequence[str], celery: Sequence[Any], in_process: Sequence[Any]
) -> str:
    """The first differing row: its key when the rows are of different keys (a row one
    warehouse lacks), else the differing values."""
    keys = len(names) - len(compared_values(names))
    if tuple(celery[:keys]) != tuple(in_process[:keys]):
        return (
            f"{table}, row {row + 1:,}: the celery warehouse has {shown(names[:keys], celery)}, "
            f"the in-process one {shown(names[:keys], in_process)}"
        )
    differing = [
        f"{name} {a!r} (celery) against {b!r} (in process)"
        for name, a, b in zip(names, celery, in_process, strict=True)
        if a != b
    ]
    return f"{table}, row {row + 1:,} ({shown(names[:keys], celery)}): {'; '.join(differing)}"


def compared_values(names: Sequence[str]) -> list[str]:
    """The columns after a row's key: its security (when it has one) and its date, or a
    security's ticker and exchange."""
    key = next((i + 1 for i, name in enumerate(names) if name == "date"), 0)
    if not key:
        key = len(SECURITY_KEY) if list(names[: len(SECURITY_KEY)]) == list(SECURITY_KEY) else 1
    return list(names[key:])


def shown(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=False))


def run(cluster: Cluster, securities: int, years: float) -> str:
    """Everything but the clean-up; the closing line."""
    os.chdir(cluster.scratch)  # no `.env` of the caller's working directory is read
    base = base_environment(cluster.scratch)
    write_universe(cluster.scratch / "universe.yaml", securities)
    prepare_databases(cluster)
    port = start_redis(cluster, base)
    say(f"redis: 127.0.0.1:{port} (broker db 0, results db 1), no persistence")
    config = cluster.scratch / "celery.yaml"
    config.write_text(yaml.safe_dump(celery_config(port), sort_keys=False))
    celery_env = phase_environment(cluster, base, "celery", port)
    start_workers(cluster, celery_env, config)
    say(f"workers: {', '.join(WORKERS)} ready (RM_EXECUTOR=celery, {config.name})")
    last_day = partitions_today()
    first_day = last_day - timedelta(days=round(years * 365.25))
    first, last = first_day.isoformat(), last_day.isoformat()
    say(f"loading {securities} securities, {first} to {last}")
    load(cluster, celery_env, "celery", first, last)
    say("steps of the Celery runs:")
    places = step_places(celery_env)
    took_part = show_places(places)
    for name, child, _grace in list(cluster.children):
        if name in WORKERS or name == "redis":
            cluster.stop_child(child)
    say("  workers and Redis stopped")
    in_process_env = phase_environment(cluster, base, "in_process", None)
    load(cluster, in_process_env, "in_process", first, last)
    counts = compare_warehouses(celery_env["DATABASE_URL"], in_process_env["DATABASE_URL"])
    say("compared: " + ", ".join(f"{table} {rows:,} rows" for table, rows in counts.items()))
    return (
        f"cluster: {len(took_part)} workers ran {len(places)} steps of a {securities} x "
        f"{years:g}-year backfill ({counts['price_history']:,} bars); the warehouse equals "
        "the in-process load's"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/cluster.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Needs Debian's redis-server and the `celery` extra (installed by `make`).",
    )
    parser.add_argument("--securities", type=int, default=100, help="universe size (100)")
    parser.add_argument("--years", type=float, default=3.0, help="years of history (3)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directory (its logs) afterwards"
    )
    options = parser.parse_args(argv)
    if options.securities < 1 or not 0 < options.years <= 20:
        parser.error("--securities must be at least 1 and --years from above 0 to 20")
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="rm-cluster-")))
    here = Path.cwd()
    outcome = 1
    try:
        with interruptible():
            say(f"scratch: {cluster.scratch}")
            line = run(cluster, options.securities, options.years)
            outcome = 0
    except KeyboardInterrupt as interrupted:
        say(f"cluster: {interrupted or 'interrupted'}")
        outcome = 130
    except ClusterError as error:
        say(f"cluster: FAILED: {error}")
    finally:
        with signals_ignored():
            stopped = cluster.stop()
            say(f"stopped: {', '.join(stopped) or 'nothing left running'}")
            os.chdir(here)
            if options.keep:
                say(f"kept: {cluster.scratch}")
            else:
                shutil.rmtree(cluster.scratch, ignore_errors=True)
    if outcome == 0:
        say(line)
    return outcome


if __name__ == "__main__":
    sys.exit(main())
