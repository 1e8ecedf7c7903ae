"""Fundamentals that a price history alone can tell, shared by the offline providers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AVG_VOLUME_SESSIONS = 63
"""About three months of sessions, the window Yahoo uses for `averageVolume`."""

_YEAR = np.timedelta64(365, "D")


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
    """As of the last bar: price, volume, 3-month average volume, 52-week range, dividend yield.

    The dividend yield is the trailing 12 months of dividends over the last close, as a fraction,
    or None when the source reports no dividend data at all. Returns an empty dict when there are
    no bars.
    """
    if len(history.dates) == 0:
        return {}
    as_of = history.dates[-1]
    year = history.dates > as_of - _YEAR
    paid = (history.dividend_dates > as_of - _YEAR) & (history.dividend_dates <= as_of)
    price = float(history.close[-1])
    return {
        "as_of": as_of,
        "current_price": price,
        "volume": _known(float(history.volume[-1])),
        "avg_volume": _mean_of_known(history.volume[-AVG_VOLUME_SESSIONS:]),
        "fifty_two_week_high": float(history.high[year].max()),
        "fifty_two_week_low": float(history.low[year].min()),
        "dividend_yield": (
            float(history.dividend_values[paid].sum()) / price
            if history.reports_dividends
            else None
        ),
    }


def _known(value: float) -> float | None:
    return None if np.isnan(value) else value


def _mean_of_known(values: np.ndarray) -> float | None:
    """The mean of the volumes the source reported; None when it reported none."""
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else None
