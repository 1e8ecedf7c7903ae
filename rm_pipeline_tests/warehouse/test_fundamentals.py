"""A fundamentals snapshot: valid values stored rounded, invalid ones rejected by name, never cut."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.warehouse.fundamentals import (
    SNAPSHOT_COLUMNS,
    FundamentalsResult,
    Rejection,
    apply_fundamentals,
)
from rm_pipeline_tests.warehouse.factories import add_bar, add_security, row

NAN = math.nan
FUNDAMENTALS = "market_cap, pe_ratio, ps_ratio, pb_ratio, ev_ebitda, dividend_yield, data_source"
QUOTES = "current_price, volume, avg_volume, fifty_two_week_high, fifty_two_week_low"


def snapshot(*rows: dict[str, object]) -> pd.DataFrame:
    """Snapshot rows: every unnamed field is missing (NaN)."""
    return pd.DataFrame(
        [{"as_of": date(2024, 12, 31)} | row for row in rows], columns=list(SNAPSHOT_COLUMNS)
    ).fillna({column: NAN for column in SNAPSHOT_COLUMNS[2:]})


GOOD = {
    "ticker": "GOOD",
    "market_cap": 2.5e12,
    "pe_ratio": 28.456,
    "ps_ratio": 7.1,
    "pb_ratio": -3.25,
    "ev_ebitda": 21.0,
    "dividend_yield": 0.0052,
    "current_price": 999.0,
    "fifty_two_week_high": 1e20,
}
BAD = {
    "ticker": "BAD",
    "market_cap": -5.0,
    "pe_ratio": 1.5e8,
    "ps_ratio": 99999999.999,
    "ev_ebitda": 12.3456,
    "dividend_yield": 2.5,
}
UNPRICED = {
    "ticker": "UNPRICED",
    "market_cap": 1e19,
    "pe_ratio": math.inf,
    "current_price": 42.1234567,
    "volume": 1e3,
    "avg_volume": 2500.4,
    "fifty_two_week_high": 50.0,
    "fifty_two_week_low": -1.0,
}


@pytest.fixture
def securities(db: Engine) -> dict[str, object]:
    with db.begin() as conn:
        ids = {ticker: add_security(conn, ticker) for ticker in ("GOOD", "BAD", "UNPRICED")}
        for ticker in ("GOOD", "BAD"):
            add_bar(conn, ids[ticker], date(2024, 12, 31), 100)
        ids["TWIN_NYSE"] = add_security(conn, "TWIN", "NYSE")
        ids["TWIN_NASDAQ"] = add_security(conn, "TWIN", "NASDAQ")
        add_bar(conn, ids["TWIN_NASDAQ"], date(2024, 12, 31), 7)
        return ids


def test_valid_values_are_stored_and_invalid_ones_rejected(
    db: Engine, securities: dict[str, object]
) -> None:
    stale_good = GOOD | {"as_of": date(2024, 12, 30), "pe_ratio": 1.0}
    frame = snapshot(GOOD, stale_good, BAD, UNPRICED, {"ticker": "NOPE"})
    with db.begin() as conn:
        result = apply_fundamentals(conn, frame, "testsource")

        assert sorted(result.rejections, key=lambda r: (r.ticker, r.field)) == [
            Rejection("BAD", "dividend_yield", 2.5, "is above 1 (expected a fraction)"),
            Rejection("BAD", "market_cap", -5.0, "is negative"),
            Rejection("BAD", "pe_ratio", 1.5e8, "does not fit NUMERIC(10,2)"),
            Rejection("BAD", "ps_ratio", 99999999.999, "does not fit NUMERIC(10,2)"),
            Rejection("UNPRICED", "fifty_two_week_low", -1.0, "is negative"),
            Rejection("UNPRICED", "market_cap", 1e19, "does not fit BIGINT"),
            Rejection("UNPRICED", "pe_ratio", math.inf, "is infinite"),
        ]
        assert (result.matched, result.updated, result.quotes_updated) == (3, 3, 1)
        assert (result.unknown_tickers, result.shared_tickers) == (("NOPE",), ())

        # The latest row of GOOD wins; its price fields give way to its price history.
        assert row(conn, "securities", securities["GOOD"], FUNDAMENTALS) == (
            2_500_000_000_000,
            Decimal("28.46"),
            Decimal("7.10"),
            Decimal("-3.25"),
            Decimal("21.00"),
            Decimal("0.0052"),
            "testsource",
        )
        assert row(conn, "securities", securities["GOOD"], QUOTES) == (None,) * 5
        assert row(conn, "securities", securities["BAD"], FUNDAMENTALS) == (
            None,
            None,
            None,
            None,
            Decimal("12.35"),
            None,
            "testsource",
        )
        assert row(conn, "securities", securities["UNPRICED"], QUOTES) == (
            Decimal("42.123457"),
            1000,
            2500,
            Decimal("50.000000"),
            None,
        )


def test_a_ticker_on_two_exchanges_gives_each_listing_its_figures(
    db: Engine, securities: dict[str, object]
) -> None:
    twin = {"ticker": "TWIN", "pe_ratio": 10.0, "market_cap": -1.0, "current_price": 5.0}
    with db.begin() as conn:
        result = apply_fundamentals(conn, snapshot(twin), "testsource")

        assert (result.matched, result.updated, result.quotes_updated) == (2, 2, 1)
        assert result.shared_tickers == ("TWIN",)
        assert result.rejections == (Rejection("TWIN", "market_cap", -1.0, "is negative"),)
        for listing in ("TWIN_NYSE", "TWIN_NASDAQ"):
            assert row(conn, "securities", securities[listing], "pe_ratio, data_source") == (
                Decimal("10.00"),
                "testsource",
            )
        # The quote goes only to the listing without price history.
        assert row(conn, "securities", securities["TWIN_NYSE"], "current_price") == (
            Decimal("5.000000"),
        )
        assert row(conn, "securities", securities["TWIN_NASDAQ"], "current_price") == (None,)


def test_an_inactive_security_never_receives_fundamentals(
    db: Engine, securities: dict[str, object]
) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE securities SET is_active = false WHERE id = ANY(:ids)"),
            {"ids": [securities["TWIN_NYSE"], securities["BAD"]]},
        )
        frame = snapshot({"ticker": "TWIN", "pe_ratio": 10.0}, {"ticker": "BAD", "pe_ratio": 3.0})
        result = apply_fundamentals(conn, frame, "testsource")

        assert (result.matched, result.unknown_tickers, result.shared_tickers) == (1, ("BAD",), ())
        assert row(conn, "securities", securities["TWIN_NASDAQ"], "pe_ratio") == (Decimal("10.00"),)
        for inactive in ("TWIN_NYSE", "BAD"):
            assert row(conn, "securities", securities[inactive], "pe_ratio, data_source") == (
                None,
                None,
            )


def test_the_same_snapshot_again_changes_nothing(db: Engine, securities: dict[str, object]) -> None:
    frame = snapshot(GOOD, BAD, UNPRICED)
    with db.begin() as conn:
        apply_fundamentals(conn, frame, "testsource")
    with db.begin() as conn:
        stamped = row(conn, "securities", securities["GOOD"], "last_updated")
        again = apply_fundamentals(conn, frame, "testsource")
        assert (again.matched, again.updated, again.quotes_updated) == (3, 0, 0)
        assert row(conn, "securities", securities["GOOD"], "last_updated") == stamped

        assert apply_fundamentals(conn, frame, "othersource").updated == 3


def test_a_snapshot_without_the_expected_columns_is_refused(db: Engine) -> None:
    with db.begin() as conn, pytest.raises(ValueError, match="lacks the columns pe_ratio"):
        apply_fundamentals(conn, snapshot(GOOD).drop(columns="pe_ratio"), "testsource")


def test_an_empty_snapshot_changes_nothing(db: Engine) -> None:
    with db.begin() as conn:
        assert apply_fundamentals(conn, snapshot(), "testsource") == FundamentalsResult(
            matched=0,
            updated=0,
            quotes_updated=0,
            unknown_tickers=(),
            shared_tickers=(),
            rejections=(),
        )
