"""Apply and inspect the Alembic migrations from code.

The migrations ship inside the package (`rm_pipeline/migrations`, the repository's top-level
`migrations/` directory), so an installed `rm-pipeline` finds them wherever it runs. The
repository's `pyproject.toml` ([tool.alembic]) serves Alembic's own command line from the
repository root, for writing revisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from rm_pipeline.db.engine import to_libpq_url, to_sqlalchemy_url

SCRIPT_LOCATION = "rm_pipeline:migrations"
"""The migrations as a package resource: Alembic resolves it through importlib."""


def alembic_config(url: str) -> Config:
    """An Alembic config for the packaged migrations, aimed at `url`."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
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


def grant_analyst(url: str) -> list[str]:
    """Grant `rm_analyst` what the applied revisions grant it, in one transaction, and return
    those revisions.

    A revision that grants the role anything, or sets anything for it (0013: read-only sessions),
    does it in a `grant_analyst()` function. A server whose migrating role may not create roles
    gets the views without the grants (0005 says so); once a superuser has created the role, this
    runs those functions again. Altering a role takes more than granting to it, so 0013's may
    still be refused; it then warns with the statement a superuser runs, and the grants stand.
    """
    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    granted = []
    try:
        with migration_lock(url), engine.begin() as conn:
            context = MigrationContext.configure(conn)
            current = context.get_current_revision()
            applied = reversed(list(script.walk_revisions("base", current))) if current else []
            with Operations.context(context):
                for revision in applied:
                    grant = getattr(revision.module, "grant_analyst", None)
                    if grant is not None:
                        grant()
                        granted.append(revision.revision)
    finally:
        engine.dispose()
    return granted
