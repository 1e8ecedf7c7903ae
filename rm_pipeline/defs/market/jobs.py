"""Jobs of the market domain: the securities master, the price and exchange-rate load, and their
checks alone."""

import dagster as dg

from rm_pipeline.defs.market.assets import fx_rates, price_history, securities
from rm_pipeline.defs.market.checks import fx_rates_checks, price_history_checks
from rm_pipeline.defs.market.reconciliation import closes_agree_with_second_source

refresh_securities = dg.define_asset_job(
    "refresh_securities",
    selection=dg.AssetSelection.assets(securities),
    description="Refresh the securities master from the universe.",
)

ingest_price_history = dg.define_asset_job(
    "ingest_price_history",
    selection=dg.AssetSelection.assets(price_history, fx_rates),
    description="Load daily bars and exchange rates for a trading day, or a range of them as one "
    "run; their checks run after the load.",
)

load_securities_and_prices = dg.define_asset_job(
    "load_securities_and_prices",
    selection=dg.AssetSelection.assets(securities, price_history, fx_rates),
    description="Refresh the securities master, then load their bars and exchange rates for a "
    "trading day or a range: `refresh_securities` and `ingest_price_history` as one run, as "
    "`rm-pipeline run` loads them.",
)
"""One run where two would each pay for launching a run and starting its process (about 4 s);
the prices wait for the securities step, and a failed securities step skips them."""

check_prices = dg.define_asset_job(
    "check_prices",
    selection=dg.AssetSelection.checks(
        price_history_checks, fx_rates_checks, closes_agree_with_second_source
    ),
    description="Evaluate the price_history and fx_rates checks against the stored bars and "
    "rates, without loading.",
)
