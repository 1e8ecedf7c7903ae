"""All runtime settings, read once from the environment (and an optional `.env` file).

Secrets are `SecretStr`, so they never show up in reprs, logs or the CLI's output.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderName = Literal["synthetic", "yfinance", "files"]
ExecutorName = Literal["in_process", "multiprocess", "celery", "k8s"]
DEMO_HOLDINGS_DIR = Path(__file__).resolve().parent / "demo" / "holdings"


class Settings(BaseSettings):
    """Settings for the pipeline, the CLI and Alembic."""

    model_config = SettingsConfigDict(env_prefix="RM_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RM_DATABASE_URL"),
        description="SQLAlchemy URL of the warehouse; unset means the embedded PostgreSQL.",
    )
    dagster_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DAGSTER_PG_URL", "RM_DAGSTER_DATABASE_URL"),
        description="URL of Dagster's own storage; unset means a `dagster` database beside the warehouse.",
    )
    data_dir: Path = Field(
        default=Path(".rm_pipeline"), description="Local state: embedded server."
    )
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout_seconds: float = 30.0

    executor: ExecutorName = Field(
        default="in_process",
        description="How a run executes its steps: in its own process one after the other, a "
        "process per step, Celery workers or a Kubernetes job per step (docs/DEPLOYMENT.md).",
    )

    provider: ProviderName = "synthetic"
    provider_files_dir: Path | None = None
    synthetic_seed: int = 7
    yfinance_batch_size: int = 50
    yfinance_threads: int = 4
    yfinance_max_requests_per_second: float = 2.0
    yfinance_cache_ttl_minutes: float = Field(
        default=240,
        ge=0,
        description="How long Yahoo's answers are reused from `<data_dir>/yfinance-cache`, so a "
        "retried run does not download them again; 0 disables the cache.",
    )
    yfinance_cache_max_mb: float = Field(
        default=100,
        gt=0,
        description="Size bound of the yfinance response cache; oldest first out.",
    )

    ingest_batch_size: int = Field(
        default=50,
        description="Tickers per provider call and per load transaction over up to two years; "
        "proportionally fewer over a longer range, so a batch's memory does not grow with it.",
    )
    price_load_steps: int = Field(
        default=2,
        ge=1,
        description="Steps a price load's batches are dealt among, so an executor that runs steps "
        "side by side (RM_EXECUTOR) loads them in parallel; each step loads its batches in turn.",
    )
    price_load_writers: int = Field(
        default=2,
        ge=1,
        description="Batches a price load step writes at once, each in a transaction on a "
        "connection of its own, while the next is fetched: the database writes one batch as the "
        "next is prepared. One writes them in turn.",
    )
    history_years: float = Field(
        default=2.0, description="Years of history `make run` loads when RM_HISTORY_START is unset."
    )
    history_start: date | None = Field(
        default=None,
        description="First day of the price history: where the partitions start and what "
        "`make run` loads from. Unset means RM_HISTORY_YEARS before today.",
    )
    catchup_sessions: int = Field(
        default=5,
        description="Sessions the nightly load looks back for bars still missing (a failed day, "
        "a failed ticker, a 24/7 market's weekend) and loads again with the new day.",
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
    freshness_lag_days: int = 1
    universe_file: Path | None = None

    jwt_secret: SecretStr | None = None
    jwt_ttl_minutes: int = 60
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first; older keys still decrypt.",
    )
    verification_pepper: SecretStr | None = None

    @property
    def embedded(self) -> bool:
        """True when no external server is configured."""
        return self.database_url is None

    def history_start_date(self, today: date) -> date:
        """RM_HISTORY_START, or RM_HISTORY_YEARS before `today`."""
        if self.history_start is not None:
            return self.history_start
        return today - timedelta(days=round(self.history_years * 365.25))

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir.resolve() / "pgdata"


def environment_variable(field: str) -> str:
    """The environment variable that sets a Settings field."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"RM_{field.upper()}"


def describe_invalid_settings(error: ValidationError) -> str:
    """One line naming each bad environment variable and what is wrong with it."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = environment_variable(field) if field in Settings.model_fields else field
        problems.append(f"{name}={problem.get('input')!r}: {problem['msg']}")
    return "invalid setting " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to change them)."""
    return Settings()
