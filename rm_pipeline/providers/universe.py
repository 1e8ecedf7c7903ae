"""The built-in default universe: about fifty well-known listings across asset types and markets.

`data/universe.csv` holds the SecurityFrame columns (description left empty) plus
`dividend_yield`, the annual yield the synthetic provider pays for that ticker.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd


@cache
def default_universe() -> pd.DataFrame:
    """The universe table, one row per ticker."""
    source = resources.files("rm_pipeline.providers") / "data" / "universe.csv"
    with source.open(encoding="utf-8") as handle:
        return pd.read_csv(handle, keep_default_na=False, na_values=[""])


def default_tickers() -> list[str]:
    """The universe's tickers, in file order."""
    return default_universe()["ticker"].tolist()
