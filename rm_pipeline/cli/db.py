"""`rm-pipeline db ...`: the warehouse's server, URL and migrations."""

from __future__ import annotations

import os
import shutil

import click
import psycopg
from sqlalchemy import func, make_url, select

from rm_pipeline.db import embedded, migrate
from rm_pipeline.db.engine import analyst_url, dagster_url, get_engine, warehouse_url
from rm_pipeline.db.models import Base
from rm_pipeline.settings import get_settings


@click.group()
def db() -> None:
    """The warehouse database: URL, status, migrations, psql, stopping the embedded server."""


NO_ANALYST_ROLE = (
    "role rm_analyst does not exist on this server: a superuser runs "
    "`CREATE ROLE rm_analyst LOGIN;` and `\\password rm_analyst` in psql, then "
    "`rm-pipeline db grant-analyst` grants it read access"
)


def _require_analyst_role(db_url: str) -> None:
    """The role is the server's, made by migration 0005 only where the migrating user may create
    roles (the embedded server makes it itself)."""
    with psycopg.connect(db_url) as conn:
        found = conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (embedded.ANALYST,))
        if found.fetchone() is None:
            raise click.ClickException(NO_ANALYST_ROLE)


@db.command()
@click.option("--dagster", is_flag=True, help="Print the URL of Dagster's own storage instead.")
@click.option("--analyst", is_flag=True, help="Print the read-only rm_analyst role's URL instead.")
@click.option(
    "--show-password",
    is_flag=True,
    help="Print a password the URL holds (DATABASE_URL's) instead of ***.",
)
def url(dagster: bool, analyst: bool, show_password: bool) -> None:
    """Print the warehouse URL (last line), starting the embedded server if it is down.

    The URL works in psql as it is, and in SQLAlchemy with a driver suffix
    (postgresql+psycopg://...). On the embedded server it names the role's password file
    (passfile=...), never the password itself. A password written in DATABASE_URL shows as ***
    unless --show-password is given. With DATABASE_URL, --dagster creates Dagster's database
    beside the warehouse when missing, and --analyst first checks that rm_analyst exists.
    """
    if dagster:
        found = dagster_url()
    elif analyst:
        _require_analyst_role(warehouse_url())
        found = analyst_url()
    else:
        found = warehouse_url()
    click.echo(found if show_password else masked(found))


def masked(url: str) -> str:
    """The URL with its password, if it holds one, shown as ***."""
    parsed = make_url(url)
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


@db.command()
def status() -> None:
    """Say where the warehouse is, whether it runs, its migration revision and its row counts."""
    settings = get_settings()
    if settings.embedded:
        state = embedded.status(settings.pgdata_dir)
        click.echo(f"embedded PostgreSQL: {'running' if state.running else 'stopped'}")
        click.echo(f"  data directory: {state.pgdata}")
        if not state.running:
            return
    else:
        click.echo("external PostgreSQL (DATABASE_URL)")
    db_url = warehouse_url()
    current, head = migrate.current_revision(db_url), migrate.head_revision(db_url)
    click.echo(f"  migration revision: {current or 'none'} (head {head})")
    if current is None:
        return
    with get_engine(db_url).connect() as conn:
        for table in Base.metadata.sorted_tables:
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            click.echo(f"  {table.name:<20} {count:>10,} rows")


@db.command()
def upgrade() -> None:
    """Apply every pending migration (a no-op when already at head)."""
    click.echo(migrate.upgrade_and_describe(warehouse_url()))


@db.command("grant-analyst")
def grant_analyst() -> None:
    """Grant rm_analyst the read access the applied migrations grant it (safe to run again).

    For a server where the migrating user could not create roles: migration 0005 then creates the
    views without the role; once a superuser has created the role (with a password), this applies
    the grants it skipped. Run it as the user that ran the migrations (the tables' owner).
    """
    db_url = warehouse_url()
    _require_analyst_role(db_url)
    revisions = migrate.grant_analyst(db_url)
    if not revisions:
        raise click.ClickException(
            "nothing to grant before migration 0005: run `rm-pipeline db upgrade` first"
        )
    click.echo(f"rm_analyst granted read access (revisions {', '.join(revisions)})")


@db.command()
def psql() -> None:
    """Open psql on the warehouse (prints the command when psql is not installed)."""
    db_url = warehouse_url()
    binary = shutil.which("psql")
    if binary is None:
        click.echo("psql is not on PATH; connect with:")
        click.echo(f"psql '{db_url}'")
        return
    os.execv(binary, [binary, db_url])


@db.command()
def stop() -> None:
    """Stop the embedded server (its data stays under the data directory)."""
    settings = get_settings()
    if not settings.embedded:
        raise click.ClickException("DATABASE_URL is set: this project does not manage that server")
    stopped = embedded.stop(settings.pgdata_dir)
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
