"""The SQL function `fx_rate(from, to, on_date)` of migration 0008: rates stored against USD,
crossed through USD, minor units by `currency_units`, the latest rate at most 7 days old, NULL
when there is none."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from rm_pipeline_tests.warehouse.factories import add_fx_rate

FRIDAY = date(2025, 3, 7)


def fx_rate(db: Engine, source: str, target: str, on: date = FRIDAY) -> Decimal | None:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT fx_rate(:source, :target, :on)"),
            {"source": source, "target": target, "on": on},
        ).scalar_one()


@pytest.fixture
def rates(db: Engine) -> Engine:
    """Friday's closes: EUR 1.08, GBP 1.25, JPY 0.0064, ZAR 0.055 US dollars."""
    with db.begin() as conn:
        for currency, rate in (("EUR", "1.08"), ("GBP", "1.25"), ("JPY", "0.0064"),
                               ("ZAR", "0.055")):  # fmt: skip
            add_fx_rate(conn, currency, FRIDAY, Decimal(rate))
    return db


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("EUR", "USD", Decimal("1.08")),
        ("USD", "EUR", 1 / Decimal("1.08")),
        ("EUR", "JPY", Decimal("1.08") / Decimal("0.0064")),
        ("JPY", "EUR", Decimal("0.0064") / Decimal("1.08")),
        ("GBp", "USD", Decimal("0.0125")),
        ("GBX", "EUR", Decimal("0.0125") / Decimal("1.08")),
        ("USD", "GBp", Decimal("80")),
        ("ZAc", "USD", Decimal("0.00055")),
    ],
)
def test_rates_cross_through_usd_and_minor_units_are_hundredths(
    rates: Engine, source: str, target: str, expected: Decimal
) -> None:
    assert fx_rate(rates, source, target) == pytest.approx(expected, rel=Decimal("1e-12"))


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("USD", "USD", Decimal(1)),
        ("CHF", "CHF", Decimal(1)),
        ("GBp", "GBP", Decimal("0.01")),
        ("GBP", "GBX", Decimal(100)),
        ("GBp", "GBX", Decimal(1)),
    ],
)
def test_one_currency_or_two_units_of_it_need_no_rate(
    db: Engine, source: str, target: str, expected: Decimal
) -> None:
    assert fx_rate(db, source, target) == expected


def test_the_latest_rate_on_or_before_the_day_is_used(db: Engine) -> None:
    with db.begin() as conn:
        add_fx_rate(conn, "EUR", FRIDAY - timedelta(days=3), Decimal("1.05"))
        add_fx_rate(conn, "EUR", FRIDAY - timedelta(days=1), Decimal("1.07"))
        add_fx_rate(conn, "EUR", FRIDAY + timedelta(days=1), Decimal("1.20"))  # later: ignored

    assert fx_rate(db, "EUR", "USD") == Decimal("1.07")
    assert fx_rate(db, "EUR", "USD", FRIDAY - timedelta(days=2)) == Decimal("1.05")


def test_a_rate_serves_seven_days_and_no_more(db: Engine) -> None:
    with db.begin() as conn:
        add_fx_rate(conn, "EUR", FRIDAY, Decimal("1.08"))

    assert fx_rate(db, "EUR", "USD", FRIDAY + timedelta(days=7)) == Decimal("1.08")
    assert fx_rate(db, "EUR", "USD", FRIDAY + timedelta(days=8)) is None
    assert fx_rate(db, "EUR", "USD", FRIDAY - timedelta(days=1)) is None


@pytest.mark.parametrize(("source", "target"), [("CHF", "USD"), ("EUR", "CHF"), ("XYZ", "EUR")])
def test_a_missing_rate_on_either_side_is_null_never_a_guess(
    rates: Engine, source: str, target: str
) -> None:
    assert fx_rate(rates, source, target) is None
