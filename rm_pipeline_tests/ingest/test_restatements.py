"""What a restated history says: a split's ratio on a prefix of the stored closes, or nothing;
and a reload that changes nothing writes nothing, superseded rows included."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.ingest.restatements import (
    InferredSplit,
    UnexplainedRestatement,
    infer_split,
    split_label,
    split_ratio,
)
from rm_pipeline_tests.ingest.test_prices import ScriptedProvider, add_securities

DAYS = pd.bdate_range("2024-03-04", "2024-03-15")


@pytest.fixture
def tickers(db: Engine) -> list[str]:
    return add_securities(db, ["AAA", "BBB", "CCC"])


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


def test_a_reload_that_changes_nothing_writes_nothing(db: Engine, tickers: list[str]) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 14), batch_size=2)
    again = ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 14), batch_size=2)
    assert (again.prices.inserted, again.prices.updated) == (0, 0)
    with db.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM price_history_superseded")).scalar_one()
        touched = conn.execute(
            text("SELECT count(*) FROM price_history WHERE updated_at IS NOT NULL")
        ).scalar_one()
    assert (kept, touched) == (0, 0)


def test_a_reported_split_keeps_the_closes_it_replaced_with_its_reason_and_run(
    db: Engine, tickers: list[str]
) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10, run_id="r1")
    provider.split = True
    ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10, run_id="r2")
    with db.connect() as conn:
        kept = conn.execute(
            text(
                "SELECT count(*), min(close), max(close), min(reason), min(run_id), "
                "bool_and(valid_from < superseded_at) FROM price_history_superseded"
            )
        ).one()
    # 3 tickers x 5 days at 100, replaced by 50 when the 2-for-1 split was reported.
    assert tuple(kept) == (
        15, 100, 100, "split reported by scripted: history re-fetched at the new scale", "r2", True,
    )  # fmt: skip
