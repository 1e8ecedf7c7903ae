"""How everything downstream of the prices follows each price load in production, with no human
action: the automation condition of those assets, and the sensor that evaluates it (the daemon
runs it every 30 seconds under `make dev`)."""

import dagster as dg

FOLLOWS_NEW_PRICES = (
    dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("follows new prices")
"""Dagster's `eager()`, less its wait for missing dependencies (a history nobody loads, such as
partitions before the last holiday's, must not hold analytics back forever), and held while a
blocking check of a dependency fails: materialized once after every update of its inputs, when no
input is being written and their blocking checks pass. The price and rate checks are warnings, so
today only a check declared blocking later would hold the analytics (what such a check would find
in a bar, the database refuses: revision 0017)."""

follow_new_prices = dg.AutomationConditionSensorDefinition(
    "follow_new_prices",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Materializes the analytics, valuations and trade analysis when the prices or "
    "holdings they read change (each asset's automation condition).",
)
