"""The project's one `Definitions`, loaded by `workspace.yaml`, `dagster dev` and the CLI."""

import warnings
from collections.abc import Mapping
from typing import Any

import dagster as dg

from rm_pipeline.defs import alerting, automation, jobs
from rm_pipeline.defs.analytics import assets as analytics_assets
from rm_pipeline.defs.executors import executor_for
from rm_pipeline.defs.market import assets as market_assets
from rm_pipeline.defs.market import checks as market_checks
from rm_pipeline.defs.market import jobs as market_jobs
from rm_pipeline.defs.market import reconciliation as market_reconciliation
from rm_pipeline.defs.market import schedules as market_schedules
from rm_pipeline.defs.portfolios import assets as portfolio_assets
from rm_pipeline.defs.portfolios import schedules as portfolio_schedules
from rm_pipeline.defs.resources import default_resources
from rm_pipeline.defs.trades import assets as trade_assets
from rm_pipeline.defs.trades import sensors as trade_sensors
from rm_pipeline.settings import get_settings

with warnings.catch_warnings():
    # Code references (a link from each asset to its source in the UI) are labelled beta.
    warnings.simplefilter("ignore", dg.BetaWarning)
    ASSETS = dg.with_source_code_references(
        dg.load_assets_from_modules(
            [market_assets, analytics_assets, portfolio_assets, trade_assets]
        )
    )


def build_definitions(resources: Mapping[str, Any]) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, with these resources (tests swap them)."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=dg.load_asset_checks_from_modules([market_checks, market_reconciliation]),
        jobs=[
            market_jobs.refresh_securities,
            market_jobs.ingest_price_history,
            market_jobs.check_prices,
            portfolio_schedules.sync_holdings,
            jobs.refresh_analytics,
            trade_sensors.analyze_trades,
        ],
        schedules=[
            market_schedules.nightly_price_history,
            market_schedules.evening_price_checks,
            portfolio_schedules.daily_holdings_sync,
        ],
        sensors=[
            trade_sensors.trades_needing_analysis_sensor,
            automation.follow_new_prices,
            alerting.alert_on_failed_runs,
        ],
        resources=resources,
        executor=executor_for(get_settings().executor),
    )


defs = build_definitions(default_resources())
