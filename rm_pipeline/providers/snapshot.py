"""Fundamentals that a price history alone can tell, shared by the offline providers.

The statistics and their windows are defined in `rm_pipeline.core.market_statistics`; the
warehouse computes the same figures from the same bars (`rm_pipeline.warehouse.market_stats`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rm_pipeline.core.market_statistics import TRAILING_YEAR, in_window, trailing_statistics


@dataclass(frozen=True)
class TickerHistory:
    """One ticker's bars and dividends as arrays, sorted by date (datetime64[ns])."""

    dates: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dividend_dates: np.ndarray
    dividend_values: np.ndarray
    reports_dividends: bool = True
    """False when the source says nothing about dividends: the yield is then unknown (None)."""


def price_snapshot(history: TickerHistory) -> dict[str, object]:
    """As of the last bar: price, volume, average volume, 52-week range and dividend yield.

    The dividend yield is the trailing year's dividends over the last close, as a fraction, or
    None when the source reports no dividend data at all. Returns an empty dict when there are
    no bars.
    """
    statistics = trailing_statistics(
        history.dates,
        history.high.astype(float),
        history.low.astype(float),
        history.close.astype(float),
        history.volume.astype(float),
    )
    if statistics is None:
        return {}
    paid = in_window(history.dividend_dates, statistics.as_of, TRAILING_YEAR)
    return {
        **asdict(statistics),
        "dividend_yield": (
            float(history.dividend_values[paid].sum()) / statistics.current_price
            if history.reports_dividends
            else None
        ),
    }
