"""The holdings sync, on its own schedule ahead of the nightly price load, so the valuations that
follow the new prices value the day's holdings."""

import dagster as dg

from rm_pipeline.defs.portfolios.assets import broker_holdings
from rm_pipeline.settings import get_settings

sync_holdings = dg.define_asset_job(
    "sync_holdings",
    selection=dg.AssetSelection.assets(broker_holdings),
    description="Sync every active portfolio's holdings and cash from its broker.",
)

daily_holdings_sync = dg.ScheduleDefinition(
    name="daily_holdings_sync",
    job=sync_holdings,
    cron_schedule=get_settings().holdings_sync_cron,
    execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Broker holdings before the nightly price load (RM_HOLDINGS_SYNC_CRON, New York "
    "time; default 17:00 Monday to Friday); valuations follow it by automation.",
)
