"""The `refresh_analytics` job: everything downstream of the prices, as `make run` runs it."""

import dagster as dg

from rm_pipeline.defs.analytics.assets import fundamentals, security_market_stats
from rm_pipeline.defs.portfolios.assets import broker_holdings, portfolio_valuations
from rm_pipeline.defs.trades.assets import trade_analysis, trade_position_valuations

refresh_analytics = dg.define_asset_job(
    "refresh_analytics",
    selection=dg.AssetSelection.assets(
        security_market_stats,
        fundamentals,
        broker_holdings,
        portfolio_valuations,
        trade_position_valuations,
        trade_analysis,
    ),
    description="Market stats, fundamentals, holdings, valuations and trade analysis.",
)
