"""Loading exchange rates: the currencies the warehouse needs, idempotent re-runs, failures that
cost only their own pair, and rejected rates kept in the quarantine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Engine, text

from rm_pipeline.ingest.fx import first_missing_rate, ingest_fx_rates, needed_currencies
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.providers.validation import fx_result
from rm_pipeline_tests.warehouse.factories import add_portfolio, add_security, add_user

WEEK = (date(2025, 3, 3), date(2025, 3, 7))
TODAY = date(2025, 3, 10)


def synthetic() -> SyntheticProvider:
    return SyntheticProvider(seed=7, today=lambda: TODAY)


def add_trade(conn: Connection, user_id: object, currency: str) -> None:
    conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description, currency) "
            "VALUES (:user_id, 'idea', 'why', :currency)"
        ),
        {"user_id": user_id, "currency": currency},
    )


def seed_currencies(db: Engine) -> None:
    """Securities in USD, GBp (London pence), EUR and an inactive one in CHF; a portfolio in CAD
    and one without a currency; a trade in JPY."""
    with db.begin() as conn:
        add_security(conn, "AAPL")
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
        add_security(conn, "SAP.DE", "XETRA", currency="EUR")
        add_security(conn, "MISSING", currency=None)
        add_security(conn, "NESN.SW", "SIX", currency="CHF")
        conn.execute(text("UPDATE securities SET is_active = false WHERE ticker = 'NESN.SW'"))
        user = add_user(conn)
        for portfolio, currency in (
            (add_portfolio(conn, user), "CAD"),
            (add_portfolio(conn, user, broker_account_id="second"), None),
        ):
            conn.execute(
                text("UPDATE portfolios SET currency = :currency WHERE id = :id"),
                {"currency": currency, "id": portfolio},
            )
        add_trade(conn, user, "JPY")
        add_trade(conn, user, "USD")


def stored(db: Engine) -> pd.DataFrame:
    with db.connect() as conn:
        return pd.read_sql_query(
            text("SELECT * FROM fx_rates ORDER BY base_currency, quote_currency, date"), conn
        )


def test_the_needed_currencies_are_the_major_ones_in_use_except_usd(db: Engine) -> None:
    seed_currencies(db)
    with db.connect() as conn:
        assert needed_currencies(conn) == ["CAD", "EUR", "GBP", "JPY"]


def test_nothing_to_fetch_when_everything_is_in_usd(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "AAPL")

    report = ingest_fx_rates(db, synthetic(), *WEEK)

    assert report.currencies == [] and report.rates.rows == 0
    assert stored(db).empty


def test_rates_load_once_and_a_rerun_changes_nothing(db: Engine) -> None:
    seed_currencies(db)

    first = ingest_fx_rates(db, synthetic(), *WEEK, run_id="run-1")
    rows = stored(db)
    again = ingest_fx_rates(db, synthetic(), *WEEK, run_id="run-2")

    assert first.currencies == ["CAD", "EUR", "GBP", "JPY"]
    assert (first.rates.inserted, first.rates.updated, first.failed) == (20, 0, [])
    assert first.rates.groups[date(2025, 3, 5)].inserted == 4
    assert sorted(rows["base_currency"].unique()) == ["CAD", "EUR", "GBP", "JPY"]
    assert (rows["quote_currency"] == "USD").all() and (rows["data_source"] == "synthetic").all()
    expected = synthetic().fx_rates(["EUR"], *WEEK).frame["rate"].round(10).tolist()
    assert rows.loc[rows["base_currency"] == "EUR", "rate"].astype(float).tolist() == expected
    assert (again.rates.inserted, again.rates.updated, again.rates.unchanged) == (0, 0, 20)
    pd.testing.assert_frame_equal(stored(db), rows)


def test_a_changed_rate_is_rewritten(db: Engine) -> None:
    seed_currencies(db)
    ingest_fx_rates(db, synthetic(), *WEEK)
    with db.begin() as conn:
        conn.execute(text("UPDATE fx_rates SET rate = 9 WHERE base_currency = 'EUR'"))

    report = ingest_fx_rates(db, synthetic(), *WEEK)

    assert (report.rates.updated, report.rates.unchanged) == (5, 15)
    assert stored(db)["rate"].max() < 2


class FailingPair:
    """The synthetic provider, except that one pair fails as a source error would and another
    sends a negative rate on one day."""

    name = "synthetic"

    def __init__(self, failing: str, bad_day: tuple[str, date]) -> None:
        self.inner = synthetic()
        self.failing = failing
        self.bad_pair, self.bad_day = bad_day

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        result = self.inner.fx_rates(currencies, start, end)
        frame = result.frame.assign(ticker=result.frame["base_currency"] + "USD=X")
        frame = frame[frame["ticker"] != self.failing]
        bad = (frame["ticker"] == self.bad_pair) & (frame["date"] == pd.Timestamp(self.bad_day))
        frame.loc[bad, "rate"] = -1.0
        outcomes = [
            TickerOutcome(o.ticker, TickerStatus.ERROR, "HTTP 500 from the source")
            if o.ticker == self.failing
            else replace(o, rows=0)
            for o in result.outcomes
        ]
        columns = ["ticker", "base_currency", "quote_currency", "date", "rate"]
        return fx_result(frame[columns], outcomes, start, end, TODAY)


def test_a_failing_pair_costs_only_itself_and_bad_rates_are_quarantined(db: Engine) -> None:
    seed_currencies(db)
    provider = FailingPair("JPYUSD=X", ("EURUSD=X", date(2025, 3, 5)))

    report = ingest_fx_rates(db, provider, *WEEK, run_id="run-1")  # type: ignore[arg-type]

    assert [(o.ticker, o.status) for o in report.failed] == [("JPYUSD=X", TickerStatus.ERROR)]
    assert report.rates.inserted == 5 + 4 + 5  # CAD, EUR without its bad day, GBP
    assert report.rejected[["ticker", "reason"]].values.tolist() == [
        ["EURUSD=X", "non_positive_rate"]
    ]
    rows = stored(db)
    assert sorted(rows["base_currency"].unique()) == ["CAD", "EUR", "GBP"]
    assert date(2025, 3, 5) not in set(rows.loc[rows["base_currency"] == "EUR", "date"])
    with db.connect() as conn:
        refused = conn.execute(
            text("SELECT table_name, ticker, date, reason, run_id, raw_values FROM quarantine")
        ).one()
    assert refused[:5] == ("fx_rates", "EURUSD=X", date(2025, 3, 5), "non_positive_rate", "run-1")
    assert refused[5]["rate"] == -1.0


def test_stored_rates_convert_through_fx_rate(db: Engine) -> None:
    seed_currencies(db)
    ingest_fx_rates(db, synthetic(), *WEEK)
    with db.connect() as conn:
        pence = conn.execute(text("SELECT fx_rate('GBp', 'USD', DATE '2025-03-08')")).scalar_one()
        pound = conn.execute(
            text("SELECT rate FROM fx_rates WHERE base_currency = 'GBP' AND date = '2025-03-07'")
        ).scalar_one()
    assert pence == pound / Decimal(100)  # Saturday takes Friday's rate, pence are 1/100


def test_the_first_weekday_a_needed_rate_is_missing(db: Engine) -> None:
    seed_currencies(db)
    ingest_fx_rates(db, synthetic(), *WEEK)
    friday = WEEK[1]

    with db.connect() as conn:
        assert first_missing_rate(conn, friday, 5) is None
        assert first_missing_rate(conn, date(2025, 3, 10), 5) == date(2025, 3, 10)
    with db.begin() as conn:
        conn.execute(
            text("DELETE FROM fx_rates WHERE base_currency = 'JPY' AND date = '2025-03-04'")
        )
        assert first_missing_rate(conn, friday, 5) == date(2025, 3, 4)
        assert first_missing_rate(conn, friday, 3) is None  # Wednesday to Friday only
