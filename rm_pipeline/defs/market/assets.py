"""Assets of the market domain: `securities` and the trading-day partitioned `price_history`."""

import warnings
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import text

from rm_pipeline.defs.metadata import failures_metadata, load_metadata, preview
from rm_pipeline.defs.partitions import TRADING_DAYS
from rm_pipeline.defs.resources import MarketDataResource, WarehouseResource
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.ingest.securities import read_universe, select_universe, sync_securities
from rm_pipeline.settings import get_settings

# Range backfills (`backfill_policy`) are what keep a years-long backfill to one provider call per
# batch of tickers; Dagster still labels the parameter beta.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

PROVIDER_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dg.asset(
    group_name="market",
    kinds={"postgres"},
    retry_policy=PROVIDER_RETRIES,
)
def securities(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
) -> dg.MaterializeResult:
    """The securities master: the universe file's securities (or the provider's default universe),
    upserted on (ticker, exchange) with fresh reference data; securities no longer in the universe
    are set inactive, never deleted."""
    provider = market_data.get_provider()
    universe_file = get_settings().universe_file
    universe = read_universe(universe_file) if universe_file else None
    tickers = [entry.ticker for entry in universe] if universe else None
    result = provider.securities(tickers)
    reference = select_universe(result.frame, universe) if universe else result.frame
    context.log.info(f"{provider.name}: {len(reference)} securities in the universe")
    with warehouse.begin() as conn:
        sync = sync_securities(conn, reference, provider.name)
    return dg.MaterializeResult(
        metadata={
            **load_metadata(sync.load),
            "deactivated": dg.MetadataValue.int(sync.deactivated),
            "universe": dg.MetadataValue.text(str(universe_file or f"{provider.name} default")),
            **failures_metadata(result.failed()),
            "preview": preview(
                reference[["ticker", "exchange", "name", "security_type", "sector"]]
            ),
        }
    )


@dg.asset(
    group_name="market",
    kinds={"postgres"},
    deps=[securities],
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=PROVIDER_RETRIES,
)
def price_history(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
) -> dg.MaterializeResult:
    """Daily OHLCV bars of every active security, one partition per trading day. A backfill runs
    as one range: the provider is called once per batch of tickers for the whole range. Exchange
    holidays yield zero rows. A new split re-fetches and replaces that security's history."""
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date()
    provider = market_data.get_provider()
    report = ingest_prices(
        warehouse.engine(),
        provider,
        start,
        end,
        batch_size=get_settings().ingest_batch_size,
        progress=context.log.info,
    )
    rejected = report.rejected_rows
    if report.failed:
        context.log.warning(
            "failed tickers: "
            + ", ".join(f"{o.ticker} ({o.status}: {o.reason})" for o in report.failed)
        )
    return dg.MaterializeResult(
        metadata={
            **load_metadata(report.prices),
            "rows_rejected": dg.MetadataValue.int(len(rejected)),
            "rejections": preview(rejected, 50),
            **failures_metadata(report.failed),
            **load_metadata(report.actions, prefix="corporate_actions"),
            "history_refetched_for": dg.MetadataValue.text(", ".join(report.refetched) or "none"),
            "date_range": dg.MetadataValue.text(f"{start} to {end}"),
            "securities": dg.MetadataValue.int(report.tickers),
            "preview": preview(_latest_bars(warehouse, end)),
        }
    )


LATEST_BARS = text(
    """
    SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume
    FROM price_history p JOIN securities s ON s.id = p.security_id
    WHERE p.date = (SELECT max(date) FROM price_history WHERE date <= :end)
    ORDER BY s.ticker LIMIT 10
    """
)


def _latest_bars(warehouse: WarehouseResource, end: date) -> pd.DataFrame:
    with warehouse.engine().connect() as conn:
        return pd.read_sql_query(LATEST_BARS, conn, params={"end": end})
