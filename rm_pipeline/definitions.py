"""The project's one `Definitions`, loaded by `workspace.yaml`, `dagster dev` and the CLI."""

import dagster as dg

from rm_pipeline.defs import jobs
from rm_pipeline.defs.analytics import assets as analytics_assets
from rm_pipeline.defs.market import assets as market_assets
from rm_pipeline.defs.market import checks as market_checks
from rm_pipeline.defs.market import jobs as market_jobs
from rm_pipeline.defs.portfolios import assets as portfolio_assets
from rm_pipeline.defs.resources import default_resources
from rm_pipeline.defs.trades import assets as trade_assets
from rm_pipeline.defs.trades import sensors as trade_sensors

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(
        [market_assets, analytics_assets, portfolio_assets, trade_assets]
    ),
    asset_checks=dg.load_asset_checks_from_modules([market_checks]),
    jobs=[
        market_jobs.refresh_securities,
        market_jobs.ingest_price_history,
        jobs.refresh_analytics,
        trade_sensors.analyze_trades,
    ],
    schedules=[market_jobs.nightly_price_history],
    sensors=[trade_sensors.trades_needing_analysis_sensor, jobs.follow_new_prices],
    resources=default_resources(),
    executor=dg.multiprocess_executor,
)
