"""The trades domain's definitions: the position valuations and the analysis, and the analysis's
job and sensor."""

import dagster as dg

from rm_pipeline.defs.code_references import linked_assets
from rm_pipeline.defs.trades import assets, sensors

defs = dg.Definitions.merge(
    linked_assets(assets.trade_position_valuations, assets.trade_analysis),
    dg.Definitions(jobs=[sensors.analyze_trades], sensors=[sensors.trades_needing_analysis_sensor]),
)
