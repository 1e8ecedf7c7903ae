"""Jobs of the market domain: the securities master, the price load, and the price checks alone."""

import dagster as dg

from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.market.checks import price_history_checks

refresh_securities = dg.define_asset_job(
    "refresh_securities",
    selection=dg.AssetSelection.assets(securities),
    description="Refresh the securities master from the universe.",
)

ingest_price_history = dg.define_asset_job(
    "ingest_price_history",
    selection=dg.AssetSelection.assets(price_history),
    description="Load daily bars for a trading day, or a range of them as one run; the price "
    "checks run after the load.",
)

check_prices = dg.define_asset_job(
    "check_prices",
    selection=dg.AssetSelection.checks(price_history_checks),
    description="Evaluate the price_history checks against the stored bars, without loading.",
)
