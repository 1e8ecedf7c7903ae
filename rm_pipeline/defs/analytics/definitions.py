"""The analytics domain's definitions: market statistics and fundamentals."""

from rm_pipeline.defs.analytics import assets
from rm_pipeline.defs.code_references import linked_assets

defs = linked_assets(assets.security_market_stats, assets.fundamentals)
