"""Dagster resources: the warehouse, the market data source and what each asset and check is
configured with.

Assets and checks read their configuration from their resources alone, never from the process's
settings: a run's configuration shows on the launchpad, can be changed for one run there, and a
test passes the resources it means. `rm_pipeline.settings` stays the one place that parses and
bounds the environment (and `.env`): `default_resources` fills each field from those settings
when the definitions load, in every process that loads them (the UI's code server, the one
`rm-pipeline run` and `backfill` start with the command's environment, each run's worker). A
field left out takes the setting's default, so the resources need no variable to load. The
alert webhook set in the environment is a `dg.EnvVar`, resolved when the run starts, so a URL
holding a token never shows in the UI, only the variable's name (one set in `.env` alone, which
Dagster does not read, is given as its value).
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine

from rm_pipeline.alerts import TIMEOUT_SECONDS, post_alert
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.holdings.manual import ManualCsvAdapter
from rm_pipeline.providers import build_provider
from rm_pipeline.providers.base import MarketDataProvider
from rm_pipeline.providers.registry import build_second_provider
from rm_pipeline.settings import ProviderName, Settings

WEBHOOK_VARIABLE = "RM_ALERT_WEBHOOK_URL"


def setting_default(field: str) -> Any:
    """The default of a `Settings` field: a resource field's default when none is given."""
    return Settings.model_fields[field].default


