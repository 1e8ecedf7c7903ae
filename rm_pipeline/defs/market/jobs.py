"""Jobs of the market domain, and the nightly schedule that loads the day just closed."""

import dagster as dg

from rm_pipeline.defs.market.assets import price_history, securities

refresh_securities = dg.define_asset_job(
    "refresh_securities",
    selection=dg.AssetSelection.assets(securities),
    description="Refresh the securities master from the universe.",
)

ingest_price_history = dg.define_asset_job(
    "ingest_price_history",
    selection=dg.AssetSelection.assets(price_history),
    description="Load daily bars for a trading day, or a range of them as one run.",
)


@dg.schedule(
    job=ingest_price_history,
    cron_schedule="30 18 * * 1-5",
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_price_history(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """After the US close (18:30 New York, Monday to Friday): the day's partition."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=day, partition_key=day)
