"""The files provider: common export layouts in, standard frames out, clear errors on bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rm_pipeline.providers.base import ProviderResult, TickerStatus
from rm_pipeline.providers.files_provider import FilesInputError, FilesProvider
from rm_pipeline_tests.providers.conftest import TODAY

RANGE = (date(2024, 1, 1), date(2024, 12, 31))
GOOD_FILE = "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5"
Answer = TypeVar("Answer")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def files(directory: Path) -> FilesProvider:
    return FilesProvider(directory, today=lambda: TODAY)


def test_stooq_layout(tmp_path: Path) -> None:
    write(tmp_path, "AAPL.csv", """
Date,Open,High,Low,Close,Volume
2024-01-02,187.15,188.44,183.885,185.64,82488674
2024-01-03,184.22,185.88,183.43,184.25,58414460
""")  # fmt: skip

    result = files(tmp_path).daily_bars(["aapl"], *RANGE)

    assert result.frame.to_dict("records") == [
        {"ticker": "AAPL", "date": pd.Timestamp("2024-01-02"), "open": 187.15, "high": 188.44,
         "low": 183.885, "close": 185.64, "adj_close": 185.64, "volume": 82488674},
        {"ticker": "AAPL", "date": pd.Timestamp("2024-01-03"), "open": 184.22, "high": 185.88,
         "low": 183.43, "close": 184.25, "adj_close": 184.25, "volume": 58414460},
    ]  # fmt: skip
    assert result.outcomes[0].status is TickerStatus.OK and result.outcomes[0].rows == 2


def test_stooq_bulk_layout_with_compact_dates(tmp_path: Path) -> None:
    write(tmp_path, "MSFT.csv", """
<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>
MSFT.US,D,20240102,000000,373.86,375.9,366.77,370.87,25258600,0
""")  # fmt: skip

    frame = files(tmp_path).daily_bars(["MSFT"], *RANGE).frame

    assert frame[["date", "close", "volume"]].to_numpy().tolist() == [
        [pd.Timestamp("2024-01-02"), 370.87, 25258600]
    ]


def test_yfinance_export_keeps_the_local_date_and_carries_actions(tmp_path: Path) -> None:
    """Tokyo bars stamped at local midnight (+09:00): the date written is the trading date."""
    write(tmp_path, "7203.T.csv", """
Date,Open,High,Low,Close,Adj Close,Volume,Dividends,Stock Splits
2024-03-27 00:00:00+09:00,3700,3720,3650,3690,3600.5,21000000,0.0,0.0
2024-03-28 00:00:00+09:00,3650,3660,3560,3571,3500.25,30000000,30.0,0.0
2024-03-29 00:00:00+09:00,3580,3600,3520,3564,3494.0,25000000,0.0,2.0
""")  # fmt: skip
    provider = files(tmp_path)

    bars = provider.daily_bars(["7203.T"], *RANGE).frame
    actions = provider.corporate_actions(["7203.T"], *RANGE).frame

    assert [d.date() for d in bars["date"]] == [
        date(2024, 3, 27),
        date(2024, 3, 28),
        date(2024, 3, 29),
    ]
    assert bars["adj_close"].tolist() == [3600.5, 3500.25, 3494.0]
    assert actions.to_numpy().tolist() == [
        ["7203.T", pd.Timestamp("2024-03-29"), "split", 2.0],
        ["7203.T", pd.Timestamp("2024-03-28"), "dividend", 30.0],
    ]


def test_yfinance_multi_ticker_export(tmp_path: Path) -> None:
    write(tmp_path, "SPY.csv", """
