"""Dagster resources: the warehouse database and the market data source."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from sqlalchemy import Connection, Engine

from rm_pipeline.alerts import TIMEOUT_SECONDS, post_alert
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.providers import build_provider
from rm_pipeline.providers.base import MarketDataProvider
from rm_pipeline.settings import ProviderName, get_settings


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
    """The market data provider: `synthetic` (offline default), `yfinance` or `files`."""

    provider: ProviderName = "synthetic"
    files_dir: str | None = None

    def get_provider(self) -> MarketDataProvider:
        overrides: dict[str, object] = {"provider": self.provider}
        if self.files_dir:
            overrides["provider_files_dir"] = Path(self.files_dir)
        return build_provider(get_settings().model_copy(update=overrides))


class AlertsResource(dg.ConfigurableResource):
    """Where failures reach a person: logged always, and posted to RM_ALERT_WEBHOOK_URL when set."""

    timeout_seconds: float = TIMEOUT_SECONDS

    def send(self, message: str, log: logging.Logger | dg.DagsterLogManager | None = None) -> bool:
        """Log the alert and post it; True when the webhook accepted it."""
        (log.warning if log else logging.getLogger(__name__).warning)(f"ALERT: {message}")
        webhook = get_settings().alert_webhook_url
        return webhook is not None and post_alert(
            webhook.get_secret_value(), message, self.timeout_seconds
        )


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the settings (the environment)."""
    settings = get_settings()
    files_dir = str(settings.provider_files_dir) if settings.provider_files_dir else None
    return {
        "warehouse": WarehouseResource(),
        "market_data": MarketDataResource(provider=settings.provider, files_dir=files_dir),
        "alerts": AlertsResource(),
    }
