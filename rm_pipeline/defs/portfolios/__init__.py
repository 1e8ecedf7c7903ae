"""Portfolios: holdings synced from brokers and their valuations."""
