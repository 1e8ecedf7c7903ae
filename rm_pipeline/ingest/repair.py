"""Repairs of the price errors Yahoo is known for, made only where the bars leave no doubt.

The repairs work on a provider's bars alone (no database), so every provider gets the same ones:

* A block of sessions quoted at 100 times, or 1/100 of, the prices around it (a London listing
  quoted in pounds instead of pence, a Johannesburg one in rand instead of cents): the jump into
  the block and the jump back out of it are both between fetched rows (or the first against the
  stored close), each 100x or 1/100 within a day's move, every row of the block and its two
  neighbours has its prices on one scale, and the close after the block is within a tenth of the
  close before it. The block's prices are rescaled; volumes are shares and stay.
* A reported split whose history before it was left unadjusted: at the split's effective session
  the close moves by 1/value within a day's move (20,700 yen to 4,140 for a 5-for-1 split). The
  effective session is the reported date, or the session before or after it when the drop shows
  there and on no other of the three (Yahoo dates some splits a session off). Prices before it are
  divided by the value and volumes multiplied by it. A history already adjusted shows no drop and
  is left as it is; so is a window that starts on or after the effective session, whose rows are
  all on the new scale (a stored close before it on the old scale is prices.py's re-fetch, not a
  repair).

Everything else is left as sent, for the jump check (`scale.held_spans`) to hold: a block that has
not reverted by the end of the data, a drop two sessions from the reported date, a drop on two of
the three sessions, a ratio that a unit mix-up would explain as well as a split, a history before
the split that itself moves by a split-like ratio (partly adjusted: which part is right is not
known), a split whose factor is below a split-like move (its drop could be a bad day).

Sessions are the ticker's rows in the data, in date order.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import pandas as pd

from rm_pipeline.ingest.scale import (
    SPLIT_LIKE_MIN,
    prior_closes,
    split_like,
    ticker_bounds,
    ticker_order,
)
from rm_pipeline.providers.validation import raw_values

DAY_MOVE = 0.10
"""How far a session's close may move on top of a repair's factor: a unit jump is 100x (or 1/100)
within this fraction, a split's drop 1/value within it."""

LEVEL_TOLERANCE = 0.10
"""The close after a unit block is within this fraction of the close before it."""

UNIT_FACTOR = 100.0
"""A major unit in minor ones: pounds in pence, rand in cents, shekels in agorot."""

MIXED_UNITS = float(np.sqrt(UNIT_FACTOR))
"""A bar whose highest price is this many times its lowest has prices in both units."""

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
REPAIR_COLUMNS = ["ticker", "date", "repair", "raw"]
MOVED_SPLIT_COLUMNS = ["ticker", "date", "effective"]


@dataclass(frozen=True)
class Repaired:
    """Bars after `repair_bars`, and what was done to them."""

    frame: pd.DataFrame
    """The bars as given (same columns, order and index), repaired rows rescaled."""
    repairs: pd.DataFrame
    """One row per repaired bar, by ticker and date: ticker, date, repair (what was done:
    `x100: block quoted at 1/100 of the prices around it 2024-03-04..2024-03-14`,
    `/5: split of 2024-03-28 applied from its price drop 2024-03-27`; several joined by `; `) and
    raw (the bar as sent, JSON text as `validation.raw_values` writes it)."""
    moved_splits: pd.DataFrame
    """Reported splits whose price drop is on a neighbouring session: ticker, date (as
    reported), effective (the drop's session), so the split is stored on the day the prices
    changed scale."""


@dataclass(frozen=True)
class _Rows:
    """The bars sorted by ticker and date, as arrays; `bounds` maps a ticker to its slice."""

    order: np.ndarray
    tickers: np.ndarray
    dates: np.ndarray
    closes: np.ndarray
    moves: np.ndarray
    """Log of each close over the one before it (the stored close for a first row; NaN
    without one)."""
    bounds: dict[str, tuple[int, int]]


