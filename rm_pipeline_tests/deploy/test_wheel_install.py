"""The wheel is the deployment: built from the repository, installed with the pinned dependencies
into a fresh virtual environment, and run from an empty directory against a PostgreSQL server of
its own, as docs/DEPLOYMENT.md says, by a role that is no superuser and may not create roles."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded, migrate
from rm_pipeline_tests.warehouse.test_analyst_access import VIEWS as ANALYST_VIEWS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
APP_ROLE = "rm_app"
WAREHOUSE = "warehouse"


def copy_source(target: Path) -> Path:
    """The repository's files as git sees them (tracked or new, not ignored), symlinks kept, so
    the build leaves nothing in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not os.path.lexists(source):
            continue  # deleted in the working tree, not yet in git
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def run(
    command: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A scratch directory removed afterwards: the virtual environment alone is hundreds of MB."""
    with tempfile.TemporaryDirectory(prefix="rm-wheel-") as directory:
        yield Path(directory)


@pytest.fixture(scope="module")
def wheel(workdir: Path) -> Path:
    source = copy_source(workdir / "source")
    dist = workdir / "dist"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, "."], cwd=source)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("rm_pipeline-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(workdir: Path, wheel: Path) -> Path:
    """The bin directory of a fresh virtual environment holding the wheel and its pinned
    dependencies, exactly as the deployment guide installs it."""
    venv = workdir / "venv"
    created = run([sys.executable, "-m", "venv", venv])
    assert created.returncode == 0, created.stderr
    pip = [venv / "bin" / "python", "-m", "pip", "install"]
    done = run([*pip, "-c", REPO / "constraints.txt", wheel])
    assert done.returncode == 0, done.stderr
    return venv / "bin"


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[str]:
    """The superuser's URL of a PostgreSQL server apart from the suite's, without rm_analyst as
    a new server is (the embedded module makes the role for its own use: dropped here)."""
    pgdata = workdir / "pgdata"
    superuser_url = embedded.start(pgdata, keep_running=False)
    try:
        as_superuser(superuser_url, "DROP ROLE rm_analyst")
        yield superuser_url
    finally:
        embedded.stop(pgdata)


def as_superuser(server: str, statement: sql.Composable | str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(statement)


def login_url(server: str, role: str, password: str, database: str) -> str:
    url = make_url(server)
    return url.set(
        username=role, password=password, database=database, query={"host": url.query["host"]}
    ).render_as_string(hide_password=False)


def test_the_wheel_carries_the_migrations_and_the_dagster_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = {
            name: archive.read(f"rm_pipeline/{name}")
            for name in ("dagster.yaml", "workspace.yaml", "migrations/env.py")
        }
    migrations = [
        path.relative_to(REPO).as_posix()
        for path in (
            *(REPO / "migrations" / "versions").glob("*.py"),
            *(REPO / "migrations" / "sql").glob("*/*.sql"),
        )
    ]
    assert any(name.endswith(".sql") for name in migrations)
    assert {f"rm_pipeline/{name}" for name in migrations} <= names
    assert shipped == {name: (REPO / name).read_bytes() for name in shipped}


def test_the_installed_package_migrates_and_runs_from_an_empty_directory(
    installed: Path, server: str, workdir: Path
) -> None:
    """As a DBA prepares it: a login role with neither CREATEDB nor CREATEROLE, owning the
    warehouse database; CREATEDB and rm_analyst come later, as the errors ask."""
    app_password, analyst_password = secrets.token_hex(16), secrets.token_hex(16)
    create_app_role = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
    as_superuser(
        server, create_app_role.format(sql.Identifier(APP_ROLE), sql.Literal(app_password))
    )
    as_superuser(server, f"CREATE DATABASE {WAREHOUSE} OWNER {APP_ROLE}")
    warehouse = login_url(server, APP_ROLE, app_password, WAREHOUSE)
    cwd = workdir / "empty"
    cwd.mkdir()
    environment = {
        "PATH": f"{installed}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(workdir),
        "DATABASE_URL": warehouse,
        "RM_HISTORY_YEARS": "0.1",
    }

    def rm_pipeline(*arguments: str) -> subprocess.CompletedProcess[str]:
        return run([installed / "rm-pipeline", *arguments], cwd=cwd, env=environment)

    location = run(
        [installed / "python", "-c", "import rm_pipeline; print(rm_pipeline.__file__)"],
        cwd=cwd,
        env=environment,
    )
    assert location.returncode == 0, location.stderr
    assert location.stdout.startswith(str(installed.parent)), location.stdout

    migrated = rm_pipeline("db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    head = migrate.head_revision(warehouse)
    assert f"schema migrated from empty to {head}" in migrated.stdout
    assert f"role rm_analyst not created: {APP_ROLE} may not create roles" in migrated.stderr
    assert "`CREATE ROLE rm_analyst LOGIN;`" in migrated.stderr
    assert "rm-pipeline db grant-analyst" in migrated.stderr
    with psycopg.connect(warehouse) as conn:
        views = conn.execute("SELECT viewname FROM pg_views WHERE viewname LIKE 'v\\_%'")
        assert {name for (name,) in views} == set(ANALYST_VIEWS)

    refused = rm_pipeline("run")
    assert refused.returncode == 1
    assert f"`CREATE DATABASE dagster OWNER {APP_ROLE};`" in refused.stderr

    as_superuser(server, f"ALTER ROLE {APP_ROLE} CREATEDB")
    ran = rm_pipeline("run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for job in ("load_securities_and_prices", "refresh_analytics"):
        assert f"{job}: succeeded" in ran.stdout
    assert "check no_missing_sessions: passed" in ran.stdout
    instance_config = cwd / ".rm_pipeline" / "dagster" / "dagster.yaml"
    assert instance_config.read_bytes() == (REPO / "dagster.yaml").read_bytes()
    dagster = login_url(server, APP_ROLE, app_password, "dagster")
    with psycopg.connect(dagster) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        runs = [
            dg.deserialize_value(body, dg.DagsterRun)
            for (body,) in conn.execute("SELECT run_body FROM runs")
        ]
        # the range run ran without its checks, so no evaluation was left planned per partition
        left_planned = conn.execute(
            "SELECT count(*) FROM asset_check_executions WHERE execution_status = 'PLANNED'"
        ).fetchone()
    assert owner == (APP_ROLE,)
    assert left_planned == (0,)
    locations = [run.remote_job_origin and run.remote_job_origin.location_name for run in runs]
    assert locations == ["rm_pipeline"] * 2

    missing = rm_pipeline("db", "url", "--analyst")
    assert missing.returncode == 1
    assert "role rm_analyst does not exist" in missing.stderr

    as_superuser(
        server,
        sql.SQL("CREATE ROLE rm_analyst LOGIN PASSWORD {}").format(sql.Literal(analyst_password)),
    )
    granted = rm_pipeline("db", "grant-analyst")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.startswith("rm_analyst granted read access (revisions 0005, ")
    analyst = rm_pipeline("db", "url", "--analyst").stdout.strip().splitlines()[-1]
    assert make_url(analyst).username == "rm_analyst" and make_url(analyst).password is None
    with psycopg.connect(analyst, password=analyst_password) as conn:
        prices = conn.execute("SELECT count(*) FROM v_latest_prices").fetchone()
        assert prices is not None and prices[0] > 0
        conn.execute("SELECT count(*) FROM quarantine")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT phone_number FROM users")
