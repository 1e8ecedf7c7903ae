"""Trading-day partitions: one key per weekday, New York time; holidays are empty partitions."""

import dagster as dg

TRADING_DAYS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    start="2010-01-01",
    fmt="%Y-%m-%d",
    timezone="America/New_York",
    end_offset=1,  # today's key exists, so the evening schedule can load the day just closed
)
