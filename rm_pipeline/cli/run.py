"""`rm-pipeline run`: the main job end to end, then a summary for people."""

from __future__ import annotations

import click

from rm_pipeline.db import migrate
from rm_pipeline.db.engine import warehouse_url
from rm_pipeline.settings import get_settings


def _bring_up_schema(db_url: str) -> None:
    before = migrate.current_revision(db_url)
    migrate.upgrade(db_url)
    after = migrate.current_revision(db_url)
    if before == after:
        click.echo(f"schema: already at revision {after}, nothing to migrate")
    else:
        click.echo(f"schema: migrated from {before or 'empty'} to {after}")


@click.command()
def run() -> None:
    """Bring up the database, migrate it, run the pipeline and print a summary.

    Uses the embedded PostgreSQL unless DATABASE_URL is set. Safe to run again: a second run changes
    nothing and says so. The embedded server stays up afterwards for psql and the Dagster UI; stop it
    with `rm-pipeline db stop`.
    """
    settings = get_settings()
    where = "embedded PostgreSQL" if settings.embedded else "DATABASE_URL"
    click.echo(f"database: {where}")
    db_url = warehouse_url(settings)
    _bring_up_schema(db_url)
    click.echo(f"psql: psql '{db_url}'")
