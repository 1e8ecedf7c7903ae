"""Assets of the market domain: `securities` and the trading-day partitioned `price_history`."""

import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult
from rm_pipeline.defs.failures import no_retry_for_bad_input
from rm_pipeline.defs.metadata import (
    failures_metadata,
    load_metadata,
    preview,
    row_count,
    warehouse_asset,
)
from rm_pipeline.defs.partitions import TRADING_DAYS, partition_key_of
from rm_pipeline.defs.resources import AlertsResource, MarketDataResource, WarehouseResource
from rm_pipeline.ingest.prices import PriceLoadReport, ingest_prices
from rm_pipeline.ingest.securities import read_universe, select_universe, sync_securities
from rm_pipeline.providers.base import TickerStatus
from rm_pipeline.settings import get_settings

# Range backfills (`backfill_policy`) are what keep a years-long backfill to one provider call per
# batch of tickers; Dagster still labels the parameter beta.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

PRICE_LOADS_POOL = "price_loads"
"""One price load at a time (dagster.yaml limits the pool): two overlapping loads would fetch and
write the same bars twice."""

PROVIDER_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dg.asset(
    **warehouse_asset("market", "securities"),
    retry_policy=PROVIDER_RETRIES,
)
def securities(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
) -> dg.MaterializeResult:
    """The securities master: the universe file's securities (or the provider's default universe),
    upserted on (ticker, exchange) with fresh reference data; securities no longer in the universe
    are set inactive, never deleted. A ticker the provider failed on or had no data for is neither
    created nor deactivated."""
    with no_retry_for_bad_input():
        provider = market_data.get_provider()
        universe_file = get_settings().universe_file
        universe = read_universe(universe_file) if universe_file else None
        tickers = [entry.ticker for entry in universe] if universe else None
        result = provider.securities(tickers)
    reference = select_universe(result.frame, universe) if universe else result.frame
    context.log.info(f"{provider.name}: {len(reference)} securities in the universe")
    unanswered = [o.ticker for o in result.outcomes if o.status is not TickerStatus.OK]
    with warehouse.begin() as conn:
        sync = sync_securities(conn, reference, provider.name, unanswered)
        rows = row_count(conn, "securities")
    return dg.MaterializeResult(
        metadata={
            **rows,
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
    **warehouse_asset("market", "price_history"),
    deps=[securities],
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=PROVIDER_RETRIES,
    pool=PRICE_LOADS_POOL,
)
def price_history(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """Daily OHLCV bars of every active security, one partition per trading day. A backfill runs
    as one range: the provider is called once per batch of tickers for the whole range. Exchange
    holidays yield zero rows. A new split re-fetches and replaces that security's history. Each
    partition's materialization carries that day's own counts; the range's totals are logged."""
    window = context.partition_time_window
    start, end = window.start.date(), (window.end - timedelta(days=1)).date()
    with no_retry_for_bad_input():
        report = ingest_prices(
            warehouse.engine(),
            market_data.get_provider(),
            start,
            end,
            batch_size=get_settings().ingest_batch_size,
            progress=context.log.info,
            run_id=context.run.run_id,
        )
    rejected = report.rejected_rows
    with warehouse.engine().connect() as conn:
        stored = stored_rows_per_day(conn, start, end)
        latest = _latest_bars(conn, end)
    for key, counts in partition_metadata(context.partition_keys, report, stored).items():
        context.add_asset_metadata(counts, partition_key=key)
    context.add_asset_metadata(
        {"preview": preview(latest)}, partition_key=context.partition_keys[-1]
    )
    context.log.info(
        f"{start} to {end} ({len(context.partition_keys)} partitions): "
        f"{report.prices.inserted} inserted, {report.prices.updated} updated, "
        f"{report.prices.unchanged} unchanged, {len(rejected)} rejected, "
        f"{len(report.failed)} failed tickers"
    )
    if report.failed:
        alerts.send(failed_tickers_message(start, end, report), context.log)
    return dg.MaterializeResult(
        metadata={
            **failures_metadata(report.failed),
            **load_metadata(report.actions, prefix="corporate_actions"),
            "history_refetched_for": dg.MetadataValue.text(", ".join(report.refetched) or "none"),
            "quarantined_by_run": dg.MetadataValue.int(report.quarantined.rows),
            "quarantine": dg.MetadataValue.text(f"table quarantine, run_id {context.run.run_id}"),
            "securities": dg.MetadataValue.int(report.tickers),
        }
    )


ALERT_TICKERS = 10
"""Tickers named in a failed-tickers alert; the rest are counted (all are in the metadata)."""


def failed_tickers_message(start: date, end: date, report: PriceLoadReport) -> str:
    """One line for a person: how many tickers failed, which, and the first reason."""
    named = ", ".join(o.ticker for o in report.failed[:ALERT_TICKERS])
    more = len(report.failed) - ALERT_TICKERS
    return (
        f"price_history {start} to {end}: {len(report.failed)} of {report.tickers} tickers "
        f"failed: {named}{f' and {more} more' if more > 0 else ''} "
        f"(first: {report.failed[0].status}: {report.failed[0].reason}); the next nightly load "
        "retries them"
    )


LATEST_BARS = text(
    """
    SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume
    FROM price_history p JOIN securities s ON s.id = p.security_id
    WHERE p.date = (SELECT max(date) FROM price_history WHERE date <= :end)
    ORDER BY s.ticker LIMIT 10
    """
)
ROWS_PER_DAY = text(
    "SELECT date, count(*) FROM price_history WHERE date BETWEEN :start AND :end GROUP BY date"
)


def _latest_bars(conn: Connection, end: date) -> pd.DataFrame:
    return pd.read_sql_query(LATEST_BARS, conn, params={"end": end})


def stored_rows_per_day(conn: Connection, start: date, end: date) -> dict[date, int]:
    """Bars stored per date over [start, end], in one query."""
    return {day: rows for day, rows in conn.execute(ROWS_PER_DAY, {"start": start, "end": end})}


def partition_metadata(
    keys: Sequence[str], report: PriceLoadReport, stored: Mapping[date, int]
) -> dict[str, dict[str, Any]]:
    """Each partition's own counts: the bars its days gained, changed, kept and had rejected, and
    the bars it holds now (`dagster/row_count`). A weekend's bars count towards Friday's
    partition, which holds them."""
    loads: dict[str, LoadResult] = defaultdict(LoadResult)
    for day, counts in report.prices.groups.items():
        loads[partition_key_of(day)] += counts
    rows: Counter[str] = Counter()
    for day, count in stored.items():
        rows[partition_key_of(day)] += count
    rejected = report.rejected_rows
    rejected_keys = pd.Series(
        [partition_key_of(day) for day in pd.to_datetime(rejected["date"]).dt.date], dtype=object
    )
    metadata = {}
    for key in keys:
        own_rejections = rejected[(rejected_keys == key).to_numpy()]
        metadata[key] = {
            **load_metadata(loads[key]),
            "rows_rejected": dg.MetadataValue.int(len(own_rejections)),
            "dagster/row_count": dg.MetadataValue.int(rows[key]),
        }
        if len(own_rejections):
            metadata[key]["rejections"] = preview(own_rejections, 50)
    return metadata
