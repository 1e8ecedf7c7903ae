"""Revision 0017: stored bars that break a rule are quarantined and deleted, traced, and the
constraints then refuse such bars, naming the rule; the loader names the refused row."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from rm_pipeline.db import migrate
from rm_pipeline.db.loader import LoadError, UpsertSpec, upsert_frame

SECURITY = (
    "INSERT INTO securities (ticker, name, security_type, exchange) "
    "VALUES ('AAPL', 'Apple', 'equity', 'NASDAQ') RETURNING id"
)
BAR = (
    "INSERT INTO price_history (security_id, date, open, high, low, close, volume, data_source) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, 'test')"
)
PRICES = UpsertSpec(
    table="price_history",
    columns=("security_id", "date", "open", "high", "low", "close", "volume", "data_source"),
    key_columns=("security_id", "date"),
)


def test_0017_quarantines_broken_bars_then_refuses_them_by_name(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0016")
    with psycopg.connect(empty_database) as conn:
        row = conn.execute(SECURITY).fetchone()
        assert row is not None
        security = row[0]
        conn.execute(BAR, (security, "2025-03-03", 100, 102, 99, 101, 1000))
        conn.execute(BAR, (security, "2025-03-04", 100, 98, 99, 99, 1000))  # high below low
        conn.execute(BAR, (security, "2025-03-05", None, None, None, 101, None))  # close only
        conn.execute(BAR, (security, "2025-03-06", 100, 102, 99, -1, 1000))  # outside, negative

    migrate.upgrade(empty_database, "0017")

    with psycopg.connect(empty_database) as conn:
        kept = conn.execute("SELECT date::text FROM price_history ORDER BY date").fetchall()
        assert kept == [("2025-03-03",), ("2025-03-05",)]
        quarantined = conn.execute(
            "SELECT table_name, ticker, date::text, reason, raw_values, data_source, run_id "
            "FROM quarantine ORDER BY date"
        ).fetchall()
        assert [row[:4] + row[5:] for row in quarantined] == [
            (
                "price_history",
                "AAPL",
                "2025-03-04",
                "ohlc_inconsistent: bar_high_not_below_low",
                "test",
                None,
            ),
            (
                "price_history",
                "AAPL",
                "2025-03-06",
                "ohlc_inconsistent: bar_positive_close",
                "test",
                None,
            ),
        ]
        raw = quarantined[0][4]
        assert {key: raw[key] for key in ("open", "high", "low", "close")} == {
            "open": 100,
            "high": 98,
            "low": 99,
            "close": 99,
        }
        superseded = conn.execute(
            "SELECT date::text, change, reason FROM price_history_superseded ORDER BY date"
        ).fetchall()
        assert superseded == [
            (day, "deleted", "refused by constraint at migration 0017")
            for day in ("2025-03-04", "2025-03-06")
        ]

        with pytest.raises(psycopg.errors.CheckViolation, match="bar_high_not_below_low"):
            conn.execute(BAR, (security, "2025-03-07", 100, 98, 99, 99, 1000))


@pytest.mark.parametrize(
    ("changed", "constraint"),
    [
        ({"high": 98.0}, "bar_high_not_below_low"),
        ({"volume": -5}, "bar_nonnegative_volume"),
        ({"close": -1.0}, "bar_positive_close"),
        ({"open": None, "high": None, "low": None, "close": -1.0}, "bar_positive_close"),
        ({"low": 0.0}, "bar_positive_prices"),
        ({"high": 100.5}, "bar_range_holds_close"),
        ({"open": 120.0}, "bar_range_holds_open"),
    ],
)
def test_the_constraints_refuse_each_broken_rule_naming_the_rule_at_fault(
    db: Engine, changed: dict[str, object], constraint: str
) -> None:
    with db.begin() as conn:
        security = conn.execute(text(SECURITY)).scalar_one()
    bar = {"open": 100.0, "high": 102.0, "low": 99.0, "close": 101.0, "volume": 1000}
    with pytest.raises(IntegrityError, match=constraint), db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO price_history (security_id, date, open, high, low, close, volume) "
                "VALUES (:security, '2025-03-03', :open, :high, :low, :close, :volume)"
            ),
            {"security": security, **bar, **changed},
        )


def bars(security: str, closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "security_id": security,
            "date": pd.bdate_range("2025-03-03", periods=len(closes)).date,
            "open": closes,
            "high": [close + 1 for close in closes],
            "low": [close - 1 for close in closes],
            "close": closes,
            "volume": 1000,
            "data_source": "test",
        }
    )


@pytest.mark.parametrize("stored_first", [False, True], ids=["fresh", "overlapping"])
def test_a_loaded_bar_a_constraint_refuses_is_named_with_its_row(
    db: Engine, stored_first: bool
) -> None:
    with db.begin() as conn:
        security = str(conn.execute(text(SECURITY)).scalar_one())
    frame = bars(security, [100.0, 101.0, 102.0, 103.0, 104.0])
    if stored_first:  # the frame overlaps stored bars: it takes the staged upsert
        with db.begin() as conn:
            upsert_frame(conn, frame.iloc[:2], PRICES)
    frame.loc[3, "high"] = 50.0  # below its low
    expected = (
        r"price_history: row 3 \(security_id=.*, date=2025-03-06\) breaks check constraint "
        r"bar_high_not_below_low \(high >= low\)"
    )
    with pytest.raises(LoadError, match=expected), db.begin() as conn:
        upsert_frame(conn, frame, PRICES)
    with db.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM price_history")).scalar_one()
    assert stored == (2 if stored_first else 0)
