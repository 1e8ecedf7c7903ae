"""What a restated history says: the split a source applied without reporting it.

A source that learns of a split divides every close before it by the split's ratio. When the
warehouse holds that security's history on the old scale and the source sends it on the new one,
the stored closes divided by the source's are the ratio on every date before the split and 1 on
every date after it. That pattern, at a ratio a split could have (2, 4, 3:2, 1:10, ...), is the
split: it is recorded as an inferred corporate action, so paper positions move to the new scale
exactly as for a reported split. Any other pattern (ratios that drift, as a dividend adjustment
does; old and new scale interleaved; a ratio no split has) explains nothing and the restatement is
held for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import pandas as pd

SAME_SCALE_TOLERANCE = 0.005
"""Two closes of one date on one scale differ by at most this fraction (rounding, revisions)."""

SPLIT_DENOMINATORS = range(1, 5)
MAX_FRACTIONAL_RATIO = 4
MAX_SPLIT_RATIO = 1000
"""A split's ratio is a whole number up to 1000 (2:1, 10:1, 1:10 reversed), or p:q with q at
most 4 below 4 (3:2, 4:3, 5:4, 5:2): the ratios companies choose, and few enough that a
dividend adjustment or a revision does not pass for one."""


@dataclass(frozen=True)
class InferredSplit:
    """A split a restated history implies: effective `date` (the first session on the new
    scale), `ratio` new shares per old share, and what the inference rests on."""

    date: date
    ratio: Fraction
    note: str


@dataclass(frozen=True)
class UnexplainedRestatement:
    """A restated history no split explains, and why."""

    reason: str


def split_ratio(factor: float) -> Fraction | None:
    """The split ratio (new shares per old share) a price factor old / new is, if a split could
    be: 4.0 -> 4, 1.5 -> 3/2, 0.1 -> 1/10; None for 1.02 or 2.37."""
    if not factor > 0:
        return None
    forward = factor >= 1
    magnitude = factor if forward else 1 / factor
    for denominator in SPLIT_DENOMINATORS:
        numerator = round(magnitude * denominator)
        ratio = Fraction(numerator, denominator)
        if (
            numerator > denominator
            and ratio <= (MAX_SPLIT_RATIO if denominator == 1 else MAX_FRACTIONAL_RATIO)
            and abs(magnitude - float(ratio)) <= SAME_SCALE_TOLERANCE * magnitude
        ):
            return ratio if forward else 1 / ratio
    return None


def infer_split(
    source: str, stored: pd.Series, fetched: pd.Series
) -> InferredSplit | UnexplainedRestatement:
    """The split that turns the `stored` closes into the `fetched` ones (both indexed by date,
    oldest first), or why none does."""
    both = pd.concat({"stored": stored, "fetched": fetched}, axis=1, join="inner").sort_index()
    factor = both["stored"].astype(float) / both["fetched"].astype(float)
    same = (factor - 1).abs() <= SAME_SCALE_TOLERANCE
    old = factor[~same]
    if old.empty:
        return UnexplainedRestatement("the source's closes match the stored ones")
    ratio = split_ratio(float(old.median()))
    if ratio is None:
        return UnexplainedRestatement(
            f"stored / source closes x{old.median():.4f}: no split's ratio"
        )
    off_scale = old[((old / float(ratio)) - 1).abs() > SAME_SCALE_TOLERANCE]
    if not off_scale.empty:
        day = pd.Timestamp(off_scale.index[0]).date()
        return UnexplainedRestatement(
            f"stored / source closes not one ratio: x{off_scale.iloc[0]:.4f} on {day}, "
            f"x{float(ratio):g} elsewhere"
        )
    last_old = old.index.max()
    if same[same.index < last_old].any():
        day = pd.Timestamp(same[same.index < last_old].index[0]).date()
        return UnexplainedRestatement(
            f"old and new scale interleaved: {day} unchanged before {pd.Timestamp(last_old).date()}"
        )
    after = fetched.index[fetched.index > last_old]
    if after.empty:
        return UnexplainedRestatement("no session on the new scale after the restated closes")
    effective = pd.Timestamp(after.min()).date()
    first_old = pd.Timestamp(old.index.min()).date()
    note = (
        f"{source} restated {len(old)} stored closes from {first_old} to "
        f"{pd.Timestamp(last_old).date()} to a {split_label(ratio)} split's scale without "
        "reporting the split"
    )
    return InferredSplit(effective, ratio, note)


def split_label(ratio: Fraction) -> str:
    """A split ratio as markets write it: 4 -> `4:1`, 3/2 -> `3:2`, 1/10 -> `1:10`."""
    return f"{ratio.numerator}:{ratio.denominator}"
