"""Demo data: two users, three manual-broker portfolios with their holdings, and two trades,
seeded idempotently."""

from rm_pipeline.demo.seed import DemoSummary, seed_demo
from rm_pipeline.demo.trades import DemoTradesSummary, seed_demo_trades

__all__ = ["DemoSummary", "DemoTradesSummary", "seed_demo", "seed_demo_trades"]
