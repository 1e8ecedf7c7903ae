"""Where the warehouse is, and the one pooled engine per process that talks to it."""

from __future__ import annotations

import os
import threading

import psycopg
import sqlalchemy.exc
from dagster_postgres.utils import DagsterPostgresException
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded
from rm_pipeline.settings import Settings, get_settings

DATABASE_UNREACHABLE = (
    psycopg.OperationalError,
    sqlalchemy.exc.OperationalError,
    DagsterPostgresException,  # Dagster's storage, after its own retries
)
"""The errors of a database that cannot be reached (or was lost mid-command)."""

_lock = threading.Lock()
_engines: dict[tuple[int, str], Engine] = {}


class DatabaseSetupError(RuntimeError):
    """The server lacks something the project needs and its user may not create; the message
    says what a superuser runs."""


def with_driver(url: str, drivername: str) -> str:
    """Any PostgreSQL URL (`postgres://`, `postgresql://`, with or without a driver) with the
    given SQLAlchemy driver name, e.g. `postgresql+psycopg2`."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername=drivername).render_as_string(hide_password=False)


def to_sqlalchemy_url(url: str) -> str:
    """Any PostgreSQL URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    return with_driver(url, "postgresql+psycopg")


def to_libpq_url(url: str) -> str:
    """Any PostgreSQL URL without a driver suffix, as psql and libpq want it."""
    return with_driver(url, "postgresql")


def _embedded_url(settings: Settings, database: str) -> str:
    server_uri = embedded.start(settings.pgdata_dir)
    embedded.ensure_database(server_uri, database)
    return embedded.database_uri(server_uri, database)


def warehouse_url(settings: Settings | None = None) -> str:
    """The warehouse's libpq URL, starting the embedded server when no `DATABASE_URL` is set."""
    settings = settings or get_settings()
    if settings.database_url:
        return to_libpq_url(settings.database_url)
    return _embedded_url(settings, embedded.WAREHOUSE_DATABASE)


def analyst_url(settings: Settings | None = None) -> str:
    """The warehouse URL for the read-only `rm_analyst` role: with its password file on the
    embedded server; elsewhere without a password (the DBA gives it one: PGPASSWORD, ~/.pgpass)."""
    settings = settings or get_settings()
    # `set` leaves None values alone; SQLAlchemy documents `_replace` for clearing the password.
    url = make_url(warehouse_url(settings))._replace(username=embedded.ANALYST, password=None)
    if settings.embedded:
        passfile = embedded.password_file(settings.pgdata_dir, embedded.ANALYST)
        url = url.update_query_dict({"passfile": str(passfile)})
    return to_libpq_url(url.render_as_string(hide_password=False))


def dagster_url(settings: Settings | None = None) -> str:
    """URL of Dagster's own storage: its own database, never the warehouse's."""
    settings = settings or get_settings()
    if settings.dagster_database_url:
        return to_libpq_url(settings.dagster_database_url)
    if settings.database_url:
        warehouse = to_libpq_url(settings.database_url)
        ensure_dagster_database(warehouse)
        return to_libpq_url(
            make_url(warehouse)
            .set(database=embedded.DAGSTER_DATABASE)
            .render_as_string(hide_password=False)
        )
    server_uri = embedded.start(settings.pgdata_dir)
    ensure_dagster_database(server_uri)
    return embedded.database_uri(server_uri, embedded.DAGSTER_DATABASE)


def ensure_dagster_database(server_uri: str) -> None:
    """Create Dagster's database on the server of `server_uri` (the warehouse's URL, or the
    embedded server's) unless it exists, and keep it to its owner when the URL's user may (see
    `embedded.keep_to_owner`); when that user may not create databases (CREATEDB), say what a
    superuser runs instead."""
    try:
        embedded.ensure_database(server_uri, embedded.DAGSTER_DATABASE)
    except psycopg.errors.InsufficientPrivilege:
        with psycopg.connect(server_uri) as conn:
            owner = conn.execute("SELECT quote_ident(current_user)").fetchall()[0][0]
        raise DatabaseSetupError(
            f"Dagster's database {embedded.DAGSTER_DATABASE!r} does not exist and "
            f"{owner} may not create databases: have a superuser run "
            f"`CREATE DATABASE {embedded.DAGSTER_DATABASE} OWNER {owner};` "
            "(or grant CREATEDB, or set DAGSTER_PG_URL)"
        ) from None
    embedded.keep_to_owner(server_uri, embedded.DAGSTER_DATABASE)


def build_engine(url: str, settings: Settings | None = None) -> Engine:
    """A new pooled engine for `url` with the pool settings."""
    settings = settings or get_settings()
    return create_engine(
        to_sqlalchemy_url(url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        pool_pre_ping=True,
    )


def get_engine(url: str | None = None) -> Engine:
    """The process's engine for `url` (the warehouse by default).

    Keyed by process id as well, so a forked worker never reuses its parent's connections.
    """
    url = url or warehouse_url()
    key = (os.getpid(), url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = build_engine(url)
            _engines[key] = engine
        return engine
