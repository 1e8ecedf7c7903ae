"""The common validation path: bad bars and rates are set aside with a reason, good ones go on."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from rm_pipeline.providers.base import TickerOutcome, TickerStatus
from rm_pipeline.providers.frames import DailyBarFrame, RejectedFrame, columns, conform
from rm_pipeline.providers.validation import (
    FX_RAW_COLUMNS,
    RejectReason,
    bars_result,
    fx_result,
    validate_bars,
)

TODAY = date(2024, 6, 28)
GOOD = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "adj_close": 10.4, "volume": 100}


def bars(*changes: dict[str, object]) -> pd.DataFrame:
    """One row per change, each a good bar on its own date with the change applied."""
    rows = [
        {"ticker": "AAA", "date": pd.Timestamp(2024, 6, 3) + pd.Timedelta(days=i)} | GOOD | change
        for i, change in enumerate(changes)
    ]
    return pd.DataFrame(rows, columns=columns(DailyBarFrame))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"close": None}, RejectReason.MISSING_CLOSE),
        ({"close": 0.0}, RejectReason.NON_POSITIVE_CLOSE),
        ({"close": -1.0}, RejectReason.NON_POSITIVE_CLOSE),
        ({"open": float("nan")}, RejectReason.MISSING_PRICE),
        ({"adj_close": float("inf")}, RejectReason.MISSING_PRICE),
        ({"low": 0.0, "open": 0.0}, RejectReason.NON_POSITIVE_PRICE),
        ({"high": 8.0}, RejectReason.HIGH_BELOW_LOW),
        ({"open": 12.0}, RejectReason.OPEN_OUTSIDE_RANGE),
        ({"open": 8.5}, RejectReason.OPEN_OUTSIDE_RANGE),
        ({"close": 11.5}, RejectReason.CLOSE_OUTSIDE_RANGE),
        ({"volume": -5}, RejectReason.NEGATIVE_VOLUME),
        ({"date": pd.Timestamp(2024, 6, 29)}, RejectReason.FUTURE_DATE),
        ({"date": pd.Timestamp(2024, 6, 8)}, RejectReason.NOT_A_SESSION),  # a Saturday
        ({"date": pd.Timestamp(2024, 6, 19)}, RejectReason.NOT_A_SESSION),  # Juneteenth
        ({"high": 1e15, "close": 1e15 - 1}, RejectReason.PRICE_TOO_LARGE),
        ({"volume": 1e20}, RejectReason.VOLUME_TOO_LARGE),
        ({"volume": 1.5}, RejectReason.FRACTIONAL_VOLUME),
    ],
)
def test_each_bad_row_is_set_aside_with_its_reason(change: dict[str, object], reason: str) -> None:
    good, rejected = validate_bars(bars({}, change), TODAY)

    assert good["date"].tolist() == [pd.Timestamp(2024, 6, 3)]
    assert rejected.drop(columns="raw").to_dict("records") == [
        {"ticker": "AAA", "date": change.get("date", pd.Timestamp(2024, 6, 4)), "reason": reason}
    ]
    raw = json.loads(rejected["raw"].iloc[0])
    assert set(raw) == {"date", "open", "high", "low", "close", "adj_close", "volume"}


def test_a_rejected_row_keeps_the_values_the_source_sent() -> None:
    frame = bars({}, {})
    frame["open"] = frame["open"].astype(object)
    frame.loc[1, "open"] = "abc"
    good, rejected = validate_bars(frame, TODAY)
    assert len(good) == 1
    assert json.loads(rejected["raw"].iloc[0]) == {
        "date": "2024-06-04", "open": "abc", "high": 11.0, "low": 9.0, "close": 10.5,
        "adj_close": 10.4, "volume": 100,
    }  # fmt: skip


def test_24_7_markets_trade_every_day() -> None:
    good, rejected = validate_bars(
        bars({"date": pd.Timestamp(2024, 6, 8)}).assign(ticker="BTC-USD"), TODAY
    )
    assert rejected.empty and len(good) == 1


def test_a_repeated_date_keeps_the_first_good_row() -> None:
    frame = bars({}, {}, {})
    frame["date"] = pd.Timestamp(2024, 6, 3)
    frame.loc[0, "close"] = None  # the first copy is bad, so the second is kept
    frame.loc[1, "close"] = 10.6

    good, rejected = validate_bars(frame, TODAY)

    assert good["close"].tolist() == [10.6]
    assert rejected["reason"].tolist() == ["missing_close", "duplicate"]


def test_rounding_noise_is_clamped_not_rejected() -> None:
    good, rejected = validate_bars(bars({"open": 11.0000001, "close": 8.9999999}), TODAY)

    assert rejected.empty
    assert good[["open", "close"]].to_numpy().tolist() == [[11.0, 9.0]]


def test_good_rows_come_out_with_the_standard_dtypes() -> None:
    good, rejected = validate_bars(bars({"volume": 1.6e6}), TODAY)

    assert good.dtypes.astype(str).tolist() == [
        "str", "datetime64[ns]", "float64", "float64", "float64", "float64", "float64", "Int64"
    ]  # fmt: skip
    assert good["volume"].tolist() == [1_600_000]
    assert list(rejected.columns) == columns(RejectedFrame)


def test_outcomes_count_rows_and_flag_tickers_whose_rows_all_failed() -> None:
    frame = pd.concat([bars({}, {"close": None}), bars({"high": 1.0}).assign(ticker="BBB")])
    outcomes = [TickerOutcome(t, TickerStatus.OK) for t in ("AAA", "BBB", "CCC")]

    result = bars_result(frame, outcomes, date(2024, 6, 1), date(2024, 6, 30), TODAY)

    assert result.outcomes == [
        TickerOutcome("AAA", TickerStatus.OK, "1 row rejected", 1),
        TickerOutcome("BBB", TickerStatus.ERROR, "every row rejected (1 row): high_below_low", 0),
        TickerOutcome("CCC", TickerStatus.NO_DATA, "", 0),
    ]
    assert [o.ticker for o in result.failed()] == ["BBB"]


def test_a_ticker_whose_every_row_is_rejected_fails_saying_how_many_and_why() -> None:
    """Rows the provider set aside (undated: a date it could not hold) count with the others."""
    frame = bars({"close": None}, {"high": 1.0}, {"close": None})
    set_aside = pd.DataFrame(
        {
            "ticker": "AAA",
            "date": pd.NaT,
            "reason": [f"unparseable: AAA.csv, line {n}, field 'date': ..." for n in (5, 6, 7)],
            "raw": None,
        }
    )
    outcomes = [TickerOutcome("AAA", TickerStatus.OK)]

    result = bars_result(
        frame, outcomes, date(2024, 6, 1), date(2024, 6, 30), TODAY, set_aside=set_aside
    )

    assert result.frame.empty and len(result.rejected) == 6
    assert result.outcomes == [
        TickerOutcome(
            "AAA",
            TickerStatus.ERROR,
            "every row rejected (6 rows): 3 unparseable, 2 missing_close, 1 high_below_low",
        )
    ]


def test_rows_outside_the_range_are_trimmed_not_rejected() -> None:
    outcomes = [TickerOutcome("AAA", TickerStatus.OK)]

    result = bars_result(bars({}, {}, {}), outcomes, date(2024, 6, 4), date(2024, 6, 4), TODAY)

    assert result.frame["date"].tolist() == [pd.Timestamp(2024, 6, 4)]
    assert result.rejected.empty


def test_timezone_aware_dates_are_refused() -> None:
    frame = bars({})
    frame["date"] = frame["date"].dt.tz_localize("Asia/Tokyo")

    with pytest.raises(TypeError, match="naive local trading date"):
        conform(DailyBarFrame, frame)


def test_a_volume_the_source_did_not_send_is_unknown_not_zero() -> None:
    good, rejected = validate_bars(bars({"volume": None}), TODAY)
    assert rejected.empty
    assert good["volume"].isna().tolist() == [True]


def rates(*changes: dict[str, object]) -> pd.DataFrame:
    """One raw EURUSD=X rate per change, each on its own date with the change applied."""
    rows = [
        {
            "ticker": "EURUSD=X",
            "base_currency": "EUR",
            "quote_currency": "USD",
            "date": pd.Timestamp(2024, 6, 3) + pd.Timedelta(days=i),
            "rate": 1.08,
        }
        | change
        for i, change in enumerate(changes)
    ]
    return pd.DataFrame(rows, columns=FX_RAW_COLUMNS)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rate": None}, RejectReason.MISSING_RATE),
        ({"rate": float("inf")}, RejectReason.MISSING_RATE),
        ({"rate": "abc"}, RejectReason.MISSING_RATE),
        ({"rate": 0.0}, RejectReason.NON_POSITIVE_RATE),
        ({"rate": -1.08}, RejectReason.NON_POSITIVE_RATE),
        ({"rate": 1e10}, RejectReason.RATE_OUT_OF_RANGE),
        ({"rate": 1e-9}, RejectReason.RATE_OUT_OF_RANGE),
        ({"date": pd.Timestamp(2024, 6, 29)}, RejectReason.FUTURE_DATE),
        ({"date": pd.Timestamp(2024, 6, 3)}, RejectReason.DUPLICATE),
    ],
)
def test_each_bad_rate_is_set_aside_with_its_reason(
    change: dict[str, object], reason: RejectReason
) -> None:
    outcome = TickerOutcome("EURUSD=X", TickerStatus.OK)
    result = fx_result(rates({}, change), [outcome], date(2024, 6, 1), date(2024, 7, 31), TODAY)

    assert result.frame.to_dict("records") == [
        {
            "base_currency": "EUR",
            "quote_currency": "USD",
            "date": pd.Timestamp(2024, 6, 3),
            "rate": 1.08,
        }
    ]
    [rejected] = result.rejected.to_dict("records")
    assert (rejected["ticker"], rejected["reason"]) == ("EURUSD=X", reason)
    assert set(json.loads(rejected["raw"])) == {"base_currency", "quote_currency", "date", "rate"}
    assert result.outcomes == [TickerOutcome("EURUSD=X", TickerStatus.OK, "1 row rejected", rows=1)]


def test_a_pair_whose_every_rate_is_bad_is_an_error() -> None:
    outcome = TickerOutcome("EURUSD=X", TickerStatus.OK)
    result = fx_result(rates({"rate": -1.0}), [outcome], date(2024, 6, 1), TODAY, TODAY)

    assert result.frame.empty
    assert result.outcomes[0].status is TickerStatus.ERROR
