"""The nightly price and exchange-rate load and the evening check of the stored prices and
rates."""

from datetime import datetime

import dagster as dg

from rm_pipeline.defs.market.jobs import check_prices, ingest_price_history
from rm_pipeline.defs.market.partitions import TRADING_DAYS
from rm_pipeline.defs.partitions import partition_key_of, range_tags
from rm_pipeline.defs.resources import PriceLoadResource, WarehouseResource
from rm_pipeline.ingest.catchup import first_missing_session
from rm_pipeline.ingest.fx import first_missing_rate

NEW_YORK = "America/New_York"


@dg.schedule(
    job=ingest_price_history,
    cron_schedule="30 18 * * 1-5",
    execution_timezone=NEW_YORK,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After the US close (18:30 New York, Monday to Friday): one run loading the day "
    "just closed (bars and exchange rates), starting earlier when the last RM_CATCHUP_SESSIONS "
    "sessions of any active security still lack bars (a failed day or ticker, a 24/7 market's "
    "weekend), or the last as many weekdays of a needed currency lack rates.",
)
def nightly_price_history(
    context: dg.ScheduleEvaluationContext,
    warehouse: WarehouseResource,
    price_load: PriceLoadResource,
) -> dg.RunRequest:
    """The day's partition, or the range from the earliest incomplete recent session to it."""
    day = scheduled_day(context)
    lookback = price_load.catchup_sessions
    with warehouse.engine().connect() as conn:
        gaps = [
            first_missing_session(conn, day.date(), lookback),
            first_missing_rate(conn, day.date(), lookback),
        ]
    missing = min((gap for gap in gaps if gap is not None), default=None)
    last = day.strftime("%Y-%m-%d")
    first = last
    if missing is not None:
        history_start = TRADING_DAYS.get_first_partition_key() or last
        first = min(max(partition_key_of(missing), history_start), last)
        context.log.info(
            f"catching up: bars or rates missing since {missing}; loading {first} to {last}"
        )
    return dg.RunRequest(run_key=last, tags=range_tags(first, last))


def scheduled_day(context: dg.ScheduleEvaluationContext) -> datetime:
    assert context.scheduled_execution_time is not None, "a schedule tick always has a time"
    return context.scheduled_execution_time


@dg.schedule(
    job=check_prices,
    cron_schedule="30 20 * * 1-5",
    execution_timezone=NEW_YORK,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Two hours after the nightly load: the price and exchange-rate checks on their "
    "own, so stale or missing prices and rates are flagged even when no load ran.",
)
def evening_price_checks(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=scheduled_day(context).strftime("%Y-%m-%d"))