Price,Adj Close,Close,High,Low,Open,Volume
Ticker,SPY,SPY,SPY,SPY,SPY,SPY
Date,,,,,,
2024-01-02,464.0,472.65,473.67,470.49,472.16,123623700
""")  # fmt: skip

    frame = files(tmp_path).daily_bars(["SPY"], *RANGE).frame

    assert frame[["open", "high", "low", "close", "adj_close"]].to_numpy().tolist() == [
        [472.16, 473.67, 470.49, 472.65, 464.0]
    ]


def test_parquet_with_a_timezone_aware_date_index(tmp_path: Path) -> None:
    index = pd.DatetimeIndex(["2024-03-04", "2024-03-05"], name="Date").tz_localize("Asia/Tokyo")
    data = {"Open": [10.0, 11.0], "High": [12.0, 12.0], "Low": [9.0, 10.0], "Close": [11.0, 11.5],
            "Adj Close": [10.9, 11.4], "Volume": [100, 200]}  # fmt: skip
    pd.DataFrame(data, index=index).to_parquet(tmp_path / "6758.T.parquet")

    frame = files(tmp_path).daily_bars(["6758.T"], *RANGE).frame

    assert [d.date() for d in frame["date"]] == [date(2024, 3, 4), date(2024, 3, 5)]
    assert frame["adj_close"].tolist() == [10.9, 11.4]


def test_headers_ignore_case_and_spacing(tmp_path: Path) -> None:
    write(tmp_path, "KO.csv", """
 DATE , OPEN,high,Low,CLOSE, adj_close ,VOLUME
2024-01-02,59.0,59.5,58.8,59.3,58.1,1000
""")  # fmt: skip

    frame = files(tmp_path).daily_bars(["KO"], *RANGE).frame

    assert frame[["close", "adj_close", "volume"]].to_numpy().tolist() == [[59.3, 58.1, 1000]]


def test_bad_rows_are_rejected_not_raised(tmp_path: Path) -> None:
    write(tmp_path, "XOM.csv", f"""
Date,Open,High,Low,Close,Volume
2024-01-02,100,101,99,100.5,10
2024-01-03,100,99,101,100,10
2024-01-04,100,101,99,,10
2024-01-05,100,101,99,100,-3
2024-01-05,100,101,99,100,10
{TODAY + timedelta(days=1)},100,101,99,100,10
""")  # fmt: skip

    result = files(tmp_path).daily_bars(["XOM"], date(2024, 1, 1), date(2030, 1, 1))

    assert result.frame["date"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05")]
    assert result.rejected["reason"].tolist() == [
        "high_below_low", "missing_close", "negative_volume", "future_date"
    ]  # fmt: skip
    assert result.outcomes[0].reason == "4 rows rejected"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5\n2024-01-03,1,2,x1,1.5",
         "XX.csv, line 3, field 'low': not a number: 'x1'"),
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5\n\n2024-13-03,1,2,1,1.5",
         "XX.csv, line 4, field 'date': not a date (expected YYYY-MM-DD): '2024-13-03'"),
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5\n2024-02-30,1,2,1,1.5",
         "XX.csv, line 3, field 'date': not a date (expected YYYY-MM-DD): '2024-02-30'"),
    ],
)  # fmt: skip
def test_a_bad_cell_rejects_its_row_named_by_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    write(tmp_path, "XX.csv", text)

    result = files(tmp_path).daily_bars(["XX"], *RANGE)

    assert result.frame["date"].tolist() == [pd.Timestamp("2024-01-02")]
    [reason] = result.rejected["reason"].tolist()
    assert reason.startswith("unparseable: ") and expected in reason
    assert result.outcomes[0].status is TickerStatus.OK
    assert result.outcomes[0].reason == "1 row rejected"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date,Open,High,Low\n2024-01-02,1,2,1", "XX.csv, line 1: missing column(s) close"),
        ("Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5,7", "XX.csv: not a readable CSV file"),
        ("", "XX.csv: empty file"),
        ("Date,Open,High,Low,Close\n", "XX.csv: no rows under the header"),
    ],
)  # fmt: skip
def test_an_unreadable_file_fails_its_ticker_only(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "XX.csv", text)
    write(tmp_path, "GOOD.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5")
    (tmp_path / "BIN.csv").write_bytes(bytes(range(256)) * 8)

    result = files(tmp_path).daily_bars(["XX", "GOOD", "BIN"], *RANGE)

    assert result.frame["ticker"].tolist() == ["GOOD"]
    outcomes = result.by_ticker()
    assert outcomes["GOOD"].status is TickerStatus.OK
    assert outcomes["XX"].status is TickerStatus.INVALID and expected in outcomes["XX"].reason
    assert outcomes["BIN"].status is TickerStatus.INVALID and "BIN.csv" in outcomes["BIN"].reason


def test_a_bad_parquet_cell_names_the_row(tmp_path: Path) -> None:
    data = {"date": ["2024-01-02", "someday"], "open": [1.0, 1.0], "high": [2.0, 2.0],
            "low": [1.0, 1.0], "close": [1.5, 1.5]}  # fmt: skip
    pd.DataFrame(data).to_parquet(tmp_path / "YY.parquet")

    result = files(tmp_path).daily_bars(["YY"], *RANGE)

    assert len(result.frame) == 1
    assert "YY.parquet, row 2, field 'date'" in result.rejected["reason"].iloc[0]


def test_securities_file_and_guessed_reference(tmp_path: Path) -> None:
    write(tmp_path, "securities.csv", """
