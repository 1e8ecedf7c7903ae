"""What a restated history says: a split's ratio on a prefix of the stored closes, or nothing."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pandas as pd
import pytest

from rm_pipeline.core.splits import (
    InferredSplit,
    UnexplainedRestatement,
    infer_split,
    split_label,
    split_ratio,
)

DAYS = pd.bdate_range("2024-03-04", "2024-03-15")


@pytest.mark.parametrize(
    ("factor", "ratio"),
    [
        (4.0, Fraction(4)),
        (3.9998, Fraction(4)),
        (1.5, Fraction(3, 2)),
        (1.25, Fraction(5, 4)),
        (20.0, Fraction(20)),
        (0.1, Fraction(1, 10)),
        (0.6667, Fraction(2, 3)),
        (1.02, None),  # a dividend adjustment
        (1.37, None),
        (5.5, None),  # 11:2 is no ratio companies choose
        (1.0, None),
        (0.0, None),
        (float("nan"), None),
    ],
)
def test_a_split_ratio_is_a_whole_number_or_a_small_fraction(
    factor: float, ratio: Fraction | None
) -> None:
    assert split_ratio(factor) == ratio


def test_split_labels_read_as_markets_write_them() -> None:
    assert [split_label(r) for r in (Fraction(4), Fraction(3, 2), Fraction(1, 10))] == [
        "4:1",
        "3:2",
        "1:10",
    ]


def series(values: list[float], days: pd.DatetimeIndex = DAYS) -> pd.Series:
    return pd.Series(values, index=days[: len(values)])


def test_a_prefix_at_one_ratio_is_a_split_effective_on_the_first_new_session() -> None:
    stored = series([400.0, 404, 408, 100, 101])  # already on the new scale from day 4
    fetched = series([100.0, 101, 102, 100, 101, 102])
    inferred = infer_split("files", stored, fetched)
    assert isinstance(inferred, InferredSplit)
    assert (inferred.date, inferred.ratio) == (date(2024, 3, 7), Fraction(4))
    assert "files restated 3 stored closes from 2024-03-04 to 2024-03-06" in inferred.note


def test_a_whole_history_restated_dates_the_split_after_the_last_stored_close() -> None:
    inferred = infer_split("files", series([50.0, 51]), series([100.0, 102, 103]))
    assert isinstance(inferred, InferredSplit)
    assert (inferred.date, inferred.ratio) == (date(2024, 3, 6), Fraction(1, 2))


@pytest.mark.parametrize(
    ("stored", "fetched", "why"),
    [
        ([102.0, 103, 104], [100.0, 101, 102], "no split's ratio"),  # dividend-adjusted
        ([400.0, 100, 400], [100.0, 100, 100, 100], "interleaved"),
        ([400.0, 404, 300], [100.0, 101, 100, 100], "not one ratio"),
        ([400.0, 404], [100.0, 101], "no session on the new scale"),
        ([100.0, 101], [100.0, 101, 102], "match"),
    ],
)
def test_any_other_pattern_explains_nothing(
    stored: list[float], fetched: list[float], why: str
) -> None:
    outcome = infer_split("files", series(stored), series(fetched))
    assert isinstance(outcome, UnexplainedRestatement) and why in outcome.reason
