"""Views and functions as versioned SQL files, applied by the migrations.

`migrations/sql/<name>/<revision>.sql` is the statement that creates `name` as revision
`<revision>` defines it: one file for each revision that changed the object. A migration applies
the statements in force at its own revision and, to downgrade, those in force at the revision below
it, so no definition is copied from one revision to the next, and `git log migrations/sql/<name>`
is the object's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from alembic import op

SQL_FILES = files("rm_pipeline") / "migrations" / "sql"
"""The versioned statements, inside the package like the migrations that apply them."""


def statement(name: str, revision: str) -> str:
    """The statement creating `name` as it stood at `revision`: its latest file not after it."""
    versions = sorted(
        entry.name.removesuffix(".sql")
        for entry in (SQL_FILES / name).iterdir()
        if entry.name.endswith(".sql")
    )
    in_force = [version for version in versions if version <= revision]
    if not in_force:
        raise LookupError(f"{name} has no definition at revision {revision} (see {SQL_FILES})")
    return (SQL_FILES / name / f"{in_force[-1]}.sql").read_text()


def create(names: Sequence[str], revision: str) -> None:
    """Create each object, in order, as `revision` defines it."""
    for name in names:
        op.execute(statement(name, revision))


def replace_views(names: Sequence[str], revision: str) -> None:
    """Drop the views (in reverse order) and create them as `revision` defines them.

    Dropping drops their grants: the migration grants them again."""
    for name in reversed(names):
        op.execute(f"DROP VIEW {name}")
    create(names, revision)