ticker,name,security_type,exchange,currency,country,sector,industry,description
aapl,Apple Inc.,EQUITY,NASDAQ,USD,United States,Technology,Consumer Electronics,
""")  # fmt: skip
    write(tmp_path, "AAPL.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5")
    write(tmp_path, "SHEL.L.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5")

    result = files(tmp_path).securities()

    frame = result.frame.set_index("ticker")
    assert list(frame.index) == ["AAPL", "SHEL.L"]
    assert frame.loc["AAPL", ["name", "security_type", "sector"]].tolist() == [
        "Apple Inc.", "equity", "Technology"
    ]  # fmt: skip
    assert frame.loc["SHEL.L", ["name", "exchange", "currency"]].tolist() == [
        "SHEL.L",
        "LSE",
        "GBp",
    ]
    assert "guessed" in result.by_ticker()["SHEL.L"].reason
    assert files(tmp_path).securities(["NOPE"]).outcomes[0].status is TickerStatus.NO_DATA


def test_a_bad_security_type_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path, "securities.csv", "ticker,name,security_type\nAAA,A Corp,equity\nBBB,B Corp,stock"
    )

    with pytest.raises(FilesInputError, match=r"securities.csv, line 3, field 'security_type'"):
        files(tmp_path).securities()


def test_actions_file(tmp_path: Path) -> None:
    write(tmp_path, "actions.csv", """
