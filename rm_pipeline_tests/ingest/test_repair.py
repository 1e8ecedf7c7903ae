"""Repairs of Yahoo's known errors on provider bars: unit blocks and unadjusted split histories.

The series are made up but plausible: SHEL.L (quoted in pence, GBp) around 2,700 pence in
February and March 2024, nine sessions of it quoted in pounds; 7203.T around 20,700 yen before a
5-for-1 split reported for 2024-03-28 (about 4,140 after), the drop a session early. Both are the
shapes Yahoo has sent; the prices are not Yahoo's.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rm_pipeline.ingest.repair import repair_bars
from rm_pipeline.ingest.scale import held_spans
from rm_pipeline.providers.calendars import ticker_sessions

SHELL_PENCE = [2701.5, 2712.0, 2695.5, 2688.0, 2704.5]
SHELL_POUNDS = [27.185, 27.31, 27.02, 26.955, 27.1, 27.24, 27.385, 27.3, 27.155]
SHELL_AFTER = [2722.0, 2731.5, 2719.0, 2740.5, 2752.0, 2747.5, 2760.0, 2755.5, 2768.0]
"""23 sessions from 2024-02-26; the pounds are 2024-03-04 to 2024-03-14."""

TOYOTA_BEFORE = [20_650.0, 20_720.0, 20_805.0, 20_590.0, 20_700.0, 20_760.0, 20_845.0, 20_700.0]
TOYOTA_BEFORE += [20_655.0]
TOYOTA_DROP_DAY = 4_128.0
TOYOTA_AFTER = [4_146.0, 4_139.0, 4_152.0, 4_170.0, 4_161.0, 4_149.0, 4_133.0, 4_158.0, 4_166.0]
TOYOTA_AFTER += [4_174.0, 4_181.0, 4_169.0]
"""22 sessions from 2024-03-13 (2024-03-20 is a Tokyo holiday): 9 before the drop on
2024-03-27, the split reported for 2024-03-28."""

SPLIT_DAY = pd.Timestamp("2024-03-28")
DROP_DAY = pd.Timestamp("2024-03-27")


def bars(ticker: str, first: str, closes: list[float], volume: int) -> pd.DataFrame:
    """Daily bars on the exchange's sessions from `first`, one per close: open a little below
    the close, high and low around both, adj_close a little below (dividends), even volumes."""
    days = ticker_sessions(ticker, pd.Timestamp(first).date(), pd.Timestamp("2024-12-31").date())
    close = np.array(closes)
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": pd.to_datetime(days[: len(closes)]),
            "open": close * 0.998,
            "high": close * 1.006,
            "low": close * 0.992,
            "close": close,
            "adj_close": close * 0.97,
            "volume": pd.array([volume] * len(closes), dtype="Int64"),
        }
    )


def shell() -> pd.DataFrame:
    return bars("SHEL.L", "2024-02-26", SHELL_PENCE + SHELL_POUNDS + SHELL_AFTER, 15_000_000)


def toyota(before: list[float] = TOYOTA_BEFORE) -> pd.DataFrame:
    return bars("7203.T", "2024-03-13", [*before, TOYOTA_DROP_DAY, *TOYOTA_AFTER], 4_000_000)


def splits(*rows: tuple[str, pd.Timestamp, float]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["ticker", "date", "value"])


NO_SPLITS = splits()


def test_a_block_quoted_in_pounds_is_rescaled_to_pence_and_marked() -> None:
    sent = shell()
    repaired = repair_bars(sent, {"SHEL.L": 2690.0}, NO_SPLITS)

    block = sent["date"].between("2024-03-04", "2024-03-14")
    assert block.sum() == 9
    fixed = repaired.frame[block]
    assert fixed["close"].tolist() == pytest.approx([p * 100 for p in SHELL_POUNDS])
    for column in ("open", "high", "low", "adj_close"):
        assert fixed[column].to_numpy() == pytest.approx(sent.loc[block, column] * 100)
    assert fixed["volume"].tolist() == sent.loc[block, "volume"].tolist()  # shares, not pounds
    pd.testing.assert_frame_equal(repaired.frame[~block], sent[~block])
    assert repaired.frame.columns.tolist() == sent.columns.tolist()

    note = "x100: block quoted at 1/100 of the prices around it 2024-03-04..2024-03-14"
    assert repaired.repairs["ticker"].tolist() == ["SHEL.L"] * 9
    assert repaired.repairs["date"].tolist() == sent.loc[block, "date"].tolist()
    assert set(repaired.repairs["repair"]) == {note}
    assert held_spans(repaired.frame, {"SHEL.L": 2690.0}, set()).empty


def test_the_values_as_sent_are_kept_for_each_repaired_bar() -> None:
    sent = shell()
    repaired = repair_bars(sent, {}, NO_SPLITS)

    first = json.loads(repaired.repairs["raw"].iloc[0])
    assert first == {
        "date": "2024-03-04",
        "open": pytest.approx(27.185 * 0.998),
        "high": pytest.approx(27.185 * 1.006),
        "low": pytest.approx(27.185 * 0.992),
        "close": 27.185,
        "adj_close": pytest.approx(27.185 * 0.97),
        "volume": 15_000_000,
    }
    closes = [json.loads(raw)["close"] for raw in repaired.repairs["raw"]]
    assert closes == SHELL_POUNDS


def test_a_block_that_has_not_reverted_is_left_for_the_jump_check() -> None:
    sent = shell().iloc[:12]  # the data ends inside the block
    repaired = repair_bars(sent, {}, NO_SPLITS)

    pd.testing.assert_frame_equal(repaired.frame, sent)
    assert repaired.repairs.empty
    spans = held_spans(repaired.frame, {}, set())
    assert spans[["ticker", "start", "end"]].values.tolist() == [
        ["SHEL.L", pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-12")]
    ]
    assert pd.isna(spans["reverted"].iloc[0])


def test_a_block_at_100x_is_divided_and_one_from_the_first_row_counts_the_stored_close() -> None:
    cents = bars("AAPL", "2024-03-04", [171.1, 172.3, 17_390.0, 17_402.0, 173.6, 174.0], 50_000_000)
    repaired = repair_bars(cents, {"AAPL": 170.5}, NO_SPLITS)
    assert repaired.frame["close"].tolist() == pytest.approx(
        [171.1, 172.3, 173.9, 174.02, 173.6, 174]
    )
    assert set(repaired.repairs["repair"]) == {
        "x0.01: block quoted at 100x the prices around it 2024-03-06..2024-03-07"
    }

    from_first_row = cents.iloc[2:]
    repaired = repair_bars(from_first_row, {"AAPL": 172.3}, NO_SPLITS)
    assert repaired.frame["close"].tolist() == pytest.approx([173.9, 174.02, 173.6, 174])
    assert repair_bars(from_first_row, {}, NO_SPLITS).repairs.empty  # no level before it


def test_a_block_whose_level_moved_or_whose_rows_mix_units_is_left_alone() -> None:
    drifted = shell()
    after = drifted["date"] > pd.Timestamp("2024-03-14")
    drifted.loc[after, ["open", "high", "low", "close", "adj_close"]] *= 1.2
    assert repair_bars(drifted, {}, NO_SPLITS).repairs.empty

    mixed = shell()
    mixed.loc[mixed["date"] == pd.Timestamp("2024-03-07"), "high"] = 2730.0  # the high in pence
    assert repair_bars(mixed, {}, NO_SPLITS).repairs.empty


def test_a_split_dropping_a_session_early_is_applied_from_the_drop_to_the_history() -> None:
    sent = toyota()
    repaired = repair_bars(sent, {"7203.T": 20_600.0}, splits(("7203.T", SPLIT_DAY, 5.0)))

    before = sent["date"] < DROP_DAY
    assert before.sum() == 9
    fixed = repaired.frame[before]
    assert fixed["close"].tolist() == pytest.approx([c / 5 for c in TOYOTA_BEFORE])
    assert fixed["close"].iloc[4] == pytest.approx(4_140.0)
    for column in ("open", "high", "low", "adj_close"):
        assert fixed[column].to_numpy() == pytest.approx(sent.loc[before, column] / 5)
    assert fixed["volume"].tolist() == [20_000_000] * 9
    assert fixed["volume"].dtype == sent["volume"].dtype
    pd.testing.assert_frame_equal(repaired.frame[~before], sent[~before])

    note = "/5: split of 2024-03-28 applied from its price drop 2024-03-27"
    assert set(repaired.repairs["repair"]) == {note}
    assert repaired.repairs["date"].tolist() == sent.loc[before, "date"].tolist()
    assert [json.loads(raw)["close"] for raw in repaired.repairs["raw"]] == TOYOTA_BEFORE
    explained = {("7203.T", SPLIT_DAY)}
    assert held_spans(repaired.frame, {}, explained).empty


def test_a_split_dropping_on_its_date_or_a_session_late_is_applied_the_same_way() -> None:
    reported_on_the_drop = splits(("7203.T", DROP_DAY, 5.0))
    repaired = repair_bars(toyota(), {}, reported_on_the_drop)
    assert set(repaired.repairs["repair"]) == {
        "/5: split of 2024-03-27 applied to the prices before it"
    }

    reported_later = splits(("7203.T", pd.Timestamp("2024-03-26"), 5.0))
    repaired = repair_bars(toyota(), {}, reported_later)
    assert set(repaired.repairs["repair"]) == {
        "/5: split of 2024-03-26 applied from its price drop 2024-03-27"
    }
    assert len(repaired.repairs) == 9


def test_a_split_already_adjusted_in_the_prices_changes_nothing() -> None:
    adjusted = toyota([c / 5 for c in TOYOTA_BEFORE])
    repaired = repair_bars(adjusted, {"7203.T": 4_120.0}, splits(("7203.T", SPLIT_DAY, 5.0)))

    pd.testing.assert_frame_equal(repaired.frame, adjusted)
    assert repaired.repairs.empty


def test_a_drop_two_sessions_from_the_reported_date_is_left_for_the_jump_check() -> None:
    sent = toyota()
    two_away = splits(("7203.T", pd.Timestamp("2024-03-29"), 5.0))
    repaired = repair_bars(sent, {}, two_away)

    pd.testing.assert_frame_equal(repaired.frame, sent)
    assert repaired.repairs.empty
    spans = held_spans(repaired.frame, {}, {("7203.T", pd.Timestamp("2024-03-29"))})
    assert spans[["start", "end"]].values.tolist() == [[DROP_DAY, pd.Timestamp("2024-04-12")]]


def test_a_window_starting_at_the_drop_has_nothing_to_repair() -> None:
    after_the_split = toyota().iloc[9:]  # the stored close before it is on the old scale
    repaired = repair_bars(
        after_the_split, {"7203.T": 20_700.0}, splits(("7203.T", SPLIT_DAY, 5.0))
    )

    pd.testing.assert_frame_equal(repaired.frame, after_the_split)
    assert repaired.repairs.empty


def test_ambiguous_drops_are_left_alone() -> None:
    twice = toyota()
    twice.loc[twice["date"] == SPLIT_DAY, ["open", "high", "low", "close", "adj_close"]] /= 5
    assert repair_bars(twice, {}, splits(("7203.T", SPLIT_DAY, 5.0))).repairs.empty

    partly_adjusted = toyota([c / 5 for c in TOYOTA_BEFORE[:3]] + TOYOTA_BEFORE[3:])
    assert repair_bars(partly_adjusted, {}, splits(("7203.T", SPLIT_DAY, 5.0))).repairs.empty

    hundred = shell()  # a 100-for-1 split on the block's first day would explain it as well
    block_start = splits(("SHEL.L", pd.Timestamp("2024-03-04"), 100.0))
    assert repair_bars(hundred, {}, block_start).repairs.empty

    small = toyota([c * 1.5 / 5 for c in TOYOTA_BEFORE])  # a 3-for-2 drop: a bad day's size
    assert repair_bars(small, {}, splits(("7203.T", SPLIT_DAY, 1.5))).repairs.empty


def test_tickers_are_repaired_apart_and_the_frame_keeps_its_order_and_index() -> None:
    both = pd.concat([toyota(), shell()]).sample(frac=1.0, random_state=7)
    repaired = repair_bars(both, {}, splits(("7203.T", SPLIT_DAY, 5.0), ("AAPL", SPLIT_DAY, 4.0)))

    assert repaired.frame.index.equals(both.index)
    assert repaired.frame["ticker"].tolist() == both["ticker"].tolist()
    assert repaired.repairs.groupby("ticker").size().to_dict() == {"7203.T": 9, "SHEL.L": 9}
    in_order = repaired.repairs.sort_values(["ticker", "date"], ignore_index=True)
    pd.testing.assert_frame_equal(repaired.repairs, in_order)
    closes = repaired.frame.set_index(["ticker", "date"])["close"]
    assert closes["SHEL.L", pd.Timestamp("2024-03-04")] == pytest.approx(2718.5)
    assert closes["7203.T", pd.Timestamp("2024-03-13")] == pytest.approx(4130.0)


def test_no_bars_and_no_splits_repair_nothing() -> None:
    empty = shell().iloc[0:0]
    repaired = repair_bars(empty, {}, NO_SPLITS)
    assert repaired.frame.empty
    assert repaired.repairs.columns.tolist() == ["ticker", "date", "repair", "raw"]
