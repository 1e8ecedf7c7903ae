"""Apply and inspect the Alembic migrations under `migrations/` from code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from rm_pipeline.db.engine import to_libpq_url, to_sqlalchemy_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    """An Alembic config for the project's migrations, aimed at `url`."""
    config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    config.attributes["url"] = url
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None before any migration)."""
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


MIGRATION_LOCK = 7_202_611
"""The advisory lock key that serializes migrations of one database across processes."""


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the database's migration lock: concurrent first runs migrate one after the other,
    and the later one finds nothing left to do."""
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def upgrade(url: str, revision: str = "head") -> None:
    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    with migration_lock(url):
        command.downgrade(alembic_config(url), revision)


def upgrade_and_describe(url: str) -> str:
    """Apply every pending migration and say what changed, for people."""
    with migration_lock(url):
        before = current_revision(url)
        command.upgrade(alembic_config(url), "head")
        after = current_revision(url)
    if before == after:
        return f"schema already at revision {after}: nothing to migrate"
    return f"schema migrated from {before or 'empty'} to {after}"
