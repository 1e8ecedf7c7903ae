"""The currency codes people may give: ISO 4217's, and the minor units the warehouse converts."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from rm_pipeline.providers.currencies import currency_majors, is_currency


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "JPY", "CHF", "ZAR", "ILS", "XAU", "SLE"])
def test_iso_4217_currencies_are_currencies(code: str) -> None:
    assert is_currency(code) and is_currency(code, minor_units=True)


@pytest.mark.parametrize(
    "code",
    ["XXX", "XTS", "ABC", "usd", "Usd", "EURO", "", "HRK", "US D", "GBp", "GBX", "ZAc", "ILA"],
)
def test_other_codes_are_not(code: str) -> None:
    assert not is_currency(code)


@pytest.mark.parametrize("code", ["GBp", "GBX", "ZAc", "ZAC", "ILA"])
def test_minor_units_are_currencies_of_prices(code: str) -> None:
    assert is_currency(code, minor_units=True)


def test_the_minor_units_are_the_ones_the_warehouse_converts(db: Engine) -> None:
    with db.connect() as conn:
        stored = dict(conn.execute(text("SELECT code, major_currency FROM currency_units")).all())
    minor = {code: major for code, major in currency_majors().items() if code != major}
    assert minor == stored
    assert all(is_currency(major) for major in minor.values())
