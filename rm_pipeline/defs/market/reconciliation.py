"""The check of stored closes against a second source (RM_SECOND_PROVIDER), beside the other
checks of `price_history`. Not blocking: a disagreement says one of two sources is wrong, not
which; the analytics keep following the stored prices while someone looks."""

from datetime import timedelta

import dagster as dg

from rm_pipeline.defs.market.assets import price_history
from rm_pipeline.defs.partitions import partitions_today
from rm_pipeline.defs.resources import (
    MarketDataResource,
    PriceChecksResource,
    WarehouseResource,
)
from rm_pipeline.warehouse.reconciliation import describe, reconcile

SAMPLE_ROWS = 50


@dg.asset_check(
    asset=price_history,
    name="closes_agree_with_second_source",
    description="The stored closes of the last RM_SECOND_PROVIDER_DAYS days agree, within "
    "RM_SECOND_PROVIDER_TOLERANCE, with RM_SECOND_PROVIDER's on every session both have; every "
    "disagreement is named. Passes, saying so, when no second source is configured.",
)
def closes_agree_with_second_source(
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    price_checks: PriceChecksResource,
) -> dg.AssetCheckResult:
    provider = price_checks.second_source(market_data)
    if provider is None:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"second_source": dg.MetadataValue.text("none configured")},
        )
    end = partitions_today()
    start = end - timedelta(days=price_checks.second_provider_days - 1)
    with warehouse.engine().connect() as conn:
        found = reconcile(conn, provider, start, end, price_checks.second_provider_tolerance)
    apart = found.disagreements
    named = describe(apart)
    return dg.AssetCheckResult(
        passed=apart.empty and found.compared > 0,
        description=(
            f"{len(apart)} of {found.compared} closes disagree with {found.source}"
            + (f": {'; '.join(named[:10])}" if named else "")
            if found.compared
            else f"{found.source} has no close on any stored session from {start} to {end}"
        ),
        metadata={
            "second_source": dg.MetadataValue.text(found.source),
            "range": dg.MetadataValue.text(f"{start} to {end}"),
            "tolerance": dg.MetadataValue.float(price_checks.second_provider_tolerance),
            "compared": dg.MetadataValue.int(found.compared),
            "disagreements": dg.MetadataValue.int(len(apart)),
            "sample": dg.MetadataValue.md(
                apart.head(SAMPLE_ROWS).to_markdown(index=False) if len(apart) else "_none_"
            ),
            "second_source_failed": dg.MetadataValue.text(
                ", ".join(f"{o.ticker} ({o.status})" for o in found.failed) or "none"
            ),
        },
    )
