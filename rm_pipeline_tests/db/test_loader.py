"""The bulk loader: counts are right, unchanged rows are not rewritten, failures change nothing."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from rm_pipeline.db.loader import (
    DuplicateKeyError,
    LoadError,
    UpsertSpec,
    update_frame,
    upsert_frame,
)

PRICES = UpsertSpec(
    table="price_history",
    columns=("security_id", "date", "open", "high", "low", "close", "volume", "data_source"),
    key_columns=("security_id", "date"),
)


@pytest.fixture
def security_id(db: Engine) -> str:
    with db.begin() as conn:
        return str(
            conn.execute(
                text(
                    "INSERT INTO securities (ticker, name, security_type) "
                    "VALUES ('AAPL', 'Apple', 'equity') RETURNING id"
                )
            ).scalar_one()
        )


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


def test_fresh_load_then_identical_reload_then_one_change(db: Engine, security_id: str) -> None:
    frame = bars(security_id, 30)
    with db.begin() as conn:
        assert upsert_frame(conn, frame, PRICES, batch_rows=7).inserted == 30
    before = snapshot(db)

    with db.begin() as conn:
        reload = upsert_frame(conn, frame, PRICES)
    assert (reload.inserted, reload.updated, reload.unchanged) == (0, 0, 30)
    assert snapshot(db) == before

    frame.loc[5, "close"] = 123.456789
    with db.begin() as conn:
        change = upsert_frame(conn, frame, PRICES)
    assert (change.inserted, change.updated, change.unchanged) == (0, 1, 29)
    with db.connect() as conn:
        closes = conn.execute(text("SELECT close FROM price_history ORDER BY date")).scalars().all()
    assert str(closes[5]) == "123.456789"
    assert len(closes) == 30


def test_nulls_and_numeric_precision_survive_the_round_trip(db: Engine, security_id: str) -> None:
    frame = bars(security_id, 2)
    frame["open"] = [None, 1.1234564]
    with db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    with db.connect() as conn:
        opens = conn.execute(text("SELECT open FROM price_history ORDER BY date")).scalars().all()
    assert opens[0] is None
    assert str(opens[1]) == "1.123456"


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