ticker,date,action,value
AAPL,2020-08-31,split,4
AAPL,2024-02-09,Dividend,0.24
GE,2021-08-02,split,0.125
""")  # fmt: skip

    result = files(tmp_path).corporate_actions(
        ["AAPL", "GE", "MSFT"], date(2020, 1, 1), date(2024, 12, 31)
    )

    assert result.frame.to_numpy().tolist() == [
        ["AAPL", pd.Timestamp("2020-08-31"), "split", 4.0],
        ["AAPL", pd.Timestamp("2024-02-09"), "dividend", 0.24],
        ["GE", pd.Timestamp("2021-08-02"), "split", 0.125],
    ]
    assert [o.status for o in result.outcomes] == [
        TickerStatus.OK,
        TickerStatus.OK,
        TickerStatus.NO_DATA,
    ]


def test_a_bad_action_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "actions.csv", "ticker,date,action,value\nAAPL,2020-08-31,merger,1")

    with pytest.raises(FilesInputError, match=r"actions.csv, line 2, field 'action'"):
        files(tmp_path).corporate_actions(["AAPL"], *RANGE)


def test_two_files_for_one_ticker_fail_that_ticker(tmp_path: Path) -> None:
    write(tmp_path, "AAPL.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5")
    pd.DataFrame({"date": ["2024-01-02"], "open": [1.0], "high": [2.0], "low": [1.0],
                  "close": [1.5]}).to_parquet(tmp_path / "aapl.parquet")  # fmt: skip

    [outcome] = files(tmp_path).daily_bars(["AAPL"], *RANGE).outcomes
    assert outcome.status is TickerStatus.INVALID
    assert "a second file for AAPL" in outcome.reason


def test_no_dividend_data_is_an_unknown_yield_not_zero(tmp_path: Path) -> None:
    write(tmp_path, "KO.csv", "Date,Open,High,Low,Close,Volume\n2024-06-28,64,64,58,60,2000")
    write(
        tmp_path,
        "PEP.csv",
        "Date,Open,High,Low,Close,Volume,Dividends\n2024-06-28,64,64,58,60,2000,0",
    )

    rows = FilesProvider(tmp_path, today=lambda: date(2024, 7, 1)).fundamentals(["KO", "PEP"])

    yields = dict(zip(rows.frame["ticker"], rows.frame["dividend_yield"], strict=True))
    assert pd.isna(yields["KO"]) and yields["PEP"] == 0.0


def test_securities_are_listed_only_for_readable_files(tmp_path: Path) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    write(tmp_path, "EMPTY.csv", "")
    write(tmp_path, "ALLBAD.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,abc,1.5")

    result = files(tmp_path).securities()

    assert result.frame["ticker"].tolist() == ["GOOD"]
    statuses = {o.ticker: o.status for o in result.outcomes}
    assert statuses == {
        "GOOD": TickerStatus.OK, "EMPTY": TickerStatus.INVALID, "ALLBAD": TickerStatus.ERROR
    }  # fmt: skip


ALL_REFUSED = """
Date,Open,High,Low,Close
2024-01-02,1,2,3,1.5
9999-12-31,1,2,1,1.5
2024-01-04,1,2,1,abc
"""
EVERY_ROW_REJECTED = "every row rejected (3 rows): 2 unparseable, 1 high_below_low"


def test_a_ticker_whose_every_row_is_refused_fails_with_its_rows_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    write(tmp_path, "BAD.csv", ALL_REFUSED)
    provider = files(tmp_path)

    bars = provider.daily_bars(["GOOD", "BAD"], *RANGE)
    securities = provider.securities()

    assert bars.frame["ticker"].tolist() == ["GOOD"]
    assert bars.rejected["ticker"].tolist() == ["BAD"] * 3
    assert [(o.ticker, o.status, o.reason) for o in bars.failed()] == [
        ("BAD", TickerStatus.ERROR, EVERY_ROW_REJECTED)
    ]
    assert securities.frame["ticker"].tolist() == ["GOOD"]
    assert [(o.ticker, o.status, o.reason) for o in securities.failed()] == [
        ("BAD", TickerStatus.ERROR, EVERY_ROW_REJECTED)
    ]
    assert f"BAD: {EVERY_ROW_REJECTED}" in caplog.text


@pytest.mark.parametrize("written", ["9999-12-31", "0001-01-01", "99999-01-01"])
def test_a_date_no_frame_can_hold_rejects_its_row_undated(tmp_path: Path, written: str) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    write(tmp_path, "XX.csv", f"""
Date,Open,High,Low,Close
2024-01-02,1,2,1,1.5
{written},1,2,1,1.5
2024-01-03,1,2,1,1.5
""")  # fmt: skip

    result = files(tmp_path).daily_bars(["XX", "GOOD"], *RANGE)

    assert result.frame[["ticker", "date"]].to_numpy().tolist() == [
        ["XX", pd.Timestamp("2024-01-02")],
        ["XX", pd.Timestamp("2024-01-03")],
        ["GOOD", pd.Timestamp("2024-01-02")],
    ]
    [rejected] = result.rejected.to_dict("records")
    assert rejected["ticker"] == "XX" and pd.isna(rejected["date"])
    assert rejected["reason"].startswith("unparseable: XX.csv, line 3, field 'date': ")
    assert rejected["reason"].endswith(f": {written!r}")
    assert json.loads(rejected["raw"])["date"] == written
    outcomes = result.by_ticker()
    assert (outcomes["XX"].status, outcomes["XX"].rows, outcomes["XX"].reason) == (
        TickerStatus.OK, 2, "1 row rejected"
    )  # fmt: skip
    assert outcomes["GOOD"].status is TickerStatus.OK


def test_a_date_out_of_range_names_its_range(tmp_path: Path) -> None:
    write(tmp_path, "XX.csv", "Date,Open,High,Low,Close\n9999-12-31,1,2,1,1.5")

    [reason] = files(tmp_path).daily_bars(["XX"], *RANGE).rejected["reason"]

    assert "date outside the supported range 1677-09-22 to 2262-04-11: '9999-12-31'" in reason


@pytest.mark.parametrize(
    "dates",
    [
        pa.array([dt.date(2024, 1, 2), dt.date(9999, 12, 31)], pa.date32()),
        pa.array([dt.datetime(2024, 1, 2), dt.datetime(1, 1, 1)], pa.timestamp("us")),
        pa.array(
            [dt.datetime(2024, 1, 2), dt.datetime(9999, 12, 31)], pa.timestamp("us", tz="UTC")
        ),
    ],
    ids=["date32", "timestamp", "timestamp_tz"],
)
def test_a_parquet_date_no_frame_can_hold_rejects_its_row(tmp_path: Path, dates: pa.Array) -> None:
    prices = pa.array([1.5, 1.5])
    table = pa.table({"date": dates, "open": prices, "high": prices, "low": prices,
                      "close": prices})  # fmt: skip
    pq.write_table(table, tmp_path / "YY.parquet")

    result = files(tmp_path).daily_bars(["YY"], *RANGE)

    assert result.frame["date"].tolist() == [pd.Timestamp("2024-01-02")]
    [rejected] = result.rejected.to_dict("records")
    assert pd.isna(rejected["date"]) and "YY.parquet, row 2, field 'date'" in rejected["reason"]


def test_a_date_no_frame_can_hold_in_the_actions_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "actions.csv", "ticker,date,action,value\nAAPL,9999-12-31,dividend,0.24")

    with pytest.raises(FilesInputError, match=r"actions.csv, line 2, field 'date': date outside"):
        files(tmp_path).corporate_actions(["AAPL"], *RANGE)


def finishes(call: Callable[[], Answer], seconds: float = 10) -> Answer:
    """`call`'s answer, failing the test when it takes more than `seconds`: the call runs in a
    daemon thread, so one that blocks forever cannot hang the suite."""
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            answers.append(call())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if errors:
        raise errors[0]
    return answers[0]


def make_directory(path: Path) -> str:
    path.mkdir()
    return "a directory, not a file"


def make_dangling_symlink(path: Path) -> str:
    path.symlink_to(path.with_name("gone.csv"))
    return "a dangling symlink, not a file"


def make_fifo(path: Path) -> str:
    os.mkfifo(path)
    return "a named pipe (FIFO), not a file"


NOT_A_FILE = pytest.mark.parametrize(
    "make", [make_directory, make_dangling_symlink, make_fifo], ids=["directory", "symlink", "fifo"]
)
"""Each `make` puts something that is not a regular file at a path and returns what the provider
calls it."""


def answers_for(provider: FilesProvider, tickers: list[str]) -> list[ProviderResult]:
    """The answers of every call that reads the tickers' price files."""
    return [
        provider.daily_bars(tickers, *RANGE),
        provider.corporate_actions(tickers, *RANGE),
        provider.fundamentals(tickers),
        provider.securities(),
    ]


