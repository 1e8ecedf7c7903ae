"""The market domain's definitions: the securities, prices and exchange rates, their checks, the
jobs that load and check them, and their schedules."""

import dagster as dg

from rm_pipeline.defs.code_references import linked_assets
from rm_pipeline.defs.market import assets, checks, jobs, reconciliation, schedules

defs = dg.Definitions.merge(
    linked_assets(assets.securities, assets.price_history, assets.fx_rates),
    dg.Definitions(
        asset_checks=dg.load_asset_checks_from_modules([checks, reconciliation]),
        jobs=[
            jobs.refresh_securities,
            jobs.ingest_price_history,
            jobs.load_securities_and_prices,
            jobs.check_prices,
        ],
        schedules=[schedules.nightly_price_history, schedules.evening_price_checks],
    ),
)
