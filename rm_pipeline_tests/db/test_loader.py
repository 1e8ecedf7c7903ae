"""The bulk loader: counts are right, unchanged rows are not rewritten, failures change nothing,
and the binary COPY stores exactly what the CSV COPY it replaced stored."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from rm_pipeline.db import loader
from rm_pipeline.db.binary_copy import FrameEncoder, TargetColumn
from rm_pipeline.db.loader import (
    DuplicateKeyError,
    LoadError,
    LoadResult,
    UpsertSpec,
    update_frame,
    upsert_frame,
)
from rm_pipeline.ingest.quarantine import QUARANTINE

PRICES = UpsertSpec(
    table="price_history",
    columns=("security_id", "date", "open", "high", "low", "close", "volume", "data_source"),
    key_columns=("security_id", "date"),
)


def new_security(db: Engine, ticker: str = "AAPL") -> str:
    with db.begin() as conn:
        return str(
            conn.execute(
                text(
                    "INSERT INTO securities (ticker, name, security_type) "
                    "VALUES (:ticker, :ticker, 'equity') RETURNING id"
                ),
                {"ticker": ticker},
            ).scalar_one()
        )


@pytest.fixture
def security_id(db: Engine) -> str:
    return new_security(db)


@pytest.fixture
def copy_formats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The COPY format each load of the test used, in order."""
    used: list[str] = []
    choose = loader.frame_encoder

    def recorded(frame: pd.DataFrame, columns: list[TargetColumn]) -> FrameEncoder | None:
        encoder = choose(frame, columns)
        used.append("binary" if encoder else "csv")
        return encoder

    monkeypatch.setattr(loader, "frame_encoder", recorded)
    return used


def through_csv(monkeypatch: pytest.MonkeyPatch, load: Callable[[], LoadResult]) -> LoadResult:
    """`load` sent as CSV, the loader's fallback and its only format before the binary COPY."""
    with monkeypatch.context() as patched:
        patched.setattr(loader, "frame_encoder", lambda frame, columns: None)
        return load()


def bars(security_id: str, days: int, close: float = 100.0) -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=days)
    return pd.DataFrame(
        {
            "security_id": security_id,
            "date": dates.date,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": [close + i / 1000 for i in range(days)],
            "volume": 1_000,
            "data_source": "test",
        }
    )


def snapshot(db: Engine) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [
            tuple(row) for row in conn.execute(text("SELECT * FROM price_history ORDER BY date"))
        ]


def row_versions(db: Engine) -> dict[date, tuple[str, str]]:
    """Each bar's row version: the transaction that wrote it and the one that locked or replaced
    it ('0': none)."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT date, xmin::text, xmax::text FROM price_history"))
        return {day: (xmin, xmax) for day, xmin, xmax in rows}


def test_an_unchanged_reload_leaves_the_stored_rows_untouched_not_even_locked(
    db: Engine, security_id: str
) -> None:
    frame = bars(security_id, 30)
    with db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    before = row_versions(db)
    changed = frame.assign(close=frame["close"].where(frame.index != 7, 100.5))
    with db.begin() as conn:
        reload = upsert_frame(conn, changed, PRICES)
    assert (reload.inserted, reload.updated, reload.unchanged) == (0, 1, 29)
    after = row_versions(db)
    assert [day for day in before if after[day] != before[day]] == [frame["date"][7]]


def test_fresh_load_then_identical_reload_then_one_change(db: Engine, security_id: str) -> None:
    frame = bars(security_id, 30)
    with db.begin() as conn:
        assert upsert_frame(conn, frame, PRICES, batch_rows=7).inserted == 30
    before = snapshot(db)

    with db.begin() as conn:
        reload = upsert_frame(conn, frame, PRICES)
    assert (reload.inserted, reload.updated, reload.unchanged) == (0, 0, 30)
    assert snapshot(db) == before

    frame.loc[5, "close"] = 100.456789
    with db.begin() as conn:
        change = upsert_frame(conn, frame, PRICES)
    assert (change.inserted, change.updated, change.unchanged) == (0, 1, 29)
    with db.connect() as conn:
        closes = conn.execute(text("SELECT close FROM price_history ORDER BY date")).scalars().all()
    assert str(closes[5]) == "100.456789"
    assert len(closes) == 30


@pytest.fixture
def staged_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of each frame the test's loads sent through the staging table."""
    staged: list[int] = []
    stage = loader._stage

    def recorded(conn: object, frame: pd.DataFrame, *args: object) -> None:
        staged.append(len(frame))
        stage(conn, frame, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "_stage", recorded)
    return staged


