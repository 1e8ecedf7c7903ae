"""The universe file: which securities to load, and the reference values an entry sets."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from rm_pipeline.ingest.securities import (
    UniverseEntry,
    UniverseFileError,
    read_universe,
    select_universe,
)

REFERENCE = pd.DataFrame(
    {
        "ticker": ["AAPL", "SHEL.L", "SAP", "SAP"],
        "exchange": [None, "LSE", "XETRA", "NYSE"],
        "name": ["AAPL", "SHEL.L", "SAP SE", "SAP SE ADR"],
        "currency": ["USD", "GBp", "EUR", "USD"],
    }
)


def universe_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "universe.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_entries_set_exchange_currency_and_name(tmp_path: Path) -> None:
    path = universe_file(
        tmp_path,
        "securities:\n"
        "  - {ticker: aapl, exchange: NASDAQ, name: Apple Inc.}\n"
        "  - SHEL.L\n"
        "  - {ticker: SAP, exchange: NYSE}\n",
    )
    universe = read_universe(path)
    assert universe[0] == UniverseEntry("AAPL", {"exchange": "NASDAQ", "name": "Apple Inc."})
    selected = select_universe(REFERENCE, universe)
    assert selected.to_dict("records") == [
        {"ticker": "AAPL", "exchange": "NASDAQ", "name": "Apple Inc.", "currency": "USD"},
        {"ticker": "SHEL.L", "exchange": "LSE", "name": "SHEL.L", "currency": "GBp"},
        {"ticker": "SAP", "exchange": "NYSE", "name": "SAP SE ADR", "currency": "USD"},
    ]


def test_an_exchange_the_provider_does_not_list_is_set_not_filtered(tmp_path: Path) -> None:
    path = universe_file(
        tmp_path, "securities:\n  - {ticker: SHEL.L, exchange: LON, currency: GBp}\n"
    )
    selected = select_universe(REFERENCE, read_universe(path))
    assert selected[["ticker", "exchange", "currency"]].values.tolist() == [
        ["SHEL.L", "LON", "GBp"]
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tickers: [AAPL]\n", "expected a top-level 'securities:' list"),
        ("securities:\n  - {exchange: LSE}\n", "securities entry 1 has no 'ticker'"),
        (
            "securities:\n  - AAPL\n  - {ticker: MSFT, venue: NASDAQ}\n",
            "securities entry 2: unknown field(s) venue",
        ),
        (
            "securities:\n  - {ticker: MSFT, security_type: stock}\n",
            "securities entry 1 (MSFT), field security_type: 'stock' is not one of",
        ),
        (
            "securities:\n  - {ticker: MSFT, currency: ''}\n",
            "entry 1 (MSFT), field currency: empty",
        ),
    ],
)
def test_a_bad_entry_is_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(UniverseFileError, match=re.escape(message)):
        read_universe(universe_file(tmp_path, body))
