"""Assets of the market domain: `securities`, and the trading-day partitioned `price_history`
and `fx_rates`."""

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import Connection

from rm_pipeline.core.calendars import days_label
from rm_pipeline.core.words import counted
from rm_pipeline.db.loader import LoadResult
from rm_pipeline.defs.failures import no_retry_for_bad_input
from rm_pipeline.defs.market.partitions import TRADING_DAYS
from rm_pipeline.defs.metadata import (
    estimated_row_count,
    failed_count,
    failures_metadata,
    load_metadata,
    preview,
    row_count,
    warehouse_asset,
)
from rm_pipeline.defs.partitions import partition_key_of
from rm_pipeline.defs.resources import (
    AlertsResource,
    MarketDataResource,
    PriceLoadResource,
    WarehouseResource,
)
from rm_pipeline.ingest.fx import ingest_fx_rates, latest_rates, stored_rates_per_day
from rm_pipeline.ingest.prices import (
    PriceBatch,
    PriceLoadReport,
    latest_bars,
    load_price_batches,
    plan_price_batches,
    share_batches,
    stored_bars_per_day,
)
from rm_pipeline.ingest.quarantine import (
    RefusedTicker,
    list_command,
    quarantine,
    refused_per_ticker,
    refused_table,
)
from rm_pipeline.ingest.securities import (
    SECURITIES_COLUMNS,
    read_universe,
    select_universe,
    sync_securities,
)
from rm_pipeline.providers.base import TickerOutcome, TickerStatus
from rm_pipeline.warehouse.gaps import Gap, gap_lines, open_gaps

PRICE_LOADS_POOL = "price_loads"
"""The pool of the price load's steps (`load_batches`): dagster.yaml limits it to one, enforced per
step, so no two shares of batches load at once, of one run or of two; two overlapping loads would
fetch and write the same bars twice."""

FX_LOADS_POOL = "fx_loads"
"""One exchange-rate load at a time, for the same reason; apart from the price loads, which write
other rows."""

