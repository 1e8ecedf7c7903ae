"""Demo data: two users, three manual-broker portfolios and their holdings, seeded idempotently."""

from rm_pipeline.demo.seed import DemoSummary, seed_demo

__all__ = ["DemoSummary", "seed_demo"]