def repair_bars(
    bars: pd.DataFrame, previous_close: dict[str, float], splits: pd.DataFrame
) -> Repaired:
    """Repair unit blocks and unadjusted split histories in `bars` (ticker, date, open, high, low,
    close, volume and any adj_close; one row per ticker and date).

    `previous_close` is the stored close before each ticker's first row (a ticker may have none);
    `splits` the reported splits (ticker, date, value: new shares per old share, 5.0 for 5-for-1),
    of any tickers. Blocks are repaired first: a split's history is checked for other
    split-like moves on the repaired closes.
    """
    rows = _sorted_rows(bars, previous_close)
    scale = np.ones(len(rows.order))  # what each sorted row's prices are divided by
    shares = np.ones(len(rows.order))  # what its volume is multiplied by
    notes: dict[int, list[str]] = {}
    unit = _unit_jumps(rows.moves)
    drops = _split_drops(rows, splits)
    ambiguous = [drop.session for drop in drops if unit[drop.session]]  # a split of about 100
    unit[ambiguous] = 0
    drops = [drop for drop in drops if drop.session not in ambiguous]
    blocks = _unit_blocks(rows, unit, _mixed_units(bars, rows.order)) if unit.any() else []
    for first, stop, direction in blocks:
        scale[first:stop] = UNIT_FACTOR**direction
        span = f"{_day(rows.dates[first])}..{_day(rows.dates[stop - 1])}"
        note = (
            f"x0.01: block quoted at 100x the prices around it {span}"
            if direction > 0
            else f"x100: block quoted at 1/100 of the prices around it {span}"
        )
        _note(notes, range(first, stop), note)
    settled = _settled(rows, scale, [drop.session for drop in drops])
    moved = pd.DataFrame(
        [
            (str(rows.tickers[d.session]), d.reported, pd.Timestamp(rows.dates[d.session]))
            for d in drops
            if pd.Timestamp(rows.dates[d.session]) != d.reported
        ],
        columns=MOVED_SPLIT_COLUMNS,
    )
    for drop in drops:
        start = rows.bounds[str(rows.tickers[drop.session])][0]
        if start == drop.session or not settled[start + 1 : drop.session].all():
            continue
        scale[start : drop.session] *= drop.value
        shares[start : drop.session] *= drop.value
        reported, effective = _day(drop.reported), _day(rows.dates[drop.session])
        note = (
            f"/{drop.value:g}: split of {reported} applied to the prices before it"
            if effective == reported
            else f"/{drop.value:g}: split of {reported} applied from its price drop {effective}"
        )
        _note(notes, range(start, drop.session), note)
    return _apply(bars, rows, scale, shares, notes, moved)