def test_a_fresh_frame_is_copied_straight_in_and_an_overlapping_one_is_staged(
    db: Engine, security_id: str, staged_loads: list[int]
) -> None:
    frame = bars(security_id, 30)
    with db.begin() as conn:  # row 7: none of the probed first, middle and last rows
        assert upsert_frame(conn, frame.iloc[[7]], PRICES).inserted == 1
    assert staged_loads == []  # a fresh frame of one row went straight in

    frame.loc[7, "close"] = 99.5
    with db.begin() as conn:
        result = upsert_frame(conn, frame, PRICES, count_by="date")
    # The probe missed row 7, the straight COPY hit its key and was undone; staged instead.
    assert staged_loads == [30]
    assert (result.inserted, result.updated, result.unchanged) == (29, 1, 0)
    assert result.groups[frame.loc[7, "date"]] == LoadResult(updated=1)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT count(*), sum(close) FROM price_history")).one()
    assert (stored[0], float(stored[1])) == (30, pytest.approx(frame["close"].sum()))

    with db.begin() as conn:  # every probed key is stored: staged at once
        assert upsert_frame(conn, frame, PRICES).unchanged == 30
    assert staged_loads == [30, 30]


@pytest.mark.parametrize("through", ["binary", "csv"])
def test_a_straight_copy_gives_its_rows_time_ordered_ids_in_key_order(
    db: Engine, security_id: str, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    """Ids made by the loader (`time_ordered_id`) are version 7 UUIDs of the load's millisecond,
    ascending in key order; rows the upsert inserts get the column's default, also version 7."""
    with_ids = replace(PRICES, time_ordered_id="id")
    frame = bars(security_id, 30).sample(frac=1, random_state=3)  # rows out of key order
    before_ms = time.time_ns() // 1_000_000
    with db.begin() as conn:
        if through == "csv":
            through_csv(monkeypatch, lambda: upsert_frame(conn, frame.iloc[:20], with_ids))
        else:
            upsert_frame(conn, frame.iloc[:20], with_ids)
    after_ms = time.time_ns() // 1_000_000
    with db.begin() as conn:
        assert upsert_frame(conn, frame, with_ids).inserted == 10  # overlaps: staged
    with db.connect() as conn:
        stored = conn.execute(text("SELECT date, id FROM price_history ORDER BY date")).all()
    assert len(stored) == 30 and all(row.id.version == 7 for row in stored)
    copied = [row.id for row in stored if row.date in set(frame["date"].iloc[:20])]
    assert copied == sorted(copied) and len(copied) == 20
    assert {id_millisecond(uuid) for uuid in copied} <= set(range(before_ms, after_ms + 1))


def id_millisecond(value: uuid.UUID) -> int:
    return value.int >> 80


def test_nulls_and_numeric_precision_survive_the_round_trip(db: Engine, security_id: str) -> None:
    frame = bars(security_id, 2)
    frame["open"] = [None, 100.1234564]
    with db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    with db.connect() as conn:
        opens = conn.execute(text("SELECT open FROM price_history ORDER BY date")).scalars().all()
    assert opens[0] is None
    assert str(opens[1]) == "100.123456"


def test_duplicate_keys_are_refused_with_the_row_named(db: Engine, security_id: str) -> None:
    frame = pd.concat([bars(security_id, 3), bars(security_id, 1)], ignore_index=True)
    with pytest.raises(DuplicateKeyError, match="row 3 repeats the key"), db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    assert snapshot(db) == []


def test_a_database_error_mid_load_leaves_the_table_as_it_was(db: Engine, security_id: str) -> None:
    with db.begin() as conn:
        upsert_frame(conn, bars(security_id, 10), PRICES)
    before = snapshot(db)

    changed = bars(security_id, 20, close=200.0)
    changed.loc[15, "security_id"] = str(uuid.uuid4())  # no such security: FK violation
    with pytest.raises(IntegrityError, match="price_history_security_id_fkey"), db.begin() as conn:
        upsert_frame(conn, changed, PRICES, batch_rows=4)
    assert snapshot(db) == before


def test_update_frame_counts_unmatched_keys_and_keeps_updated_at(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO securities (ticker, name, security_type, exchange, updated_at) VALUES "
                "('AAPL', 'Apple', 'equity', 'NASDAQ', '2000-01-01'),"
                "('MSFT', 'Microsoft', 'equity', 'NASDAQ', '2000-01-01')"
            )
        )
    spec = UpsertSpec(
        table="securities",
        columns=("ticker", "exchange", "pe_ratio"),
        key_columns=("ticker", "exchange"),
    )
    frame = pd.DataFrame(
        {"ticker": ["AAPL", "MSFT", "NOPE"], "exchange": "NASDAQ", "pe_ratio": [30.5, None, 9.0]}
    )
    with db.begin() as conn:
        result = update_frame(conn, frame, spec)
    assert (result.updated, result.unchanged, result.unmatched) == (1, 1, 1)
    with db.connect() as conn:
        query = text("SELECT ticker, CAST(extract(year FROM updated_at) AS int) FROM securities")
        rows = {ticker: year for ticker, year in conn.execute(query)}
    assert rows["MSFT"] == 2000
    assert rows["AAPL"] > 2000


