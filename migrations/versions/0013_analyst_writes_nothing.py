"""`rm_analyst` writes nothing: no temporary tables, no large objects, read-only by default.

0005 grants the role reading only, but every role also holds what PUBLIC holds, and by default
PUBLIC may create temporary tables in every database (TEMPORARY) and call `lo_creat()`,
`lo_create()` and `lo_from_bytea()`, each of which stores a large object that outlives the session.
In this database:

- TEMPORARY is revoked from PUBLIC and granted to the database's owner, the role the pipeline
  loads as (the loader stages frames in temporary tables). Changing a database's privileges takes
  its owner, a member of the owner's role or a superuser; any other migrating role skips it with a
  warning.
- EXECUTE on those three functions is revoked from PUBLIC (function privileges belong to one
  database). The functions belong to the bootstrap superuser, so only a superuser may; any other
  migrating role skips it with a warning naming the statement a superuser runs in this database.
  `lo_import()` is a superuser's already, and the pipeline stores no large objects.
- `grant_analyst()` makes the role's transactions here read-only by default
  (`default_transaction_read_only`), a second line of defence: the role may turn it off, and is
  then still refused by the privileges. The setting is per database, like the grants, so each
  database sets and resets its own and two databases migrating at once never update the same row.
  It takes a superuser or CREATEROLE (from PostgreSQL 16 also the role's ADMIN option, which its
  creator holds); without them a warning says what to run, and `rm-pipeline db grant-analyst`
  tries again.

Which databases the role reaches is decided outside this database: Dagster's is kept to its owner
where it is created (`rm_pipeline.db.engine`), and the embedded server's `pg_hba.conf` keeps the
role out of the server's own databases and Dagster's.

Offline (`--sql`), the script does all of it, for whoever runs it. The downgrade gives PUBLIC back
its defaults and resets the role's setting in this database, as far as the migrating role may.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

import logging
from collections.abc import Sequence

import psycopg
import sqlalchemy as sa
from alembic import op

log = logging.getLogger("rm_pipeline.migrations")

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LARGE_OBJECT_CREATORS = "lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea)"

MIGRATING_ROLE = """
SELECT current_user,
       pg_has_role(d.datdba, 'MEMBER'),
       pg_has_role(f.proowner, 'MEMBER')
FROM pg_database AS d, pg_proc AS f
WHERE d.datname = current_database() AND f.oid = 'lo_create(oid)'::regprocedure
"""
"""Who migrates, and whether it may change this database's privileges and the functions'
(superusers are members of every role)."""

# This database's name is spliced in with quote_ident() and `||` rather than format()'s `%I`, which
# the script written offline (`--sql`) would carry as `%%I`.
TEMPORARY_FOR_THE_OWNER = """
DO $$
BEGIN
    EXECUTE 'REVOKE TEMPORARY ON DATABASE ' || quote_ident(current_database()) || ' FROM PUBLIC';
    EXECUTE 'GRANT TEMPORARY ON DATABASE ' || quote_ident(current_database()) || ' TO '
        || quote_ident((SELECT pg_get_userbyid(datdba) FROM pg_database
                        WHERE datname = current_database()));
END
$$
"""
TEMPORARY_FOR_PUBLIC = """
DO $$ BEGIN
    EXECUTE 'GRANT TEMPORARY ON DATABASE ' || quote_ident(current_database()) || ' TO PUBLIC';
END $$
"""

READ_ONLY = """
DO $$ BEGIN
    EXECUTE 'ALTER ROLE rm_analyst IN DATABASE ' || quote_ident(current_database())
        || ' SET default_transaction_read_only = on';
END $$
"""
READ_WRITE = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN
        EXECUTE 'ALTER ROLE rm_analyst IN DATABASE ' || quote_ident(current_database())
            || ' RESET default_transaction_read_only';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'rm_analyst stays read-only by default: only a superuser or CREATEROLE may reset it';
END
$$
"""

TEMPORARY_SKIPPED = (
    "PUBLIC keeps TEMPORARY on this database, so rm_analyst may create temporary tables: %s does "
    "not own the database; its owner runs `REVOKE TEMPORARY ON DATABASE <database> FROM PUBLIC;`"
)
LARGE_OBJECTS_SKIPPED = (
    "PUBLIC keeps EXECUTE on %s, so rm_analyst may store large objects: only a superuser may "
    "revoke it, with `REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC;` in this database"
)
READ_ONLY_SKIPPED = (
    "rm_analyst's transactions are not read-only by default: %s may not alter the role; a "
    "superuser runs `ALTER ROLE rm_analyst IN DATABASE <database> SET "
    "default_transaction_read_only = on;`"
)


def migrating_role() -> tuple[str, bool, bool]:
    """The migrating role's name, and whether it may change the database's privileges and the
    large-object functions' (both assumed when writing SQL offline)."""
    if op.get_context().as_sql:
        return "", True, True
    user, owns_database, owns_functions = op.get_bind().execute(sa.text(MIGRATING_ROLE)).one()
    return user, owns_database, owns_functions


def grant_analyst() -> None:
    """rm_analyst's transactions here are read-only by default, once the role exists (see 0005).

    Whether the migrating role may alter it depends on the server's version and on who created
    the role, so it is tried, in a savepoint."""
    if op.get_context().as_sql:
        op.execute(READ_ONLY)
        return
    bind = op.get_bind()
    user, exists = bind.execute(
        sa.text("SELECT current_user, EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst')")
    ).one()
    if not exists:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text(READ_ONLY))
    except sa.exc.ProgrammingError as error:
        if not isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            raise
        log.warning(READ_ONLY_SKIPPED, user)


def upgrade() -> None:
    user, owns_database, owns_functions = migrating_role()
    if owns_database:
        op.execute(TEMPORARY_FOR_THE_OWNER)
    else:
        log.warning(TEMPORARY_SKIPPED, user)
    if owns_functions:
        op.execute(f"REVOKE EXECUTE ON FUNCTION {LARGE_OBJECT_CREATORS} FROM PUBLIC")
    else:
        log.warning(LARGE_OBJECTS_SKIPPED, LARGE_OBJECT_CREATORS, LARGE_OBJECT_CREATORS)
    grant_analyst()


def downgrade() -> None:
    _, owns_database, owns_functions = migrating_role()
    op.execute(READ_WRITE)
    if owns_functions:
        op.execute(f"GRANT EXECUTE ON FUNCTION {LARGE_OBJECT_CREATORS} TO PUBLIC")
    if owns_database:
        op.execute(TEMPORARY_FOR_PUBLIC)
