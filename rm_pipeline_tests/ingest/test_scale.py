"""Split-like moves: which close-to-close ratios a split would explain, and the first unexplained
one per ticker in a window of bars."""

import numpy as np
import pandas as pd

from rm_pipeline.ingest.scale import split_like, unexplained_jumps


def bars(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ticker", "date", "close"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


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
    jumps = unexplained_jumps(window, {"AAA": 99.0, "BBB": 200.0}, explained=set())
    assert jumps == {
        "AAA": (pd.Timestamp("2025-03-05"), "close 50.4 after 101 (x0.4990), no split reported"),
        "BBB": (pd.Timestamp("2025-03-03"), "close 50 after 200 (x0.2500), no split reported"),
    }


def test_an_explained_move_is_passed_over_for_the_next_unexplained_one() -> None:
    window = bars(
        [("AAA", "2025-03-03", 100.0), ("AAA", "2025-03-04", 50.0), ("AAA", "2025-03-05", 500.0)]
    )
    explained = {("AAA", pd.Timestamp("2025-03-04"))}
    jumps = unexplained_jumps(window, {}, explained)
    assert jumps == {
        "AAA": (pd.Timestamp("2025-03-05"), "close 500 after 50 (x10.0000), no split reported")
    }


def test_ordinary_moves_and_a_missing_stored_close_are_no_jumps() -> None:
    window = bars([("AAA", "2025-03-03", 10.0), ("AAA", "2025-03-04", 11.0)])
    assert unexplained_jumps(window, {"BBB": 1.0}, set()) == {}
    assert unexplained_jumps(window.iloc[0:0], {}, set()) == {}
