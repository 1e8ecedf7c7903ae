"""All runtime settings, read once from the environment (and an optional `.env` file).

Secrets are `SecretStr`, so they never show up in reprs, logs or the CLI's output. Every number
has bounds and every URL is parsed here, so a bad value is one `ValidationError` naming its
variable before anything starts; errors never repeat a URL's password.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ProviderName = Literal["synthetic", "yfinance", "files"]
ExecutorName = Literal["in_process", "multiprocess", "celery", "k8s"]
DEMO_HOLDINGS_DIR = Path(__file__).resolve().parent / "demo" / "holdings"

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
URL_FORM = "postgresql://user:password@host:port/database"
MAX_PORT = 65_535
URL_FIELDS = frozenset({"database_url", "dagster_database_url", "celery_broker", "celery_backend"})
"""Fields holding a URL, and so maybe a password: errors show them masked."""
CELERY_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)
"""A Celery broker or result backend: any of Celery's schemes (`redis://`, `pyamqp://`,
`sqla+postgresql://`, `rpc://`, ...), no whitespace."""
MAX_URL_LENGTH = 2_000

EARLIEST_HISTORY_START = date(1900, 1, 1)
DEFAULT_HISTORY_START = date(2000, 1, 3)
"""Where the price partitions start unless RM_HISTORY_START says otherwise: the first session of
2000, well before the years `make run` loads by default."""
MAX_HISTORY_YEARS = 100
MAX_BATCH_SIZE = 10_000
MAX_PARALLEL = 64
"""Most threads, steps or writers one setting may ask for."""
MAX_CATCHUP_SESSIONS = 60
MAX_FRESHNESS_LAG_DAYS = 30
MINUTES_PER_DAY = 24 * 60
MAX_JWT_TTL_MINUTES = 7 * MINUTES_PER_DAY
MAX_CACHE_TTL_MINUTES = 366 * MINUTES_PER_DAY
MAX_POOL_TIMEOUT_SECONDS = 3_600


class Settings(BaseSettings):
    """Settings for the pipeline, the CLI and Alembic."""

    model_config = SettingsConfigDict(
        env_prefix="RM_",
        env_file=".env",
        extra="ignore",
        hide_input_in_errors=True,  # a traceback never prints a password; the CLI masks URLs
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RM_DATABASE_URL"),
        description="SQLAlchemy URL of the warehouse; unset (or blank) means the embedded "
        "PostgreSQL.",
    )
    dagster_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DAGSTER_PG_URL", "RM_DAGSTER_DATABASE_URL"),
        description="URL of Dagster's own storage; unset (or blank) means a `dagster` database "
        "beside the warehouse.",
    )
    data_dir: Path = Field(
        default=Path(".rm_pipeline"), description="Local state: embedded server."
    )
    pool_size: int = Field(
        default=5, ge=1, description="Connections each engine's pool keeps open."
    )
    max_overflow: int = Field(
        default=10, ge=0, description="Connections an engine may open beyond its pool when busy."
    )
    pool_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=MAX_POOL_TIMEOUT_SECONDS,
        allow_inf_nan=False,
        description="How long a checkout waits for a free connection before failing.",
    )

    executor: ExecutorName = Field(
        default="in_process",
        description="How a run executes its steps: in its own process one after the other, a "
        "process per step, Celery workers or a Kubernetes job per step (docs/DEPLOYMENT.md).",
    )

    celery_broker: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="URL of the Celery broker that runs with RM_EXECUTOR=celery queue their steps "
        "to, unless a run's config names another; unset: the run config's (docs/DEPLOYMENT.md).",
    )
    celery_backend: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="URL of the Celery result backend for RM_EXECUTOR=celery, unless a run's "
        "config names another; unset: the run config's, else `rpc://`.",
    )

    provider: ProviderName = "synthetic"
    provider_files_dir: Path | None = None
    second_provider: ProviderName | None = Field(
        default=None,
        description="A second source of closes the check closes_agree_with_second_source "
        "compares the stored ones with (none: the check says it has nothing to compare).",
    )
    second_provider_files_dir: Path | None = Field(
        default=None, description="The files directory of a second provider `files`."
    )
    second_provider_tolerance: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="How far (a fraction of the stored close) a second source's close may be "
        "from the stored one before the two disagree.",
    )
    second_provider_days: int = Field(
        default=30,
        ge=1,
        le=3660,
        description="Calendar days, up to the check's day, whose closes the check compares.",
    )
    synthetic_seed: int = Field(
        default=7, ge=0, description="Seed of the synthetic provider's generated history."
    )
    yfinance_batch_size: int = Field(
        default=50,
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Tickers per yfinance download call.",
    )
    yfinance_threads: int = Field(
        default=4,
        ge=1,
        le=MAX_PARALLEL,
        description="Threads yfinance downloads a batch with.",
    )
    yfinance_max_requests_per_second: float = Field(
        default=2.0,
        gt=0,
        le=1_000,
        allow_inf_nan=False,
        description="Process-wide cap on requests to Yahoo.",
    )
    yfinance_cache_ttl_minutes: float = Field(
        default=240,
        ge=0,
        le=MAX_CACHE_TTL_MINUTES,
        allow_inf_nan=False,
        description="How long Yahoo's answers are reused from `<data_dir>/yfinance-cache`, so a "
        "retried run does not download them again; 0 disables the cache.",
    )
    yfinance_cache_max_mb: float = Field(
        default=100,
        gt=0,
        le=1_048_576,
        allow_inf_nan=False,
        description="Size bound of the yfinance response cache; oldest first out.",
    )

    ingest_batch_size: int = Field(
        default=100,
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Tickers per provider call and per load transaction over up to two years; "
        "proportionally fewer over a longer range, so a batch's memory does not grow with it.",
    )
    price_load_steps: int = Field(
        default=2,
        ge=1,
        le=MAX_PARALLEL,
        description="Steps a price load's batches are dealt among, so an executor that runs steps "
        "side by side (RM_EXECUTOR) loads them in parallel; each step loads its batches in turn.",
    )
    price_load_writers: int = Field(
        default=2,
        ge=1,
        le=MAX_PARALLEL,
        description="Batches a price load step writes at once, each in a transaction on a "
        "connection of its own, while the next is fetched: the database writes one batch as the "
        "next is prepared. One writes them in turn.",
    )
    history_start: date = Field(
        default=DEFAULT_HISTORY_START,
        ge=EARLIEST_HISTORY_START,
        description="First day of the price partitions: a declared date, so the partitions are "
        "the same whenever the definitions load; history before it cannot be loaded. Not after "
        "today.",
    )
    catchup_sessions: int = Field(
        default=5,
        ge=1,
        le=MAX_CATCHUP_SESSIONS,
        description="Sessions the nightly load looks back for bars still missing (a failed day, "
        "a failed ticker, a 24/7 market's weekend) and loads again with the new day.",
    )
    slot_wait_minutes: float = Field(
        default=30,
        gt=0,
        le=MINUTES_PER_DAY,
        allow_inf_nan=False,
        description="How long a run launched by `rm-pipeline run` or `backfill` waits for a pool "
        "slot another run holds (a price load of another command) before it gives up, naming "
        "that run.",
    )
    holdings_sync_cron: str = Field(
        default="0 17 * * 1-5", description="When broker holdings are synced (New York time)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack-compatible webhook that failed runs, failed blocking checks and failed "
        "tickers are posted to; unset means they are only logged.",
    )
    holdings_dir: Path = Field(
        default=DEMO_HOLDINGS_DIR,
        description="The manual broker's files: one `<broker_account_id>.csv` per portfolio.",
    )
    freshness_lag_days: int = Field(
        default=1,
        ge=0,
        le=MAX_FRESHNESS_LAG_DAYS,
        description="Sessions a security's latest price may lag before the freshness check fails.",
    )
    universe_file: Path | None = None

    jwt_secret: SecretStr | None = None
    jwt_ttl_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_JWT_TTL_MINUTES,
        description="How long an access token is valid.",
    )
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first; older keys still decrypt.",
    )
    verification_pepper: SecretStr | None = None

    @field_validator("database_url", "dagster_database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        """A blank URL is unset; any other must be a PostgreSQL URL (`postgres_url`)."""
        if value is None or not value.strip():
            return None
        return postgres_url(value)

    @field_validator("celery_broker", "celery_backend")
    @classmethod
    def _celery_url(cls, value: str | None) -> str | None:
        """A blank URL is unset; any other must be `scheme://...` without whitespace."""
        if value is None or not value.strip():
            return None
        if not CELERY_URL.fullmatch(value.strip()):
            raise ValueError("not a URL; expected scheme://..., e.g. redis://host:6379/0")
        return value.strip()

    @field_validator("history_start")
    @classmethod
    def _history_start_not_in_the_future(cls, value: date) -> date:
        today = date.today()
        if value > today:
            raise ValueError(f"the history cannot start after today ({today})")
        return value

    @property
    def embedded(self) -> bool:
        """True when no external server is configured."""
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir.resolve() / "pgdata"


class RunSettings(BaseSettings):
    """What only `rm-pipeline run` reads, apart from `Settings`: the definitions and the other
    commands neither read nor validate it, so a bad value fails that command alone."""

    model_config = Settings.model_config

    history_years: float = Field(
        default=2.0,
        gt=0,
        le=MAX_HISTORY_YEARS,
        allow_inf_nan=False,
        description="Years of history `make run` loads, up to today; none before RM_HISTORY_START.",
    )


SETTINGS_FIELDS = {**Settings.model_fields, **RunSettings.model_fields}
"""Every setting's field, by name, whichever class reads it."""


