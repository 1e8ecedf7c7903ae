"""Settings: every number has bounds and every URL is checked, and a bad value is reported in one
line naming its variable, never with a URL's password."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from rm_pipeline.settings import (
    SETTINGS_FIELDS,
    RunSettings,
    Settings,
    as_environment,
    describe_invalid_settings,
    environment_variable,
)

NUMERIC_FIELDS = [name for name, info in SETTINGS_FIELDS.items() if info.annotation in (int, float)]


@pytest.fixture(autouse=True)
def no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the environment alone, not from a `.env` file of the checkout."""
    monkeypatch.chdir(tmp_path)


def settings_from(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Settings()


def refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    """The one line the CLI shows for these environment variables, whichever settings read them."""
    with pytest.raises(ValidationError) as raised:
        settings_from(monkeypatch, **variables)
        RunSettings()
    return describe_invalid_settings(raised.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
@pytest.mark.parametrize("field", NUMERIC_FIELDS)
def test_every_numeric_setting_refuses_what_is_not_a_number_in_bounds(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    variable = environment_variable(field)
    assert refusal(monkeypatch, **{variable: value}).startswith(
        f"invalid setting {variable}={value!r}: "
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("RM_HISTORY_YEARS", "nan", "Input should be a finite number"),
        ("RM_HISTORY_YEARS", "inf", "Input should be a finite number"),
        ("RM_HISTORY_YEARS", "3000", "Input should be less than or equal to 100"),
        ("RM_HISTORY_YEARS", "-1", "Input should be greater than 0"),
        ("RM_HISTORY_YEARS", "0", "Input should be greater than 0"),
        ("RM_INGEST_BATCH_SIZE", "0", "Input should be greater than or equal to 1"),
        ("RM_INGEST_BATCH_SIZE", "1000000", "Input should be less than or equal to 10000"),
        ("RM_YFINANCE_BATCH_SIZE", "0", "Input should be greater than or equal to 1"),
        ("RM_YFINANCE_THREADS", "0", "Input should be greater than or equal to 1"),
        ("RM_YFINANCE_THREADS", "65", "Input should be less than or equal to 64"),
        ("RM_YFINANCE_MAX_REQUESTS_PER_SECOND", "0", "Input should be greater than 0"),
        ("RM_YFINANCE_MAX_REQUESTS_PER_SECOND", "nan", "Input should be a finite number"),
        ("RM_YFINANCE_CACHE_TTL_MINUTES", "-1", "Input should be greater than or equal to 0"),
        ("RM_YFINANCE_CACHE_TTL_MINUTES", "inf", "Input should be a finite number"),
        ("RM_YFINANCE_CACHE_MAX_MB", "0", "Input should be greater than 0"),
        ("RM_POOL_SIZE", "0", "Input should be greater than or equal to 1"),
        ("RM_MAX_OVERFLOW", "-1", "Input should be greater than or equal to 0"),
        ("RM_POOL_TIMEOUT_SECONDS", "0", "Input should be greater than 0"),
        ("RM_POOL_TIMEOUT_SECONDS", "-inf", "Input should be a finite number"),
        ("RM_CATCHUP_SESSIONS", "0", "Input should be greater than or equal to 1"),
        ("RM_CATCHUP_SESSIONS", "61", "Input should be less than or equal to 60"),
        ("RM_FRESHNESS_LAG_DAYS", "-1", "Input should be greater than or equal to 0"),
        ("RM_FRESHNESS_LAG_DAYS", "31", "Input should be less than or equal to 30"),
        ("RM_JWT_TTL_MINUTES", "0", "Input should be greater than or equal to 1"),
        ("RM_JWT_TTL_MINUTES", "10081", "Input should be less than or equal to 10080"),
        ("RM_SYNTHETIC_SEED", "-7", "Input should be greater than or equal to 0"),
        ("RM_PRICE_LOAD_STEPS", "0", "Input should be greater than or equal to 1"),
        ("RM_PRICE_LOAD_WRITERS", "65", "Input should be less than or equal to 64"),
        ("RM_HISTORY_START", "1899-12-31", "Input should be greater than or equal to 1900-01-01"),
    ],
)
def test_a_number_out_of_bounds_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    assert refusal(monkeypatch, **{variable: value}) == (
        f"invalid setting {variable}={value!r}: {problem}"
    )


def test_the_history_cannot_start_after_today(monkeypatch: pytest.MonkeyPatch) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert refusal(monkeypatch, RM_HISTORY_START=tomorrow) == (
        f"invalid setting RM_HISTORY_START={tomorrow!r}: "
        f"the history cannot start after today ({date.today()})"
    )


def test_the_bounds_themselves_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        RM_HISTORY_YEARS="100",
        RM_HISTORY_START=date.today().isoformat(),
        RM_YFINANCE_CACHE_TTL_MINUTES="0",
        RM_FRESHNESS_LAG_DAYS="0",
        RM_MAX_OVERFLOW="0",
        RM_SYNTHETIC_SEED="0",
        RM_CATCHUP_SESSIONS="60",
        RM_PRICE_LOAD_WRITERS="64",
        RM_JWT_TTL_MINUTES=str(7 * 24 * 60),
    )
    assert (settings.history_start, settings.yfinance_cache_ttl_minutes) == (date.today(), 0)
    assert RunSettings().history_years == 100


def test_the_partitions_start_at_a_declared_date_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RM_HISTORY_START", raising=False)
    assert Settings().history_start == date(2000, 1, 3)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:secret@db.example.org:5432/warehouse",
        "postgres://user:secret@db.example.org/warehouse",
        "postgresql+psycopg://user@[::1]:6432/warehouse?sslmode=require",
        "postgresql+psycopg2://user:secret@db.example.org:65535/dagster",
        "postgresql:///warehouse?host=/var/run/postgresql",
    ],
)
def test_a_postgresql_url_is_kept_as_given(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    settings = settings_from(monkeypatch, DATABASE_URL=url, DAGSTER_PG_URL=url)
    assert (settings.database_url, settings.dagster_database_url) == (url, url)
    assert not settings.embedded


def test_a_blank_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch, DATABASE_URL=" ", DAGSTER_PG_URL="")
    assert (settings.database_url, settings.dagster_database_url) == (None, None)
    assert settings.embedded


