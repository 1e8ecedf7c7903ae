"""`security_market_stats` (from price history, in SQL) and `fundamentals` (from the provider)."""

from typing import Any

import dagster as dg
import pandas as pd

from rm_pipeline.defs.automation import FOLLOWS_NEW_PRICES
from rm_pipeline.defs.failures import no_retry_for_bad_input
from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.metadata import (
    column_lineage,
    failures_metadata,
    preview,
    row_count,
    warehouse_asset,
)
from rm_pipeline.defs.resources import MarketDataResource, WarehouseResource
from rm_pipeline.warehouse.fundamentals import (
    FUNDAMENTALS_COLUMNS,
    active_tickers,
    apply_fundamentals,
)
from rm_pipeline.warehouse.market_stats import (
    MARKET_STATS_COLUMNS,
    refresh_market_stats,
    securities_preview,
)

MARKET_STATS_LINEAGE = column_lineage(
    {
        "current_price": [("price_history", "close")],
        "volume": [("price_history", "volume")],
        "avg_volume": [("price_history", "volume")],
        "fifty_two_week_high": [("price_history", "high"), ("price_history", "close")],
        "fifty_two_week_low": [("price_history", "low"), ("price_history", "close")],
    }
)
"""Where the market statistics come from: the latest bar, and the bars of the trailing windows
(a bar without a high or low counts with its close)."""


def _securities_metadata(warehouse: WarehouseResource) -> dict[str, Any]:
    """The row count and a preview of the securities the asset just updated."""
    with warehouse.engine().connect() as conn:
        return {
            **row_count(conn, "securities"),
            "preview": preview(securities_preview(conn)),
        }


@dg.asset(
    **warehouse_asset("analytics", "securities", writes=MARKET_STATS_COLUMNS),
    deps=[price_history],
    automation_condition=FOLLOWS_NEW_PRICES,
)
def security_market_stats(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The cached market data on `securities`, from `price_history` in one SQL statement: current
    price and volume (latest bar), average volume (the 13 weeks up to it), 52-week high and low
    (the 52 weeks up to it), as defined in rm_pipeline.core.market_statistics."""
    with warehouse.begin() as conn:
        result = refresh_market_stats(conn)
    return dg.MaterializeResult(
        metadata={
            "securities_priced": dg.MetadataValue.int(result.priced),
            "rows_updated": dg.MetadataValue.int(result.updated),
            **_securities_metadata(warehouse),
            **MARKET_STATS_LINEAGE,
        }
    )


@dg.asset(
    **warehouse_asset("analytics", "securities", writes=FUNDAMENTALS_COLUMNS),
    deps=[securities, security_market_stats],
    automation_condition=FOLLOWS_NEW_PRICES,
)
def fundamentals(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
) -> dg.MaterializeResult:
    """PE, PS, PB, EV/EBITDA, dividend yield (a fraction) and market cap from the provider's
    snapshot, with `data_source`. A value that does not fit its column is stored as NULL and
    reported, never truncated."""
    with warehouse.engine().connect() as conn:
        tickers = active_tickers(conn)
    with no_retry_for_bad_input():
        provider = market_data.get_provider()
        snapshot = provider.fundamentals(tickers)
    with warehouse.begin() as conn:
        result = apply_fundamentals(conn, snapshot.frame, provider.name)
    rejections = pd.DataFrame(
        [(r.ticker, r.field, r.value, r.reason) for r in result.rejections],
        columns=["ticker", "field", "value", "reason"],
    )
    if len(rejections):
        context.log.warning(f"{len(rejections)} fundamentals values rejected; see metadata")
    return dg.MaterializeResult(
        metadata={
            "securities_matched": dg.MetadataValue.int(result.matched),
            "rows_updated": dg.MetadataValue.int(result.updated + result.quotes_updated),
            "values_rejected": dg.MetadataValue.int(len(rejections)),
            "rejections": preview(rejections, 50),
            "unknown_tickers": dg.MetadataValue.text(", ".join(result.unknown_tickers) or "none"),
            **failures_metadata(snapshot.failed()),
            **_securities_metadata(warehouse),
        }
    )
