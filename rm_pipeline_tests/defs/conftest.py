"""Helpers for materializing the project's assets in-process against the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import dagster as dg
import pytest

from rm_pipeline.defs.resources import (
    AlertsResource,
    BrokerResource,
    MarketDataResource,
    PriceChecksResource,
    PriceLoadResource,
    WarehouseResource,
)
from rm_pipeline.providers.base import (
    MarketDataProvider,
    ProviderResult,
    TickerOutcome,
    TickerStatus,
)
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.run_summary import JobSummary, add_materialization
from rm_pipeline_tests.defs.webhook import Webhook, local_webhook


def serving(provider: MarketDataProvider, **config: Any) -> MarketDataResource:
    """A market data resource (configured with `config`) whose provider is the object given."""

    class Serving(MarketDataResource):
        def get_provider(self) -> MarketDataProvider:
            return provider

    return Serving(**config)


def all_resources(
    provider: MarketDataProvider | None = None, **overrides: Any
) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions use, at the settings' defaults, serving `provider` (the
    synthetic one by default); `overrides` replace resources by key."""
    return {
        "warehouse": WarehouseResource(),
        "market_data": serving(provider or SyntheticProvider(seed=7)),
        "price_load": PriceLoadResource(),
        "broker": BrokerResource(),
        "price_checks": PriceChecksResource(),
        "alerts": AlertsResource(),
        **overrides,
    }


class FailingTicker:
    """The synthetic provider, except that one ticker's bars fail as a source error would."""

    def __init__(self, ticker: str) -> None:
        self.inner = SyntheticProvider(seed=7)
        self.name = self.inner.name
        self.ticker = ticker

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        result = self.inner.daily_bars(tickers, start, end)
        failed = TickerOutcome(self.ticker, TickerStatus.ERROR, "HTTP 500 from the source")
        return replace(
            result,
            frame=result.frame[result.frame["ticker"] != self.ticker].reset_index(drop=True),
            outcomes=[o if o.ticker != self.ticker else failed for o in result.outcomes],
        )


Materialize = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def materialize(database_url: str) -> Materialize:
    """Materialize assets in-process with the test warehouse and a chosen provider.

    Each run happens inside a fresh ephemeral instance (the run's own unless the call names
    another): entering an instance makes its state storage the one Dagster reads when it loads
    definitions, and leaving it does not undo that, so a run outside one would read the storage
    of whatever instance was entered last, which may have been garbage collected since."""

    def run(
        assets: Sequence[Any],
        provider: MarketDataProvider | None = None,
        resources: dict[str, Any] | None = None,
        instance: dg.DagsterInstance | None = None,
        **kwargs: Any,
    ) -> dg.ExecuteInProcessResult:
        with dg.DagsterInstance.ephemeral() as ephemeral:
            return dg.materialize(
                assets,
                instance=instance or ephemeral,
                resources=all_resources(provider, **(resources or {})),
                **kwargs,
            )

    return run


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The asset's materialization metadata; over a range run, the counters summed over its
    partitions (as `rm-pipeline run` reports them) and the last partition's other values."""
    summary = JobSummary(job="test", success=result.success, run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        assert event.materialization is not None
        add_materialization(summary, event.materialization)
    assert asset in summary.materialized, f"{asset} was not materialized"
    return summary.materialized[asset]


def partition_metadata(
    result: dg.ExecuteInProcessResult | dg.JobExecutionResult, asset: str
) -> dict[str, dict[str, Any]]:
    """Each partition's own materialization metadata, by partition key."""
    return {
        str(e.materialization.partition): {
            k: v.value for k, v in e.materialization.metadata.items()
        }
        for e in result.get_asset_materialization_events()
        if e.materialization is not None and e.asset_key.to_user_string() == asset
    }


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A local webhook receiving the alerts."""
    with local_webhook() as hook:
        yield hook


def alerting_to(webhook: Webhook) -> dict[str, AlertsResource]:
    """The resources posting alerts to `webhook`."""
    return {"alerts": AlertsResource(webhook_url=webhook.url)}