def _sorted_rows(bars: pd.DataFrame, previous_close: dict[str, float]) -> _Rows:
    order, tickers = ticker_order(bars["ticker"], bars["date"].to_numpy())
    closes = bars["close"].to_numpy(dtype=float)[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = np.log(closes / prior_closes(tickers, closes, previous_close))
    dates = bars["date"].to_numpy()[order]
    return _Rows(order, tickers, dates, closes, moves, ticker_bounds(tickers))


class _Drop(NamedTuple):
    session: int
    """The sorted row whose close shows the split's drop: its effective session."""
    reported: pd.Timestamp
    value: float


def _split_drops(rows: _Rows, splits: pd.DataFrame) -> list[_Drop]:
    """The splits whose drop shows on exactly one of the sessions before, on and after the
    reported date (a date the ticker has a row for); splits below a split-like factor are not
    weighed."""
    drops = []
    splits = splits.drop_duplicates(["ticker", "date"])
    for ticker, day, value in zip(splits["ticker"], splits["date"], splits["value"], strict=True):
        if str(ticker) not in rows.bounds or max(value, 1 / value) < SPLIT_LIKE_MIN:
            continue
        start, stop = rows.bounds[str(ticker)]
        reported = start + int(np.searchsorted(rows.dates[start:stop], np.datetime64(day)))
        if reported == stop or rows.dates[reported] != np.datetime64(day):
            continue
        sessions = np.arange(max(start, reported - 1), min(stop, reported + 2))
        fits = sessions[np.abs(rows.moves[sessions] + np.log(value)) <= np.log1p(DAY_MOVE)]
        if len(fits) == 1:
            drops.append(_Drop(int(fits[0]), pd.Timestamp(day), float(value)))
    return drops


def _unit_jumps(moves: np.ndarray) -> np.ndarray:
    """Per move, 1 for a jump to 100x, -1 to 1/100 (each within DAY_MOVE), else 0."""
    steps = np.nan_to_num(np.round(moves / np.log(UNIT_FACTOR)))
    fits = np.abs(moves - steps * np.log(UNIT_FACTOR)) <= np.log1p(DAY_MOVE)
    return np.where(fits & (np.abs(steps) == 1), steps, 0).astype(int)


def _mixed_units(bars: pd.DataFrame, order: np.ndarray) -> np.ndarray:
    """Per sorted row, whether its prices are on two scales (the high in pence, the rest in
    pounds): such a block cannot be rescaled as a whole."""
    prices = bars[[c for c in PRICE_COLUMNS if c in bars.columns]].to_numpy(dtype=float)[order]
    return ~(prices.max(axis=1, initial=0.0) < MIXED_UNITS * prices.min(axis=1, initial=np.inf))


def _unit_blocks(rows: _Rows, unit: np.ndarray, mixed: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, stop, direction) of each block: a unit jump at `first`, the opposite one at
    `stop` in the same ticker with no other between, no row on two scales from the one before
    the block to the one after it, and the close after it within LEVEL_TOLERANCE of the close
    before it."""
    blocks: list[tuple[int, int, int]] = []
    for first, stop in pairwise(np.flatnonzero(unit)):
        ticker = str(rows.tickers[first])
        if (
            rows.tickers[stop] != ticker
            or unit[first] != -unit[stop]
            or (blocks and blocks[-1][1] == first)  # that jump closed the block before
        ):
            continue
        level = rows.moves[first : stop + 1].sum()  # the close after over the one before
        start = rows.bounds[ticker][0]
        if (
            abs(level) <= np.log1p(LEVEL_TOLERANCE)
            and not mixed[max(start, first - 1) : stop + 1].any()
        ):
            blocks.append((int(first), int(stop), int(unit[first])))
    return blocks


def _settled(rows: _Rows, scale: np.ndarray, drops: list[int]) -> np.ndarray:
    """Per sorted row, whether its close and the one before it in the data (blocks repaired)
    are on one scale: no split-like move between them, or the drop of a split."""
    closes = rows.closes / scale
    ratios = np.ones(len(closes))
    ratios[1:] = closes[1:] / closes[:-1]
    settled = ~split_like(ratios)
    settled[drops] = True
    return settled


def _note(notes: dict[int, list[str]], sessions: range, note: str) -> None:
    for session in sessions:
        notes.setdefault(session, []).append(note)


def _day(value: np.datetime64 | pd.Timestamp) -> str:
    return pd.Timestamp(value).date().isoformat()


def _apply(
    bars: pd.DataFrame,
    rows: _Rows,
    scale: np.ndarray,
    shares: np.ndarray,
    notes: dict[int, list[str]],
    moved: pd.DataFrame,
) -> Repaired:
    """The bars with each sorted row's prices divided by its scale and its volume multiplied by
    its shares factor, and the repairs noted."""
    divide = np.empty(len(scale))
    divide[rows.order] = scale
    multiply = np.empty(len(shares))
    multiply[rows.order] = shares
    frame = bars.copy()
    for column in (c for c in PRICE_COLUMNS if c in bars.columns):
        frame[column] = bars[column].to_numpy(dtype=float) / divide
    if "volume" in bars.columns and (multiply != 1).any():
        volume = bars["volume"]
        rescaled = (volume * multiply).round()
        frame["volume"] = volume.where(multiply == 1, rescaled).astype(volume.dtype)
    sessions = sorted(notes)
    positions = rows.order[sessions]
    repairs = pd.DataFrame(
        {
            "ticker": rows.tickers[sessions],
            "date": rows.dates[sessions],
            "repair": ["; ".join(notes[s]) for s in sessions],
            "raw": raw_values(bars.iloc[positions]),
        },
        columns=REPAIR_COLUMNS,
    )
    return Repaired(frame, repairs, moved)


@dataclass(frozen=True)
class RepairedBars:
    """A provider's bars and corporate actions as the warehouse stores them."""

    frame: pd.DataFrame
    """The bars after `repair_bars`, with a `repair` column (None for a bar as sent)."""
    raw: pd.DataFrame
    """Quarantine rows (ticker, date, reason `repaired: ...`, raw) of the repaired bars."""
    actions: pd.DataFrame
    """The corporate actions with a `note` column, each split whose drop came a session off
    its reported date dated on the drop."""


def repair(
    bars: pd.DataFrame, actions: pd.DataFrame, previous_close: dict[str, float]
) -> RepairedBars:
    """`repair_bars` on a provider's bars with its reported splits, in the shape the loader
    writes."""
    splits = actions[actions["action"] == "split"]
    repaired = repair_bars(bars, previous_close, splits)
    frame = repaired.frame.assign(repair=_notes_by_bar(bars, repaired.repairs))
    raw = repaired.repairs.assign(reason=[f"repaired: {r}" for r in repaired.repairs["repair"]])
    return RepairedBars(
        frame, raw.loc[:, ["ticker", "date", "reason", "raw"]], _redated(actions, repaired)
    )


def _notes_by_bar(bars: pd.DataFrame, repairs: pd.DataFrame) -> np.ndarray:
    """Each bar's repair note (`Repaired.repairs`), None for a bar as sent."""
    if repairs.empty:
        return np.full(len(bars), None, dtype=object)
    notes = repairs.set_index(["ticker", "date"])["repair"]
    keys = pd.MultiIndex.from_arrays([bars["ticker"], bars["date"]])
    noted = notes.reindex(keys).astype(object)
    return noted.where(noted.notna(), None).to_numpy()


def _redated(actions: pd.DataFrame, repaired: Repaired) -> pd.DataFrame:
    """The actions with a note, each moved split on its effective date."""
    dated = actions.assign(note=None)
    for ticker, reported, effective in repaired.moved_splits.itertuples(index=False):
        row = (
            (dated["ticker"] == ticker) & (dated["date"] == reported) & (dated["action"] == "split")
        )
        dated.loc[row, "date"] = effective
        dated.loc[row, "note"] = (
            f"reported for {_day(reported)}; the prices change scale on {_day(effective)}"
        )
    return dated