@pytest.mark.parametrize(
    ("variable", "url", "line"),
    [
        (
            "DATABASE_URL",
            "notaurl",
            "DATABASE_URL: not a URL; expected postgresql://user:password@host:port/database",
        ),
        (
            "DATABASE_URL",
            "postgresql://u:s3cret@host:abc/db",
            "DATABASE_URL: the port must be a number from 1 to 65535",
        ),
        (
            "DAGSTER_PG_URL",
            "postgresql://u:s3cret@host:0/db",
            "DAGSTER_PG_URL='postgresql://u:***@host:0/db': the port must be a number from 1 to "
            "65535",
        ),
        (
            "DATABASE_URL",
            "postgresql://u@host:99999/db?password=s3cret&sslmode=require",
            "DATABASE_URL='postgresql://u@host:99999/db?sslmode=require': the port must be a "
            "number from 1 to 65535",
        ),
        (
            "DAGSTER_PG_URL",
            "mysql://u:s3cret@host/db",
            "DAGSTER_PG_URL='mysql://u:***@host/db': mysql:// is not a PostgreSQL URL; the scheme "
            "must be one of postgresql, postgres, postgresql+psycopg, postgresql+psycopg2",
        ),
    ],
)
def test_a_bad_url_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str, line: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        settings_from(monkeypatch, **{variable: url})
    assert describe_invalid_settings(raised.value) == f"invalid setting {line}"
    assert "s3cret" not in str(raised.value)  # nor in the traceback --verbose shows


def test_the_settings_as_variables_read_the_same_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `rm-pipeline dev` hands Dagster, which it starts in Dagster's home: `.env` and
    relative paths of the project's directory, read the same there."""
    (tmp_path / ".env").write_text(
        "RM_PROVIDER=files\nRM_PROVIDER_FILES_DIR=prices\nRM_JWT_SECRET=not-for-logs\n"
    )
    monkeypatch.setenv("RM_DATA_DIR", "state")
    monkeypatch.setenv("RM_INGEST_BATCH_SIZE", "7")
    here = Settings()
    variables = as_environment(here)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    there = Settings()
    expected = here.model_copy(
        update={
            "data_dir": tmp_path / "state",
            "provider_files_dir": tmp_path / "prices",
            "holdings_dir": here.holdings_dir.resolve(),
        }
    )
    assert {name: value for name, value in there if value != getattr(expected, name)} == {}
    assert there.provider == "files" and there.ingest_batch_size == 7
    assert there.jwt_secret is not None and there.jwt_secret.get_secret_value() == "not-for-logs"


def test_the_celery_broker_and_backend_are_urls_shown_without_their_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(
        monkeypatch,
        RM_CELERY_BROKER=" redis://:s3cret@127.0.0.1:6379/0 ",
        RM_CELERY_BACKEND="rpc://",
    )
    assert settings.celery_broker == "redis://:s3cret@127.0.0.1:6379/0"
    assert settings.celery_backend == "rpc://"
    assert settings_from(monkeypatch, RM_CELERY_BROKER=" ").celery_broker is None
    line = refusal(monkeypatch, RM_CELERY_BROKER="redis://:s3cret@host/0 and more")
    assert line.startswith("invalid setting RM_CELERY_BROKER='redis://:***@host/0 and more': ")
    assert "s3cret" not in line
    assert "not a URL" in refusal(monkeypatch, RM_CELERY_BROKER="127.0.0.1:6379")
    too_long = "redis://127.0.0.1/" + "0" * 2_000
    assert "at most 2000 characters" in refusal(monkeypatch, RM_CELERY_BROKER=too_long)
