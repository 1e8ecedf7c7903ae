"""The currency codes the project accepts from people, listed in `data/currencies.csv`.

That file holds ISO 4217's active currencies (list one, without XXX "no currency" and XTS "for
testing"; withdrawn codes such as HRK, BGN or ANG have no rates to convert at), with an empty
`major_currency`, and the minor units some exchanges quote prices in (`GBp`) with their major
currency: the rows of the warehouse's `currency_units` (revision 0008), which converts them.

A code outside it would only reach the provider as a pair that does not exist (`XXXUSD=X`), so
what people give (a trade's currency, a universe entry's) is checked here first.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from importlib import resources


@cache
def currency_majors() -> Mapping[str, str]:
    """Every known code and its major currency: itself for an ISO 4217 currency."""
    source = resources.files("rm_pipeline.providers") / "data" / "currencies.csv"
    with source.open(encoding="utf-8") as handle:
        return {row["code"]: row["major_currency"] or row["code"] for row in csv.DictReader(handle)}


def is_currency(code: str, *, minor_units: bool = False) -> bool:
    """Whether `code` is an ISO 4217 currency, in capitals; with `minor_units`, or a minor unit
    a security's price may be quoted in (`GBp`)."""
    major = currency_majors().get(code)
    return major == code or (minor_units and major is not None)
