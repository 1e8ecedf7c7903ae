"""Split-like moves: which close-to-close ratios a split would explain, and the spans of rows held
for an unexplained one: from the jump to the row before the closes return to its scale, or to
the end."""

import numpy as np
import pandas as pd

from rm_pipeline.ingest.scale import closes_before, held_spans, split_like

NAT = pd.NaT


def bars(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ticker", "date", "close"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


def series(ticker: str, closes: list[float]) -> pd.DataFrame:
    """One close per weekday from 2025-03-03."""
    days = pd.bdate_range("2025-03-03", periods=len(closes))
    return pd.DataFrame({"ticker": ticker, "date": days, "close": closes})


def spans(frame: pd.DataFrame) -> list[tuple[str, str | None, str | None, str | None]]:
    """Each span as (ticker, start, end, reverted) ISO dates."""

    def day(value: pd.Timestamp) -> str | None:
        return None if pd.isna(value) else value.date().isoformat()

    return [
        (ticker, day(start), day(end), day(reverted))
        for ticker, start, end, reverted in zip(
            frame["ticker"], frame["start"], frame["end"], frame["reverted"], strict=True
        )
    ]


def test_split_like_ratios_are_near_whole_factors_either_way() -> None:
    ratios = np.array([0.5, 0.25, 10.0, 0.102, 2.05, 1.5, 1.05, 3.3, np.nan, 0.0, -2.0, np.inf])
    expected = [True, True, True, True, True, False, False, False, False, False, False, False]
    assert split_like(ratios).tolist() == expected


def test_a_jump_is_found_against_the_stored_close_and_within_the_window() -> None:
    window = bars(
        [
            ("BBB", "2025-03-04", 51.0),
            ("AAA", "2025-03-04", 101.0),
            ("AAA", "2025-03-03", 100.0),
            ("BBB", "2025-03-03", 50.0),
            ("AAA", "2025-03-05", 50.4),
            ("AAA", "2025-03-06", 25.0),
        ]
    )
    held = held_spans(window, {"AAA": 99.0, "BBB": 200.0}, explained=set())
    assert spans(held) == [
        ("AAA", "2025-03-05", "2025-03-06", None),
        ("BBB", "2025-03-03", "2025-03-04", None),
    ]
    assert held["move"].tolist() == [
        "close 50.4 after 101 (x0.4990), no split reported",
        "close 50 after 200 (x0.2500), no split reported",
    ]


def test_an_explained_move_is_passed_over_for_the_next_unexplained_one() -> None:
    window = bars(
        [("AAA", "2025-03-03", 100.0), ("AAA", "2025-03-04", 50.0), ("AAA", "2025-03-05", 500.0)]
    )
    explained = {("AAA", pd.Timestamp("2025-03-04"))}
    held = held_spans(window, {}, explained)
    assert spans(held) == [("AAA", "2025-03-05", "2025-03-05", None)]
    assert held["move"].tolist() == ["close 500 after 50 (x10.0000), no split reported"]


def test_a_block_that_reverts_is_held_up_to_the_row_before_the_revert() -> None:
    pence = [2701.5, 2712.0, 27.185, 27.31, 27.02, 2722.0, 2731.5]
    held = held_spans(series("SHEL.L", pence), {"SHEL.L": 2690.0}, set())
    assert spans(held) == [("SHEL.L", "2025-03-05", "2025-03-07", "2025-03-10")]
    assert held["move"].tolist() == ["close 27.185 after 2712 (x0.0100), no split reported"]


def test_a_jump_that_never_reverts_is_held_to_the_end() -> None:
    held = held_spans(series("AAA", [100.0, 101.0, 50.5, 51.0, 50.8]), {}, set())
    assert spans(held) == [("AAA", "2025-03-05", "2025-03-07", None)]


def test_a_ticker_may_have_several_spans_and_a_block_may_start_at_its_first_row() -> None:
    closes = [1.71, 1.72, 172.5, 173.0, 17_350.0, 174.0, 173.5]
    held = held_spans(series("AAA", closes), {"AAA": 170.0}, set())
    assert spans(held) == [
        ("AAA", "2025-03-03", "2025-03-04", "2025-03-05"),
        ("AAA", "2025-03-07", "2025-03-07", "2025-03-10"),
    ]


def test_a_revert_is_a_return_to_the_jumps_scale_not_any_move_back() -> None:
    halved_then_tripled = series("AAA", [100.0, 50.0, 51.0, 153.0, 152.0])
    assert spans(held_spans(halved_then_tripled, {}, set())) == [
        ("AAA", "2025-03-04", "2025-03-07", None)
    ]
    nested = series("AAA", [100.0, 1.0, 0.5, 1.0, 100.0, 101.0])
    assert spans(held_spans(nested, {}, set())) == [
        ("AAA", "2025-03-04", "2025-03-06", "2025-03-07")
    ]
    back_through_an_explained_split = series("AAA", [100.0, 50.0, 100.0, 99.0])
    explained = {("AAA", pd.Timestamp("2025-03-05"))}
    assert spans(held_spans(back_through_an_explained_split, {}, explained)) == [
        ("AAA", "2025-03-04", "2025-03-06", None)
    ]


def test_ordinary_moves_and_a_missing_stored_close_are_no_jumps() -> None:
    window = bars([("AAA", "2025-03-03", 10.0), ("AAA", "2025-03-04", 11.0)])
    assert held_spans(window, {"BBB": 1.0}, set()).empty
    empty = held_spans(window.iloc[0:0], {}, set())
    assert empty.columns.tolist() == ["ticker", "start", "end", "reverted", "move"]
    assert empty.empty


def test_the_close_before_a_day_is_each_tickers_last_one_before_it() -> None:
    stored = bars(
        [("AAA", "2025-03-03", 10.0), ("AAA", "2025-03-05", 11.0), ("BBB", "2025-03-06", 5.0)]
    )
    assert closes_before(stored, pd.Timestamp("2025-03-06").date()) == {"AAA": 11.0}