def test_a_value_the_column_cannot_hold_is_named_with_its_row_and_field(
    db: Engine, security_id: str
) -> None:
    with db.begin() as conn:
        upsert_frame(conn, bars(security_id, 3), PRICES)
    before = snapshot(db)
    frame = bars(security_id, 6)
    frame.loc[4, "high"] = 1e15  # NUMERIC(20, 6) holds less than 10^14
    expected = r"row 4 \(security_id=.*, date=2024-01-05\), field high = 1000000000000000.0"
    with pytest.raises(LoadError, match=expected), db.begin() as conn:
        upsert_frame(conn, frame, PRICES, batch_rows=2)
    assert snapshot(db) == before


TRICKY_TEXT = [
    "a,b",
    'say "hi"',
    "two\nlines",
    'comma, "quote"\r\nand CRLF',
    "tab\there",
    "back\\slash \\N",
    "ünïcødé ✓ 株式 🙂",
    "",
    " padded ",
    None,
]


def tricky_bars(security_id: str, rows: int = 2_400) -> pd.DataFrame:
    """Bars hard to send exactly: floats of every magnitude with up to 17 significant digits,
    values half-way between two NUMERIC(20, 6) values and their neighbouring floats, values too
    large to round in NumPy, negatives, NULLs, dates on both sides of 2000-01-01, volumes at the
    BIGINT limits, and text CSV has to quote."""
    rng = np.random.default_rng(11)
    half_way = (rng.integers(0, 10**12, rows) + 0.5) / 1e6
    pool = np.concatenate(
        [
            rng.random(rows) * 10.0 ** rng.integers(-9, 14, rows),
            half_way,
            np.nextafter(half_way, 0),
            np.nextafter(half_way, np.inf),
            rng.random(rows) * 1e13,
            rng.integers(-(10**6), 10**6, rows).astype(float),
        ]
    )

    def prices(nulls: bool) -> np.ndarray:
        values = rng.choice(pool, rows) * rng.choice([-1.0, 1.0], rows)
        if nulls:
            values[rng.random(rows) < 0.1] = np.nan
        return values

    days = rng.choice(110_000, rows, replace=False)  # 1900-01-01 to 2201
    volumes = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, rows, dtype=np.int64)]
    volumes[:3] = [2**63 - 1, -(2**63), 0]
    return pd.DataFrame(
        {
            "security_id": security_id,
            "date": (pd.Timestamp("1900-01-01") + pd.to_timedelta(days, "D")).date,
            "open": prices(nulls=True),
            "high": prices(nulls=True),
            "low": prices(nulls=True),
            "close": prices(nulls=False),
            "volume": pd.array([None, *volumes[1:]], dtype="Int64"),
            "data_source": [TRICKY_TEXT[i % len(TRICKY_TEXT)] for i in range(rows)],
        }
    )


def with_none(values: pd.Series) -> list[object]:
    return [None if pd.isna(value) else value for value in values]


