"""The market statistics of a price history, each defined once, here.

Every statistic is taken relative to the security's own latest bar, its `as_of`, so a history that
stops early keeps the figures of its last trading days instead of going blank. A window of length
W holds the bars dated after (as_of - W), up to and including the latest bar.

- `current_price`: the close of the latest bar.
- `volume`: the volume of the latest bar; unknown (NULL) when that bar has none.
- `avg_volume`: the mean volume of the bars in the last `AVERAGE_VOLUME_WINDOW` (13 weeks, 91 days),
  rounded half away from zero to whole shares; bars without a volume are left out, and it is
  unknown when none has one. Weeks rather than a count of sessions, so a gap in the history shortens
  the sample instead of reaching further back; weeks rather than calendar months, so the window
  always spans the same weekdays (65 sessions of a five-day exchange, less its holidays).
- `fifty_two_week_high` / `fifty_two_week_low`: the highest high and lowest low of the bars in the
  last `TRAILING_YEAR` (52 weeks, 364 days); a bar's close stands in for its missing high or low.
  With a latest bar on 2024-12-31, a bar on 2024-01-02 is outside and one on 2024-01-03 inside.
- `dividend_yield` (offline providers' snapshots): the dividends dated in the last `TRAILING_YEAR`
  over the latest close, a fraction.
- day return: a security's return on a date D is the close of its latest bar dated on or before D
  over the close of its latest bar dated before D, minus 1, and unknown without such an earlier
  bar. Closes are as stored: restated for splits (a new split replaces the history), dividends not
  added back (a price return). On a day without a bar of its own a security's return is therefore
  0. The SQL function `day_return(close, previous_close)` (migration 0011) computes it for the
  analyst views, with D each bar's date (`v_daily_returns`) or the latest bar's
  (`v_latest_prices`); portfolio valuations take D = the valuation date. A return across missing
  sessions (a session of the security's exchange between the two bars) is not a day's: the views
  give it as NULL with the sessions it spans (migration 0015), and valuations and the analyzer
  leave it out.

Where they are computed: `trailing_statistics` (the offline providers' fundamentals snapshot,
`rm_pipeline.providers.snapshot`) and `rm_pipeline.warehouse.market_stats` (one SQL statement
whose windows are these constants) compute the same figures from the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import numpy as np

TRAILING_YEAR: Final = timedelta(weeks=52)
"""The 52-week range's window and the trailing year of dividends."""

AVERAGE_VOLUME_WINDOW: Final = timedelta(weeks=13)
"""The average volume's window: a quarter of the 52-week year."""


@dataclass(frozen=True)
class TrailingStatistics:
    """The statistics of the module docstring as of the latest bar; None is unknown."""

    as_of: np.datetime64
    current_price: float
    volume: int | None
    avg_volume: int | None
    fifty_two_week_high: float
    fifty_two_week_low: float


def in_window(dates: np.ndarray, as_of: np.datetime64, window: timedelta) -> np.ndarray:
    """Which `dates` (datetime64) fall in the `window` ending on `as_of`: after
    (as_of - window), up to and including as_of."""
    return (dates > as_of - np.timedelta64(window)) & (dates <= as_of)


def trailing_statistics(
    dates: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> TrailingStatistics | None:
    """The statistics of one security's bars, given as arrays sorted by date (`dates`
    datetime64, the others float, NaN where unknown). None without any bar."""
    if len(dates) == 0:
        return None
    as_of = dates[-1]
    year = in_window(dates, as_of, TRAILING_YEAR)
    quarter = in_window(dates, as_of, AVERAGE_VOLUME_WINDOW)
    return TrailingStatistics(
        as_of=as_of,
        current_price=float(close[-1]),
        volume=None if np.isnan(volume[-1]) else int(volume[-1]),
        avg_volume=_rounded_mean(volume[quarter]),
        fifty_two_week_high=float(np.where(np.isnan(high), close, high)[year].max()),
        fifty_two_week_low=float(np.where(np.isnan(low), close, low)[year].min()),
    )


def _rounded_mean(volumes: np.ndarray) -> int | None:
    """The mean of the known (whole, non-negative) volumes rounded half away from zero, in exact
    integer arithmetic as PostgreSQL's round(avg(bigint)) does; None when none is known."""
    known = volumes[~np.isnan(volumes)].astype(np.int64)
    if len(known) == 0:
        return None
    total, count = int(known.sum()), len(known)
    return (2 * total + count) // (2 * count)
