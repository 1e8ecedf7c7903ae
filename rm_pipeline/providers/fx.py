"""Exchange-rate pairs: every currency is fetched against USD, named by Yahoo's pair ticker.

`EURUSD=X` is the identity of the euro's pair everywhere: its file (`EURUSD=X.csv`), its
yfinance symbol, its outcome and its log lines. Its rate is how many US dollars one euro buys.
USD itself is never fetched (its rate is 1), and minor units such as `GBp` are not currencies to
fetch: callers convert them to their major currency first (the warehouse's `currency_units`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from rm_pipeline.providers.base import TickerOutcome, TickerStatus
from rm_pipeline.providers.frames import CURRENCY_PATTERN
from rm_pipeline.providers.validation import FX_RAW_COLUMNS

USD: Final = "USD"
"""The quote currency of every stored rate."""

_PAIR: Final = re.compile(r"^([A-Z]{3})USD=X$")


def fx_pair(currency: str) -> str:
    """Yahoo's ticker of the currency's rate in US dollars: `EUR` -> `EURUSD=X`."""
    return f"{currency}{USD}=X"


def pair_currency(ticker: str) -> str | None:
    """The base currency of a pair ticker (`EURUSD=X` -> `EUR`), or None for any other ticker."""
    match = _PAIR.match(ticker)
    return match.group(1) if match else None


def start_fx_outcomes(raw_currencies: Iterable[object]) -> tuple[list[str], list[TickerOutcome]]:
    """The pair tickers to fetch, in first-seen order without repeats, and an `invalid` outcome
    (named by the value as given) for each code that is not a major currency other than USD."""
    pairs: dict[str, None] = {}
    invalid = []
    for raw in raw_currencies:
        code = raw.strip() if isinstance(raw, str) else raw
        if not isinstance(code, str) or not re.match(CURRENCY_PATTERN, code):
            why = "not a major currency code (three capital letters; minor units such as GBp are "
            why += "converted to their major currency by the caller)"
            invalid.append(TickerOutcome(str(raw), TickerStatus.INVALID, why))
        elif code == USD:
            why = "USD is the quote currency of every rate: never fetched"
            invalid.append(TickerOutcome(str(raw), TickerStatus.INVALID, why))
        else:
            pairs.setdefault(fx_pair(code), None)
    return list(pairs), invalid


def raw_rates(
    pair: str, dates: pd.Series | pd.Index | np.ndarray, rates: pd.Series | np.ndarray
) -> pd.DataFrame:
    """A pair's raw rates (FX_RAW_COLUMNS), not yet validated."""
    return pd.DataFrame(
        {
            "ticker": pair,
            "base_currency": pair_currency(pair),
            "quote_currency": USD,
            "date": np.asarray(dates, dtype="datetime64[ns]"),
            "rate": np.asarray(rates, dtype="float64"),
        },
        columns=FX_RAW_COLUMNS,
    )


def concat_raw_rates(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Raw rates of many pairs stacked, or an empty frame with FX_RAW_COLUMNS."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=FX_RAW_COLUMNS)
    return pd.concat(frames, ignore_index=True)