@pytest.fixture
def unruled(db: Engine) -> Iterator[UpsertSpec]:
    """`PRICES` aimed at a table shaped like price_history (its types, defaults and key) without
    the rules a bar must satisfy, for the tests of the encoding, whose values no bar holds:
    negatives, any magnitude, a high below its low."""
    with db.begin() as conn:
        conn.execute(
            text("CREATE TABLE unruled (LIKE price_history INCLUDING DEFAULTS INCLUDING INDEXES)")
        )
    yield replace(PRICES, table="unruled")
    with db.begin() as conn:
        conn.execute(text("DROP TABLE unruled"))


def stored_bars(db: Engine, security_id: str, table: str) -> list[tuple[object, ...]]:
    """One security's bars as the server prints them (a NUMERIC with its scale), by date."""
    query = text(
        "SELECT date, CAST(open AS text), CAST(high AS text), CAST(low AS text),"
        f" CAST(close AS text), volume, data_source FROM {table}"
        " WHERE security_id = CAST(:id AS uuid) ORDER BY date"
    )
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(query, {"id": security_id})]


def test_binary_copy_stores_exactly_what_csv_stored(
    db: Engine, unruled: UpsertSpec, copy_formats: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary_id, csv_id = new_security(db, "BIN"), new_security(db, "CSV")
    frame = tricky_bars(binary_id)
    with db.begin() as conn:
        binary = upsert_frame(conn, frame, unruled, batch_rows=1_000)
        csv = through_csv(
            monkeypatch,
            lambda: upsert_frame(conn, frame.assign(security_id=csv_id), unruled, batch_rows=1_000),
        )
    assert copy_formats == ["binary"]
    assert binary == csv == LoadResult(inserted=len(frame))

    rows = stored_bars(db, binary_id, unruled.table)
    assert rows == stored_bars(db, csv_id, unruled.table)
    by_date = frame.sort_values("date")
    assert [row[0] for row in rows] == list(by_date["date"])
    assert [row[5] for row in rows] == with_none(by_date["volume"])
    assert [row[6] for row in rows] == with_none(by_date["data_source"])
    assert [row[1] is None for row in rows] == list(by_date["open"].isna())


@pytest.mark.parametrize(
    ("close", "stored"),
    [
        (1.0000005, "1.000001"),  # the float is a little under: its shortest text is not
        (-1.0000005, "-1.000001"),
        (5e-7, "0.000001"),
        (0.1 + 0.2, "0.300000"),
        (123456789.1234565, "123456789.123457"),  # beyond NumPy's margin: rounded with Decimal
        (99999999999999.98, "99999999999999.980000"),
        (-1e-300, "0.000000"),
        (7.0, "7.000000"),
    ],
)
def test_numeric_is_rounded_half_away_from_zero_from_the_shortest_decimal(
    db: Engine,
    security_id: str,
    unruled: UpsertSpec,
    copy_formats: list[str],
    close: float,
    stored: str,
) -> None:
    frame = bars(security_id, 1).assign(close=close)
    with db.begin() as conn:
        upsert_frame(conn, frame, unruled)
    assert copy_formats == ["binary"]
    assert stored_bars(db, security_id, unruled.table)[0][4] == stored


def test_update_frame_stores_the_same_through_either_format(
    db: Engine, copy_formats: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO securities (ticker, name, security_type, exchange) VALUES "
                "('AAPL', 'Apple', 'equity', 'NASDAQ'), ('MSFT', 'Microsoft', 'equity', 'NASDAQ')"
            )
        )
    spec = UpsertSpec(
        table="securities",
        columns=("ticker", "exchange", "pe_ratio", "dividend_yield", "market_cap", "is_active"),
        key_columns=("ticker", "exchange"),
    )
    values = {
        "pe_ratio": 2.675,
        "dividend_yield": 1.00005,
        "market_cap": 3 * 10**12,
        "is_active": False,
    }
    with db.begin() as conn:
        binary = update_frame(
            conn, pd.DataFrame([{"ticker": "AAPL", **values}]).assign(exchange="NASDAQ"), spec
        )
        csv = through_csv(
            monkeypatch,
            lambda: update_frame(
                conn, pd.DataFrame([{"ticker": "MSFT", **values}]).assign(exchange="NASDAQ"), spec
            ),
        )
    assert copy_formats == ["binary"]
    assert binary == csv == LoadResult(updated=1)
    query = text(
        "SELECT CAST(pe_ratio AS text), CAST(dividend_yield AS text), market_cap, is_active"
        " FROM securities ORDER BY ticker"
    )
    with db.connect() as conn:
        aapl, msft = (tuple(row) for row in conn.execute(query))
    assert aapl == msft == ("2.68", "1.0001", 3_000_000_000_000, False)  # 2.675 is 2.67499...


