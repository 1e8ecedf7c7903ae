"""The portfolios domain's definitions: holdings and valuations, and the holdings sync's job and
schedule."""

import dagster as dg

from rm_pipeline.defs.code_references import linked_assets
from rm_pipeline.defs.portfolios import assets, schedules

defs = dg.Definitions.merge(
    linked_assets(assets.broker_holdings, assets.portfolio_valuations),
    dg.Definitions(jobs=[schedules.sync_holdings], schedules=[schedules.daily_holdings_sync]),
)
