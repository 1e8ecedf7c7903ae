"""`rm-pipeline providers ...`: look at what the market data providers return."""

from __future__ import annotations

import click


@click.group()
def providers() -> None:
    """Inspect the market data providers (no database needed)."""
