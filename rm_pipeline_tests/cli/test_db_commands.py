"""`rm-pipeline db ...` against the test database: the URL works, upgrade and status report."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from rm_pipeline.cli.commands import cli
from rm_pipeline.db import migrate
from rm_pipeline.settings import get_settings


def test_db_url_prints_a_url_psql_and_psycopg_accept_as_its_last_line(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["db", "url"])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("postgresql://")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] in database_url


def test_upgrade_at_head_says_nothing_to_migrate(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "nothing to migrate" in result.output


def test_status_reports_revision_and_exact_row_counts(db: Engine, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO securities (ticker, name, security_type) VALUES ('A', 'A', 'equity')"
        )
    result = CliRunner().invoke(cli, ["db", "status"])
    assert result.exit_code == 0, result.output
    assert "external PostgreSQL" in result.output
    head = migrate.head_revision(database_url)
    assert f"migration revision: {head} (head {head})" in result.output
    assert [line.split() for line in result.output.splitlines() if "securities" in line] == [
        ["securities", "1", "rows"]
    ]


def test_db_url_masks_the_password_of_database_url_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db.example:5432/warehouse")
    get_settings.cache_clear()
    try:
        hidden = CliRunner().invoke(cli, ["db", "url"])
        shown = CliRunner().invoke(cli, ["db", "url", "--show-password"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert hidden.exit_code == 0, hidden.output
    assert hidden.output.strip() == "postgresql://app:***@db.example:5432/warehouse"
    assert "s3cret" not in hidden.output
    assert shown.output.strip() == "postgresql://app:s3cret@db.example:5432/warehouse"
