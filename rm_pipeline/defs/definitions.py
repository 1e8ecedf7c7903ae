"""The definitions that span domains: the analytics job, the automation that makes the analytics
follow new prices, and the alert on failed runs."""

import dagster as dg

from rm_pipeline.defs import alerting, automation, jobs

defs = dg.Definitions(
    jobs=[jobs.refresh_analytics],
    sensors=[automation.follow_new_prices, alerting.alert_on_failed_runs],
)