def test_jsonb_text_and_all_null_columns_store_the_same_through_either_format(
    db: Engine, copy_formats: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.dumps({"close": 1.5, "note": 'a "quoted", two\nline ✓'})

    def rejected(ticker: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "table_name": "price_history",
                "ticker": ticker,
                "date": [date(1999, 12, 31), None],
                "reason": ["negative_price", 'missing, "date"'],
                "raw_values": [raw, None],
                "data_source": "files",
                "run_id": None,
                "resolved_at": None,
            }
        )

    with db.begin() as conn:
        upsert_frame(conn, rejected("BIN"), QUARANTINE)
        through_csv(monkeypatch, lambda: upsert_frame(conn, rejected("CSV"), QUARANTINE))
    assert copy_formats == ["binary"]
    query = text(
        "SELECT ticker, date, reason, raw_values, run_id, resolved_at FROM quarantine"
        " ORDER BY ticker, date"
    )
    with db.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]
    assert [row[1:] for row in rows[:2]] == [row[1:] for row in rows[2:]]
    assert rows[0][1:] == (date(1999, 12, 31), "negative_price", json.loads(raw), None, None)


@pytest.mark.parametrize("through", ["binary", "csv"])
def test_counts_by_group_are_the_same_through_either_format(
    db: Engine, security_id: str, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    if through == "csv":
        monkeypatch.setattr(loader, "frame_encoder", lambda frame, columns: None)
    frame = bars(security_id, 6)
    with db.begin() as conn:
        upsert_frame(conn, frame.iloc[:4], PRICES)
    frame.loc[1, "close"] = 99.5
    frame["volume"] = [1_000, 1_000, None, 1_000, 1_000, 1_000]
    with db.begin() as conn:
        result = upsert_frame(conn, frame, PRICES, count_by="date")
    day = list(frame["date"])
    assert (result.inserted, result.updated, result.unchanged) == (2, 2, 2)
    assert result.groups == {
        day[0]: LoadResult(unchanged=1),
        day[1]: LoadResult(updated=1),
        day[2]: LoadResult(updated=1),
        day[3]: LoadResult(unchanged=1),
        day[4]: LoadResult(inserted=1),
        day[5]: LoadResult(inserted=1),
    }


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("volume", 1.5, "not an integer"),
        ("volume", 2.0**63, "out of range for int8"),
        ("security_id", "not-a-uuid", "not a UUID"),
        ("close", float("inf"), r"overflows numeric\(20,6\)"),
        ("data_source", "x" * 51, r"value too long for type character varying\(50\)"),  # server
    ],
)
def test_a_bad_value_in_a_later_batch_is_named_and_nothing_is_written(
    db: Engine,
    security_id: str,
    copy_formats: list[str],
    column: str,
    value: object,
    reason: str,
) -> None:
    with db.begin() as conn:
        upsert_frame(conn, bars(security_id, 3), PRICES)
    before = snapshot(db)
    frame = bars(security_id, 12, close=150.0)
    frame[column] = pd.Series([value if row == 9 else v for row, v in enumerate(frame[column])])
    expected = rf"row 9 \(security_id=.*, date=2024-01-12\), field {column} = .*: {reason}"
    with pytest.raises(LoadError, match=expected), db.begin() as conn:
        upsert_frame(conn, frame, PRICES, batch_rows=4)  # rows 0 to 7 already sent
    assert snapshot(db) == before
    assert copy_formats == ["binary", "binary"]


def test_strings_for_a_date_column_go_as_csv_and_a_bad_one_is_named(
    db: Engine, security_id: str, copy_formats: list[str]
) -> None:
    frame = bars(security_id, 5)
    frame["date"] = [day.isoformat() for day in frame["date"]]
    with db.begin() as conn:
        assert upsert_frame(conn, frame, PRICES).inserted == 5
    before = snapshot(db)
    frame.loc[3, "date"] = "2024-02-30"
    expected = r"row 3 \(.*\), field date = 2024-02-30: date/time field value out of range"
    with pytest.raises(LoadError, match=expected), db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    assert snapshot(db) == before
    assert copy_formats == ["csv", "csv"]