@NOT_A_FILE
def test_a_price_file_that_is_not_a_file_fails_its_ticker_only(
    tmp_path: Path, make: Callable[[Path], str]
) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    what = make(tmp_path / "XX.csv")

    answers = finishes(lambda: answers_for(files(tmp_path), ["XX", "GOOD"]))

    for answer in answers:
        outcomes = answer.by_ticker()
        assert outcomes["GOOD"].status is TickerStatus.OK
        assert outcomes["XX"].status is TickerStatus.ERROR
        assert outcomes["XX"].reason == f"{tmp_path / 'XX.csv'}: {what}"
    assert answers[0].frame["ticker"].tolist() == ["GOOD"]


def test_a_pair_file_that_is_a_fifo_fails_its_pair_only(tmp_path: Path) -> None:
    write(tmp_path, "EURUSD=X.csv", "Date,Close\n2024-03-01,1.0841")
    os.mkfifo(tmp_path / "JPYUSD=X.csv")

    result = finishes(lambda: files(tmp_path).fx_rates(["EUR", "JPY"], *RANGE))

    outcomes = result.by_ticker()
    assert (outcomes["EURUSD=X"].status, outcomes["EURUSD=X"].rows) == (TickerStatus.OK, 1)
    assert outcomes["JPYUSD=X"].status is TickerStatus.ERROR
    assert "JPYUSD=X.csv: a named pipe (FIFO), not a file" in outcomes["JPYUSD=X"].reason


def test_a_price_file_that_may_not_be_read_fails_its_ticker_only(tmp_path: Path) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    write(tmp_path, "XX.csv", GOOD_FILE).chmod(0)
    if os.access(tmp_path / "XX.csv", os.R_OK):
        pytest.skip("this process reads any file (root, or a process that may override modes)")

    result = files(tmp_path).daily_bars(["XX", "GOOD"], *RANGE)

    outcomes = result.by_ticker()
    assert outcomes["GOOD"].status is TickerStatus.OK
    assert outcomes["XX"].status is TickerStatus.ERROR
    assert outcomes["XX"].reason == f"{tmp_path / 'XX.csv'}: cannot be read: Permission denied"