def postgres_url(url: str) -> str:
    """`url` itself when SQLAlchemy parses it as a PostgreSQL URL with a port, if any, from 1 to
    65535; else a ValueError saying what is wrong, without repeating the URL (it may hold a
    password)."""
    port_problem = f"the port must be a number from 1 to {MAX_PORT}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a URL; expected {URL_FORM}") from None
    except ValueError:  # SQLAlchemy reads the port with int()
        raise ValueError(port_problem) from None
    if parsed.drivername not in POSTGRES_SCHEMES:
        raise ValueError(
            f"{parsed.drivername}:// is not a PostgreSQL URL; the scheme must be one of "
            f"{', '.join(POSTGRES_SCHEMES)}"
        )
    if parsed.port is not None and not 1 <= parsed.port <= MAX_PORT:
        raise ValueError(port_problem)
    return url


def environment_variable(field: str) -> str:
    """The environment variable that sets a Settings field."""
    alias = SETTINGS_FIELDS[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"RM_{field.upper()}"


def field_named(key: str) -> str | None:
    """The Settings field a validation error's location names, by its name or an alias."""
    for name, info in SETTINGS_FIELDS.items():
        alias = info.validation_alias
        if key == name or (isinstance(alias, AliasChoices) and key in alias.choices):
            return name
    return None


def shown_value(field: str | None, value: object) -> str:
    """`=value` as an error shows a bad setting: a URL with its password masked (and a libpq
    `password` parameter left out), and nothing of a URL that does not parse."""
    if field not in URL_FIELDS:
        return f"={value!r}"
    try:
        url = make_url(str(value)).difference_update_query(["password"])
    except (ArgumentError, ValueError):
        return ""
    return f"={url.render_as_string(hide_password=True)!r}"


def problem_message(problem: ErrorDetails) -> str:
    """Pydantic's message, or a validator's own without pydantic's "Value error, " before it."""
    error = problem.get("ctx", {}).get("error")
    return str(error) if problem["type"] == "value_error" and error else problem["msg"]


def describe_invalid_settings(error: ValidationError) -> str:
    """One line naming each bad environment variable and what is wrong with it."""
    problems = []
    for problem in error.errors():
        key = str(problem["loc"][0]) if problem["loc"] else ""
        name = environment_variable(key) if key in SETTINGS_FIELDS else key
        shown = shown_value(field_named(key), problem.get("input"))
        problems.append(f"{name}{shown}: {problem_message(problem)}")
    return "invalid setting " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to change them)."""
    return Settings()


def as_environment(settings: Settings) -> dict[str, str]:
    """Every setting that has a value, as the variable that sets it, with paths made absolute:
    what a process started in another working directory needs to read the same settings (`.env`
    and relative paths are read from the working directory)."""
    environment = {}
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = value.resolve()
        elif isinstance(value, bool):
            value = str(value).lower()
        environment[environment_variable(field)] = str(value)
    return environment
