"""Keeping one price scale per security: restated histories and unexplained split-like moves.

Stored closes are split-adjusted as of the day they were fetched. A source that restates history
(it learnt of a split) sends different closes for dates already stored: comparing the two on
their overlap finds the restatement wherever the split falls, in the window being loaded or not,
and the security's whole history is then re-fetched. A source that does not restate (a raw feed,
an old file followed by an adjusted one, a split it never reports) shows a jump instead: a close
that differs from the one before it by a split-like ratio with no split reported that day. Such
rows are quarantined, not stored, until the split is reported or an operator accepts the move.
Only the rows on the jump's scale are held: when a later move takes the closes back to the scale
before the jump (a block of sessions quoted 100 times too high, say), the rows from that revert on
are stored.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from itertools import pairwise

import numpy as np
import pandas as pd

from rm_pipeline.warehouse.reconciliation import disagreements

RESTATEMENT_TOLERANCE = 0.005
"""Closes for the same date that differ by more than this fraction mean a restated history."""

SPLIT_LIKE_MIN = 1.8
SPLIT_LIKE_SLACK = 0.06
"""A move by a factor near a whole number from 2 up (a day's own move on top of the split),
either way: x0.25 (4-for-1), x0.5, x10 (1-for-10 reverse)."""

REVERTED_WITHIN = float(np.sqrt(SPLIT_LIKE_MIN))
"""The closes are back on the scale before a jump when the unexplained split-like moves since it
multiply to within this factor of 1: nearer 1 than any split-like move is, so a jump undone
within two days' moves (x0.01 then x98.5) is a revert and x0.5 then x3 is not."""

SPAN_COLUMNS = ["ticker", "start", "end", "reverted", "move"]


def restated_tickers(fetched: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    """Tickers whose fetched close differs from the stored one on a date both have.

    Both frames have ticker, date (datetime64) and close.
    """
    changed = disagreements(stored, fetched, RESTATEMENT_TOLERANCE)
    return sorted(changed["ticker"].unique())


def split_like(ratios: np.ndarray) -> np.ndarray:
    """Which close-to-close ratios a split would explain (False for a missing or non-positive
    one)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = np.isfinite(ratios) & (ratios > 0)
        factor = np.where(valid, np.maximum(ratios, 1 / ratios), 0.0)
    near_whole = np.abs(factor - np.round(factor)) <= SPLIT_LIKE_SLACK * factor
    return valid & (factor >= SPLIT_LIKE_MIN) & near_whole


def ticker_order(tickers: pd.Series, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts rows by ticker, then date (stable), and the tickers (none missing)
    in that order as strings. Rows are sorted by their ticker's code, numbered in ticker order:
    only the distinct tickers are turned into strings, not every row's."""
    codes, names = pd.factorize(tickers, sort=True)
    order = np.lexsort((dates, codes))
    return order, np.asarray(names, dtype=str)[codes[order]]


def ticker_bounds(tickers: np.ndarray) -> dict[str, tuple[int, int]]:
    """Each ticker's slice of `tickers` (sorted), by ticker."""
    edges = np.append(np.flatnonzero(first_of_ticker(tickers)), len(tickers))
    return {str(tickers[a]): (int(a), int(b)) for a, b in pairwise(edges)}


def first_of_ticker(tickers: np.ndarray) -> np.ndarray:
    """Which rows of `tickers` (sorted) are their ticker's first."""
    first = np.ones(len(tickers), dtype=bool)
    first[1:] = tickers[1:] != tickers[:-1]
    return first


def prior_closes(
    tickers: np.ndarray, closes: np.ndarray, previous_close: dict[str, float]
) -> np.ndarray:
    """The close before each of `closes` (with their `tickers`; sorted by ticker, then date):
    the row before's, or for a ticker's first row its `previous_close` (NaN when missing)."""
    prior = np.roll(closes, 1)
    first = first_of_ticker(tickers)
    prior[first] = [previous_close.get(str(ticker), np.nan) for ticker in tickers[first]]
    return prior


def held_spans(
    window: pd.DataFrame,
    previous_close: dict[str, float],
    explained: Collection[tuple[str, pd.Timestamp]],
) -> pd.DataFrame:
    """The runs of rows of `window` (ticker, date, close) to hold: each from a close that moved
    by a split-like ratio from the close before it (the stored `previous_close` for a ticker's
    first row) with no split reported that day (`explained`: (ticker, date) pairs of splits or
    accepted moves), to the row before the closes return to the scale before that jump, or to
    the ticker's last row when they never do.

    One row per span, sorted by ticker and start (a ticker may have several):

    * ticker, start: the jump's date, end: the date of the last row held;
    * reverted: the date of the first row back on the scale before the jump, NaT when the span
      runs to the end of the window;
    * move: the jump, as `close 27.1 after 2710 (x0.0100), no split reported`.

    The caller holds the ticker's rows dated from start to end inclusive
    (`window["date"].between(start, end)`) and stores the others. Moves are weighed for the whole
    window at once; only the few spans are looked at one by one.
    """
    order, tickers = ticker_order(window["ticker"], window["date"].to_numpy())
    dates = window["date"].to_numpy()[order]
    closes = window["close"].to_numpy(dtype=float)[order]
    prior = prior_closes(tickers, closes, previous_close)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = closes / prior
        jumps = split_like(ratios) & ~_explained(tickers, dates, explained)
        steps = np.where(jumps, np.log(ratios), 0.0)
    scale = pd.Series(steps).groupby(tickers).cumsum().to_numpy()
    held = np.abs(scale) > np.log(REVERTED_WITHIN)
    continues = np.zeros(len(tickers), dtype=bool)  # the row before is the same ticker's
    continues[1:] = tickers[1:] == tickers[:-1]
    held_before = np.zeros_like(held)
    held_before[1:] = held[:-1]
    held_after = np.zeros_like(held)
    held_after[:-1] = held[1:] & continues[1:]
    starts = np.flatnonzero(held & ~(held_before & continues))
    ends = np.flatnonzero(held & ~held_after)
    after = np.minimum(ends + 1, len(tickers) - 1)
    reverted = (ends + 1 < len(tickers)) & continues[after]
    moves = [
        f"close {closes[i]:g} after {prior[i]:g} (x{ratios[i]:.4f}), no split reported"
        for i in starts
    ]
    spans = {
        "ticker": tickers[starts].astype(str),
        "start": dates[starts],
        "end": dates[ends],
        "reverted": np.where(reverted, dates[after], np.datetime64("NaT")),
        "move": moves,
    }
    return pd.DataFrame(spans, columns=SPAN_COLUMNS)


def closes_before(stored: pd.DataFrame, day: date) -> dict[str, float]:
    """Each ticker's last close in `stored` (ticker, date, close) dated before `day`."""
    before = stored[stored["date"] < pd.Timestamp(day)].sort_values("date")
    return {str(t): float(c) for t, c in before.groupby("ticker")["close"].last().items()}


def _explained(
    tickers: np.ndarray, dates: np.ndarray, explained: Collection[tuple[str, pd.Timestamp]]
) -> np.ndarray:
    """Which rows (`tickers` sorted) are among the `explained` (ticker, date) pairs."""
    days: dict[str, list[pd.Timestamp]] = {}
    for ticker, day in explained:
        days.setdefault(str(ticker), []).append(pd.Timestamp(day))
    hit = np.zeros(len(tickers), dtype=bool)
    for ticker, (start, stop) in ticker_bounds(tickers).items():
        if ticker in days:
            pairs = np.array(days[ticker], dtype="datetime64[ns]")
            hit[start:stop] = np.isin(dates[start:stop], pairs)
    return hit