PROVIDER_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dg.asset(
    **warehouse_asset("market", "securities", writes=SECURITIES_COLUMNS),
    retry_policy=PROVIDER_RETRIES,
)
def securities(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """The securities master: the universe file's securities (or the provider's default universe),
    upserted on (ticker, exchange) with fresh reference data; securities no longer in the universe
    are set inactive, never deleted. A ticker the provider failed on or had no data for is neither
    created nor deactivated; failed tickers are alerted. Price rows the provider refused while
    answering (a price file none of whose rows survive) are quarantined."""
    with no_retry_for_bad_input():
        provider = market_data.get_provider()
        universe_file = market_data.universe_path()
        universe = read_universe(universe_file) if universe_file else None
        tickers = [entry.ticker for entry in universe] if universe else None
        result = provider.securities(tickers)
    reference = select_universe(result.frame, universe) if universe else result.frame
    context.log.info(f"{provider.name}: {len(reference)} securities in the universe")
    unanswered = [o.ticker for o in result.outcomes if o.status is not TickerStatus.OK]
    with warehouse.begin() as conn:
        sync = sync_securities(conn, reference, provider.name, unanswered)
        refused = quarantine(
            conn, result.rejected, "price_history", provider.name, context.run.run_id
        )
        rows = row_count(conn, "securities")
    by_ticker = refused_per_ticker([result.rejected])
    if failed := result.failed():
        then = "each left as it was, neither created nor deactivated"
        message = failed_tickers_message("securities", failed, len(result.outcomes), then=then)
        alerts.send(message, context.log)
    return dg.MaterializeResult(
        metadata={
            **rows,
            **load_metadata(sync.load),
            "deactivated": dg.MetadataValue.int(sync.deactivated),
            "moved_exchange": dg.MetadataValue.text(", ".join(map(str, sync.moved)) or "none"),
            "universe": dg.MetadataValue.text(str(universe_file or f"{provider.name} default")),
            **failures_metadata(failed),
            "quarantined_by_run": dg.MetadataValue.int(refused.rows),
            **refused_metadata(by_ticker, context.run.run_id),
            "preview": preview(
                reference[["ticker", "exchange", "name", "security_type", "sector"]]
            ),
        }
    )


def daily_load(table: str) -> dict[str, Any]:
    """What a load of provider data by weekday declares, as an asset or a graph-backed asset:
    its table and the weekday partitions loaded a range at a time."""
    return {
        **warehouse_asset("market", table),
        "partitions_def": TRADING_DAYS,
        "backfill_policy": dg.BackfillPolicy.single_run(),
    }


@dg.op(retry_policy=PROVIDER_RETRIES, ins={"securities": dg.In(dg.Nothing)}, out=dg.DynamicOut())
def plan_batches(
    context: dg.OpExecutionContext, warehouse: WarehouseResource, price_load: PriceLoadResource
) -> Iterator[dg.DynamicOutput[list[PriceBatch]]]:
    """The active securities of the run's range in batches (`batch_size`, fewer over long
    ranges), dealt among `steps` shares, one output (one step) each."""
    start, end = partition_dates(context)
    plan = plan_price_batches(warehouse.engine(), start, end, price_load.batch_size)
    shares = share_batches(plan, price_load.steps)
    context.log.info(
        f"{days_label(start, end)}: {counted(len(plan), 'batch')} in {counted(len(shares), 'step')}"
    )
    for number, share in enumerate(shares, start=1):
        yield dg.DynamicOutput(share, mapping_key=f"share_{number}")


@dg.op(retry_policy=PROVIDER_RETRIES, pool=PRICE_LOADS_POOL)
def load_batches(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    price_load: PriceLoadResource,
    share: list[PriceBatch],
) -> PriceLoadReport:
    """A share of the batches: each batch's bars and corporate actions for the whole range in one
    transaction, the next batch fetched while one is written and `writers` written at once. A retry reloads the share, its committed batches idempotently."""
    start, end = partition_dates(context)
    with no_retry_for_bad_input():
        return load_price_batches(
            warehouse.engine(),
            market_data.get_provider(),
            share,
            start,
            end,
            progress=context.log.info,
            run_id=context.run.run_id,
            writers=price_load.writers,
        )


@dg.op(retry_policy=PROVIDER_RETRIES, out=dg.Out(dg.Nothing))
def record_load(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    alerts: AlertsResource,
    shares: list[PriceLoadReport],
) -> None:
    """The shares' reports as one load's: each partition's own counts and the run's count of
    failed tickers; on the latest partition a preview, the failures, corporate actions and
    quarantine; the range's totals in the log; failed tickers alerted."""
    start, end = partition_dates(context)
    report = PriceLoadReport(start=start, end=end, run_id=context.run.run_id)
    for loaded in shares:
        report.add(loaded)
    rejected = report.rejected_rows
    by_ticker = refused_per_ticker(report.rejected)
    with warehouse.engine().connect() as conn:
        stored = read_stored_history(conn, start, end)
    add_partition_metadata(
        context,
        PartitionCounts(report.prices, rejected, stored.bars_per_day),
        stored.latest,
        {
            **failures_metadata(report.failed),
            **load_metadata(report.actions, prefix="corporate_actions"),
            "history_refetched_for": dg.MetadataValue.text(", ".join(report.refetched) or "none"),
            "splits_inferred": dg.MetadataValue.md(
                "\n".join(f"- {line}" for line in report.inferred) or "none"
            ),
            "quarantined_by_run": dg.MetadataValue.int(report.quarantined.rows),
            **refused_metadata(by_ticker, context.run.run_id),
            "securities": dg.MetadataValue.int(report.tickers),
            "open_gaps": dg.MetadataValue.int(len(stored.gaps)),
            "table_rows_estimated": stored.table_rows,
            "coverage_chart": dg.MetadataValue.md(stored.coverage),
        },
    )
    context.log.info(
        f"{days_label(start, end)} ({counted(len(context.partition_keys), 'partition')}): "
        f"{report.prices.inserted} inserted, {report.prices.updated} updated, "
        f"{report.prices.unchanged} unchanged, {len(rejected)} rejected, "
        f"{len(report.failed)} failed tickers"
    )
    if report.gaps:
        context.log.warning(f"sessions missing: {'; '.join(gap_lines(report.gaps, 10))}")
    for line in report.inferred:
        context.log.warning(f"split inferred from a restated history: {line}")
    if report.failed:
        message = failed_tickers_message(
            f"price_history {days_label(start, end)}", report.failed, report.tickers
        )
        alerts.send(message, context.log)
    context.add_output_metadata(failed_count(report.failed))


@dg.graph_asset(
    **daily_load("price_history"), ins={"securities": dg.AssetIn(dagster_type=dg.Nothing)}
)
def price_history(securities: None) -> Any:
    """Daily OHLCV bars of every active security, one partition per trading day. A backfill runs
    as one range: the active securities are planned in batches of tickers, each batch a step of
    its own (one provider call for the whole range, one transaction), which an executor may run
    side by side; a last step records the load. Exchange holidays yield zero rows. A new split
    re-fetches and replaces that security's history. Each partition's materialization carries
    that day's own counts; the range's totals are logged."""
    return record_load(plan_batches(securities=securities).map(load_batches).collect())


@dg.asset(
    **daily_load("fx_rates"), deps=[securities], retry_policy=PROVIDER_RETRIES, pool=FX_LOADS_POOL
)
def fx_rates(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    market_data: MarketDataResource,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """Daily exchange rates in US dollars of every major currency that active securities,
    portfolios and trades are in (GBp counts as GBP), one partition per weekday, each currency
    fetched as its Yahoo pair (`EURUSD=X`). A backfill runs as one range and one provider call.
    A failed pair costs only itself; each partition carries that day's own counts."""
    start, end = partition_dates(context)
    with no_retry_for_bad_input():
        report = ingest_fx_rates(
            warehouse.engine(), market_data.get_provider(), start, end, run_id=context.run.run_id
        )
    with warehouse.engine().connect() as conn:
        stored = stored_rates_per_day(conn, start, end)
        latest = latest_rates(conn, end)
    add_partition_metadata(
        context,
        PartitionCounts(report.rates, report.rejected, stored),
        latest,
        {
            **failures_metadata(report.failed),
            "currencies": dg.MetadataValue.text(", ".join(report.currencies) or "none"),
            "quarantined_by_run": dg.MetadataValue.int(report.quarantined.rows),
        },
    )
    context.log.info(
        f"{days_label(start, end)}: rates of {', '.join(report.currencies) or 'no currency'}: "
        f"{report.rates.inserted} inserted, {report.rates.updated} updated, "
        f"{report.rates.unchanged} unchanged, {len(report.rejected)} rejected, "
        f"{len(report.failed)} failed pairs"
    )
    if report.failed:
        message = failed_tickers_message(
            f"fx_rates {days_label(start, end)}", report.failed, len(report.currencies), "pairs"
        )
        alerts.send(message, context.log)
    return dg.MaterializeResult(metadata=failed_count(report.failed))


PARTITION_COUNTS_LIMIT = 800
"""The longest range (in partitions: three years of weekdays) whose partitions each get their
own counts. A longer range's counts go on its last partition, for the whole range: Dagster copies
and checks all the metadata already added on every `add_asset_metadata` call, so a count per
partition costs time quadratic in the partitions (3.9 s of a 15-year backfill's 3,914 partitions
over the two loads, in a profile of the run's process)."""


@dataclass(frozen=True)
class PartitionCounts:
    """What a load's partitions are counted from: the rows it loaded (`load`, counted by date),
    the rows it rejected (a RejectedFrame) and the rows stored per day once it committed."""

    load: LoadResult
    rejected: pd.DataFrame
    stored: Mapping[date, int]


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    counts: PartitionCounts,
    latest: pd.DataFrame,
    of_the_run: Mapping[str, Any],
) -> None:
    """Each partition's own counts (`partition_metadata`), or over a range longer than
    `PARTITION_COUNTS_LIMIT` the range's counts on its last partition (`range_metadata`); on the
    last partition, a preview of the latest rows and what the run did beyond its partitions'
    counts (`of_the_run`). Only the count of failed tickers goes on every partition
    (`failed_count`, as output metadata), since each lacks their rows: a 15-year range has 3,914
    partitions, and every entry repeated on each makes every event bigger to write and to read."""
    keys = context.partition_keys
    last: dict[str, Any] = {}
    if len(keys) > PARTITION_COUNTS_LIMIT:
        last = range_metadata(keys, counts)
    else:
        for key, own in partition_metadata(keys, counts).items():
            context.add_asset_metadata(own, partition_key=key)
    context.add_asset_metadata(
        {**last, "preview": preview(latest), **of_the_run}, partition_key=keys[-1]
    )


def refused_metadata(by_ticker: list[RefusedTicker], run_id: str) -> dict[str, Any]:
    """What a load refused into the quarantine: the tickers (a table, and their counts for the
    run summary) and the command listing the rows."""
    return {
        "quarantined_tickers": dg.MetadataValue.md(refused_table(by_ticker)),
        "quarantined_per_ticker": dg.MetadataValue.json(
            {refused.ticker: refused.rows for refused in by_ticker}
        ),
        "quarantine": dg.MetadataValue.text(list_command(run_id)),
    }


@dataclass(frozen=True)
class StoredHistory:
    """What a price load's record reads of the stored history once the load committed."""

    bars_per_day: Mapping[date, int]
    latest: pd.DataFrame
    gaps: Sequence[Gap]
    table_rows: dg.MetadataValue
    coverage: str


def read_stored_history(conn: Connection, start: date, end: date) -> StoredHistory:
    """The bars stored per day of [start, end], the latest bars on `end`, the open gaps, the
    table's estimated rows and the coverage chart."""
    return StoredHistory(
        bars_per_day=stored_bars_per_day(conn, start, end),
        latest=latest_bars(conn, end),
        gaps=open_gaps(conn),
        table_rows=estimated_row_count(conn, "price_history"),
        coverage=price_history_coverage(conn),
    )


def price_history_coverage(conn: Connection) -> str:
    """The coverage chart of the whole price history (securities per year, missing sessions)."""
    # imported here: matplotlib (0.4 s) loads only in the step that draws
    from rm_pipeline.charts.coverage import coverage_markdown

    return coverage_markdown(conn)


def partition_dates(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
) -> tuple[date, date]:
    """The first and last calendar day of the run's partitions (a Friday's runs to Sunday)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


ALERT_TICKERS = 10
"""Tickers named in a failed-tickers alert; the rest are counted (all are in the metadata)."""


def failed_tickers_message(
    scope: str,
    failed: Sequence[TickerOutcome],
    requested: int,
    what: str = "tickers",
    then: str = "the next nightly load retries them",
) -> str:
    """One line for a person: what ran (`scope`: the asset, and the range a load covered), how
    many tickers (or pairs) failed, which, the first reason, and what becomes of them."""
    named = ", ".join(o.ticker for o in failed[:ALERT_TICKERS])
    more = len(failed) - ALERT_TICKERS
    return (
        f"{scope}: {len(failed)} of {requested} {what} "
        f"failed: {named}{f' and {more} more' if more > 0 else ''} "
        f"(first: {failed[0].status}: {failed[0].reason}); {then}"
    )


def partition_metadata(keys: Sequence[str], counts: PartitionCounts) -> dict[str, dict[str, Any]]:
    """Each partition's own counts: the rows its days gained, changed, kept and had rejected,
    and the rows it holds now (`dagster/row_count`). A weekend's rows count towards Friday's
    partition, which holds them."""
    loads: dict[str, LoadResult] = defaultdict(LoadResult)
    for day, load in counts.load.groups.items():
        loads[partition_key_of(day)] += load
    rows = rows_per_partition(counts.stored)
    rejected = counts.rejected
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


def range_metadata(keys: Sequence[str], counts: PartitionCounts) -> dict[str, Any]:
    """A range's counts, for its last partition: the rows the range gained, changed, kept and
    had rejected, the partitions they cover (`counts_cover`), and the rows the last partition
    holds now (`dagster/row_count`). The run summary adds them up as it adds up partitions'."""
    metadata = {
        **load_metadata(counts.load),
        "rows_rejected": dg.MetadataValue.int(len(counts.rejected)),
        "counts_cover": dg.MetadataValue.text(
            f"{keys[0]} to {keys[-1]} ({counted(len(keys), 'partition')})"
        ),
        "dagster/row_count": dg.MetadataValue.int(rows_per_partition(counts.stored)[keys[-1]]),
    }
    if len(counts.rejected):
        metadata["rejections"] = preview(counts.rejected, 50)
    return metadata


def rows_per_partition(stored: Mapping[date, int]) -> Counter[str]:
    rows: Counter[str] = Counter()
    for day, count in stored.items():
        rows[partition_key_of(day)] += count
    return rows
