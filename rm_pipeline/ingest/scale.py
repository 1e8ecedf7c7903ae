"""Keeping one price scale per security: restated histories and unexplained split-like moves.

Stored closes are split-adjusted as of the day they were fetched. A source that restates history
(it learnt of a split) sends different closes for dates already stored: comparing the two on
their overlap finds the restatement wherever the split falls, in the window being loaded or not,
and the security's whole history is then re-fetched. A source that does not restate (a raw feed,
an old file followed by an adjusted one, a split it never reports) shows a jump instead: a close
that differs from the one before it by a split-like ratio with no split reported that day. Such
rows are quarantined, not stored, until the split is reported or an operator accepts the move.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

RESTATEMENT_TOLERANCE = 0.005
"""Closes for the same date that differ by more than this fraction mean a restated history."""

SPLIT_LIKE_MIN = 1.8
SPLIT_LIKE_SLACK = 0.06
"""A move by a factor near a whole number from 2 up (a day's own move on top of the split),
either way: x0.25 (4-for-1), x0.5, x10 (1-for-10 reverse)."""


def restated_tickers(fetched: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    """Tickers whose fetched close differs from the stored one on a date both have.

    Both frames have ticker, date (datetime64) and close.
    """
    both = fetched[["ticker", "date", "close"]].merge(
        stored[["ticker", "date", "close"]], on=["ticker", "date"], suffixes=("", "_stored")
    )
    ratio = both["close"] / both["close_stored"]
    changed = (ratio - 1).abs() > RESTATEMENT_TOLERANCE
    return sorted(both.loc[changed, "ticker"].unique())


def split_like(ratios: np.ndarray) -> np.ndarray:
    """Which close-to-close ratios a split would explain (False for a missing or non-positive
    one)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = np.isfinite(ratios) & (ratios > 0)
        factor = np.where(valid, np.maximum(ratios, 1 / ratios), 0.0)
    near_whole = np.abs(factor - np.round(factor)) <= SPLIT_LIKE_SLACK * factor
    return valid & (factor >= SPLIT_LIKE_MIN) & near_whole


def unexplained_jumps(
    window: pd.DataFrame,
    previous_close: dict[str, float],
    explained: Collection[tuple[str, pd.Timestamp]],
) -> dict[str, tuple[pd.Timestamp, str]]:
    """Per ticker, the first date in `window` (ticker, date, close) whose close moved by a
    split-like ratio from the close before it (the stored `previous_close` for the first row)
    with no split reported that day (`explained`: (ticker, date) pairs of splits or accepted
    moves), and a description of the move. The ratios are computed for the whole window at once;
    only the few split-like rows are looked at one by one."""
    rows = window.sort_values(["ticker", "date"], kind="stable")
    closes = rows["close"].to_numpy(dtype=float)
    first_of_ticker = ~rows["ticker"].duplicated().to_numpy()
    stored = rows["ticker"].map(previous_close).to_numpy(dtype=float)
    prior = np.where(first_of_ticker, stored, np.roll(closes, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = closes / prior
    candidates = split_like(ratios)
    jumps: dict[str, tuple[pd.Timestamp, str]] = {}
    for ticker, day, close, before in zip(
        rows["ticker"].to_numpy()[candidates],
        rows["date"].to_numpy()[candidates],
        closes[candidates],
        prior[candidates],
        strict=True,
    ):
        day = pd.Timestamp(day)
        if str(ticker) in jumps or (ticker, day) in explained:
            continue
        move = f"close {close:g} after {before:g} (x{close / before:.4f})"
        jumps[str(ticker)] = (day, f"{move}, no split reported")
    return jumps