def optional_path(path: Path | None) -> str | None:
    return str(path) if path else None


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse; no URL means DATABASE_URL or else the embedded server."""

    database_url: str | None = None

    def engine(self) -> Engine:
        return get_engine(self.database_url or warehouse_url())

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine().begin() as conn:
            yield conn


class MarketDataResource(dg.ConfigurableResource):
    """The market data provider (`synthetic`, the offline default, `yfinance` or `files`), the
    universe of securities asked of it (a universe file, else the provider's default), and where
    yfinance keeps its response cache (`<data_dir>/yfinance-cache`)."""

    provider: ProviderName = setting_default("provider")
    files_dir: str | None = None
    synthetic_seed: int = setting_default("synthetic_seed")
    yfinance_batch_size: int = setting_default("yfinance_batch_size")
    yfinance_threads: int = setting_default("yfinance_threads")
    yfinance_max_requests_per_second: float = setting_default("yfinance_max_requests_per_second")
    yfinance_cache_ttl_minutes: float = setting_default("yfinance_cache_ttl_minutes")
    yfinance_cache_max_mb: float = setting_default("yfinance_cache_max_mb")
    data_dir: str = str(setting_default("data_dir"))
    universe_file: str | None = None

    def provider_settings(self, **overrides: Any) -> Settings:
        """These fields as the settings the providers are built from, nothing else read: the
        environment was read once, when the fields were filled (`default_resources`)."""
        fields = {
            "provider": self.provider,
            "provider_files_dir": Path(self.files_dir) if self.files_dir else None,
            "synthetic_seed": self.synthetic_seed,
            "yfinance_batch_size": self.yfinance_batch_size,
            "yfinance_threads": self.yfinance_threads,
            "yfinance_max_requests_per_second": self.yfinance_max_requests_per_second,
            "yfinance_cache_ttl_minutes": self.yfinance_cache_ttl_minutes,
            "yfinance_cache_max_mb": self.yfinance_cache_max_mb,
            "data_dir": Path(self.data_dir),
        }
        return Settings.model_construct(**(fields | overrides))

    def get_provider(self) -> MarketDataProvider:
        return build_provider(self.provider_settings())

    def universe_path(self) -> Path | None:
        return Path(self.universe_file) if self.universe_file else None


class PriceLoadResource(dg.ConfigurableResource):
    """How a price load is cut: tickers per batch (over up to two years), steps the batches are
    dealt among, and batches a step writes at once; and how many recent sessions the nightly
    schedule re-checks for missing bars and rates."""

    batch_size: int = setting_default("ingest_batch_size")
    steps: int = setting_default("price_load_steps")
    writers: int = setting_default("price_load_writers")
    catchup_sessions: int = setting_default("catchup_sessions")


class BrokerResource(dg.ConfigurableResource):
    """The manual broker: one `<broker_account_id>.csv` per portfolio in `holdings_dir`."""

    holdings_dir: str = str(setting_default("holdings_dir"))

    def adapter(self) -> ManualCsvAdapter:
        return ManualCsvAdapter(Path(self.holdings_dir))


class PriceChecksResource(dg.ConfigurableResource):
    """What the price checks allow: how many sessions the latest price may lag, and the second
    source of closes the stored ones are compared with (`synthetic`, `yfinance` or `files`;
    none: nothing to compare)."""

    freshness_lag_days: int = setting_default("freshness_lag_days")
    second_provider: str | None = None
    second_provider_files_dir: str | None = None
    second_provider_days: int = setting_default("second_provider_days")
    second_provider_tolerance: float = setting_default("second_provider_tolerance")

    def second_source(self, market_data: MarketDataResource) -> MarketDataProvider | None:
        """The second provider, configured as `market_data`'s would be; None when there is
        none."""
        files_dir = self.second_provider_files_dir
        return build_second_provider(
            market_data.provider_settings(
                second_provider=self.second_provider,
                second_provider_files_dir=Path(files_dir) if files_dir else None,
            )
        )


class AlertsResource(dg.ConfigurableResource):
    """Where failures reach a person: logged always, and posted to the webhook when one is set
    (Slack-compatible JSON)."""

    webhook_url: str | None = None
    timeout_seconds: float = TIMEOUT_SECONDS

    def send(self, message: str, log: logging.Logger | dg.DagsterLogManager | None = None) -> bool:
        """Log the alert and post it; True when the webhook accepted it."""
        (log.warning if log else logging.getLogger(__name__).warning)(f"ALERT: {message}")
        return self.webhook_url is not None and post_alert(
            self.webhook_url, message, self.timeout_seconds
        )


def default_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions use, configured from `settings` (the environment)."""
    return {
        "warehouse": WarehouseResource(),
        "market_data": MarketDataResource(
            provider=settings.provider,
            files_dir=optional_path(settings.provider_files_dir),
            synthetic_seed=settings.synthetic_seed,
            yfinance_batch_size=settings.yfinance_batch_size,
            yfinance_threads=settings.yfinance_threads,
            yfinance_max_requests_per_second=settings.yfinance_max_requests_per_second,
            yfinance_cache_ttl_minutes=settings.yfinance_cache_ttl_minutes,
            yfinance_cache_max_mb=settings.yfinance_cache_max_mb,
            data_dir=str(settings.data_dir.resolve()),
            universe_file=optional_path(settings.universe_file),
        ),
        "price_load": PriceLoadResource(
            batch_size=settings.ingest_batch_size,
            steps=settings.price_load_steps,
            writers=settings.price_load_writers,
            catchup_sessions=settings.catchup_sessions,
        ),
        "broker": BrokerResource(holdings_dir=str(settings.holdings_dir)),
        "price_checks": PriceChecksResource(
            freshness_lag_days=settings.freshness_lag_days,
            second_provider=settings.second_provider,
            second_provider_files_dir=optional_path(settings.second_provider_files_dir),
            second_provider_days=settings.second_provider_days,
            second_provider_tolerance=settings.second_provider_tolerance,
        ),
        "alerts": AlertsResource(webhook_url=webhook_url(settings)),
    }


def webhook_url(settings: Settings) -> str | None:
    """The alert webhook as the alerts resource is given it: the variable, when the environment
    holds it (the UI shows its name), else the value read from `.env`, if any."""
    if settings.alert_webhook_url is None:
        return None
    if WEBHOOK_VARIABLE in os.environ:
        return dg.EnvVar(WEBHOOK_VARIABLE)
    return settings.alert_webhook_url.get_secret_value()