@NOT_A_FILE
def test_a_securities_file_that_is_not_a_file_is_an_error(
    tmp_path: Path, make: Callable[[Path], str]
) -> None:
    write(tmp_path, "GOOD.csv", GOOD_FILE)
    what = make(tmp_path / "securities.csv")

    with pytest.raises(FilesInputError, match=re.escape(f"securities.csv: {what}")):
        finishes(files(tmp_path).securities)


def test_fundamentals_from_the_bars(tmp_path: Path) -> None:
    write(tmp_path, "KO.csv", """
Date,Open,High,Low,Close,Volume
2024-06-26,60,62,59,61,1000
2024-06-27,61,65,60,64,3000
2024-06-28,64,64,58,60,2000
""")  # fmt: skip
    write(
        tmp_path,
        "actions.csv",
        "ticker,date,action,value\nKO,2024-06-14,dividend,0.485\nKO,2023-06-14,dividend,9",
    )

    result = FilesProvider(tmp_path, today=lambda: date(2024, 7, 1)).fundamentals(["KO", "PEP"])

    [row] = result.frame.to_dict("records")
    assert row["as_of"] == pd.Timestamp("2024-06-28")
    assert (row["current_price"], row["volume"], row["avg_volume"]) == (60.0, 2000.0, 2000.0)
    assert (row["fifty_two_week_high"], row["fifty_two_week_low"]) == (65.0, 58.0)
    assert row["dividend_yield"] == pytest.approx(0.485 / 60)
    assert pd.isna(row["pe_ratio"]) and pd.isna(row["market_cap"])
    assert [o.status for o in result.outcomes] == [TickerStatus.OK, TickerStatus.NO_DATA]


def test_a_pair_file_gives_its_close_as_the_rate(tmp_path: Path) -> None:
    """Yahoo's own export of a pair (stamped at London midnight); a bad cell rejects its row."""
    write(tmp_path, "EURUSD=X.csv", """
Date,Open,High,Low,Close,Adj Close,Volume
2024-03-01 00:00:00+00:00,1.0805,1.0849,1.0796,1.0841,1.0841,0
2024-03-04 00:00:00+00:00,1.0838,1.0866,1.0833,1.0855,1.0855,0
2024-03-05 00:00:00+00:00,1.0856,1.0868,1.0838,n/a?,1.0849,0
2024-03-06 00:00:00+00:00,1.0855,1.0912,1.0849,1.0901,1.0901,0
""")  # fmt: skip
    write(tmp_path, "JPYUSD=X.csv", "Date,Close\n")

    result = files(tmp_path).fx_rates(["EUR", "JPY", "CHF"], *RANGE)

    assert result.frame.to_numpy().tolist() == [
        ["EUR", "USD", pd.Timestamp("2024-03-01"), 1.0841],
        ["EUR", "USD", pd.Timestamp("2024-03-04"), 1.0855],
        ["EUR", "USD", pd.Timestamp("2024-03-06"), 1.0901],
    ]
    [reason] = result.rejected["reason"].tolist()
    assert reason.startswith("unparseable: ") and "EURUSD=X.csv, line 4, field 'close'" in reason
    outcomes = result.by_ticker()
    assert (outcomes["EURUSD=X"].status, outcomes["EURUSD=X"].rows) == (TickerStatus.OK, 3)
    assert outcomes["JPYUSD=X"].status is TickerStatus.INVALID
    assert "JPYUSD=X.csv: no rows under the header" in outcomes["JPYUSD=X"].reason
    assert outcomes["CHFUSD=X"].status is TickerStatus.NO_DATA


def test_pair_files_are_not_securities(tmp_path: Path) -> None:
    write(tmp_path, "AAPL.csv", "Date,Open,High,Low,Close\n2024-01-02,1,2,1,1.5")
    write(tmp_path, "EURUSD=X.csv", "Date,Open,High,Low,Close\n2024-01-02,1.09,1.1,1.08,1.095")

    assert files(tmp_path).securities().frame["ticker"].tolist() == ["AAPL"]
