"""One real PostgreSQL for the whole suite.

By default the embedded server, with its own data directory apart from the developer's; set
`RM_TEST_SERVER_URL` (a URL to any database on a server where the user may create databases) to use
another server. Each pytest worker gets its own database, migrated once per run; `DATABASE_URL`
points at it, so code under test finds it through the ordinary settings. The `db` fixture empties
every table after its test.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from rm_pipeline.db import embedded, migrate
from rm_pipeline.db.engine import get_engine
from rm_pipeline.db.models import Base
from rm_pipeline.settings import get_settings

TEST_PGDATA = Path(__file__).resolve().parents[1] / ".rm_pipeline" / "test-pgdata"


@pytest.fixture(scope="session")
def server_url() -> str:
    """libpq URL of a maintenance database on the test server."""
    return os.environ.get("RM_TEST_SERVER_URL") or embedded.start(TEST_PGDATA, keep_running=False)


def create_database(server_url: str, prefix: str) -> str:
    """A new empty database on the test server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return embedded.database_uri(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def make_database(server_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases with no schema, all dropped after the test."""
    created: list[str] = []

    def make() -> str:
        created.append(create_database(server_url, "rm_scratch"))
        return created[-1]

    yield make
    for url in created:
        drop_database(server_url, url)


@pytest.fixture
def empty_database(make_database: Callable[[], str]) -> str:
    """A fresh database with no schema, dropped after the test."""
    return make_database()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """This worker's warehouse, migrated to head once, and made the process's DATABASE_URL."""
    url = create_database(server_url, "rm_test")
    migrate.upgrade(url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    get_engine(url).dispose()
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    get_settings.cache_clear()
    drop_database(server_url, url)


REFERENCE_TABLES = frozenset({"currency_units"})  # rows of migration 0008, not of a test
TABLES = ", ".join(
    table.name for table in Base.metadata.sorted_tables if table.name not in REFERENCE_TABLES
)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """The warehouse engine; every table is emptied after the test."""
    engine = get_engine(database_url)
    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))


@pytest.fixture
def owned_database(server_url: str) -> Iterator[str]:
    """A new database owned by a new login role that is no superuser and may not create roles,
    and the URL that logs in as that role; both dropped afterwards."""
    owner, password = f"rm_owner_{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(24)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(owner), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(owner), sql.Identifier(owner)
            )
        )
    url = make_url(embedded.database_uri(server_url, owner))
    url = url.set(username=owner, password=password).difference_update_query(["passfile"])
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))
