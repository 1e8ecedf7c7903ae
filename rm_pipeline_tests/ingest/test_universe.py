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


def test_every_value_is_read_as_written(tmp_path: Path) -> None:
    path = universe_file(
        tmp_path,
        "securities:\n"
        "  - ON\n"
        "  - 0700\n"
        "  - {ticker: yes, name: 1.50, country: NO}\n"
        "  - {ticker: 'null', sector: 2024-01-02}\n",
    )
    assert read_universe(path) == [
        UniverseEntry("ON"),
        UniverseEntry("0700"),
        UniverseEntry("YES", {"name": "1.50", "country": "NO"}),
        UniverseEntry("NULL", {"sector": "2024-01-02"}),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("null", "securities entry 2: the ticker is empty"),
        ("~", "securities entry 2: the ticker is empty"),
        ("", "securities entry 2: the ticker is empty"),
        ("{ticker: null}", "securities entry 2: the ticker is empty"),
        ("{ticker: ~}", "securities entry 2: the ticker is empty"),
        ("{ticker: }", "securities entry 2: the ticker is empty"),
        ("''", "securities entry 2: invalid ticker '': empty"),
        ("ß", "securities entry 2: invalid ticker 'ß': only ASCII letters"),
        ("{ticker: [AAPL]}", "securities entry 2: invalid ticker ['AAPL']: not a string"),
        ("{ticker: MSFT, name: null}", "securities entry 2 (MSFT), field name: empty"),
        (
            "{ticker: MSFT, name: [a, b]}",
            "securities entry 2 (MSFT), field name: expected a single text value",
        ),
        (
            "{ticker: MSFT, currency: XXX}",
            "securities entry 2 (MSFT), field currency: 'XXX' is neither an ISO 4217 currency",
        ),
    ],
)
def test_a_bad_ticker_or_value_names_its_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = universe_file(tmp_path, f"securities:\n  - AAPL\n  - {entry}\n")
    with pytest.raises(UniverseFileError, match=re.escape(f"{path}: {message}")):
        read_universe(path)


@pytest.mark.parametrize("currency", ["EUR", "GBp", "ZAc", "ILA"])
def test_an_iso_currency_or_a_known_minor_unit_is_accepted(tmp_path: Path, currency: str) -> None:
    path = universe_file(tmp_path, f"securities:\n  - {{ticker: SHEL.L, currency: {currency}}}\n")
    assert read_universe(path) == [UniverseEntry("SHEL.L", {"currency": currency})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"securities:\n  - AAPL\n  - [MSFT\n", "line 4: not valid YAML: expected ',' or ']'"),
        (b"securities: [AAPL]\nnext: : :\n", "line 2: not valid YAML: mapping values"),
        (b"securities:\n  - AAPL\n\xff\xfe\x00\x01", "line 3: not UTF-8 text"),
        (b"securities:\n  - AAPL\n  - \x00\x01\n", "line 3: not text: character U+0000"),
        (b"\x89PNG\r\n\x1a\n", "line 1: not UTF-8 text"),
        (b"securities: []\n", "the 'securities:' list is empty"),
    ],
)
def test_a_file_that_is_not_yaml_text_names_its_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "universe.yaml"
    path.write_bytes(content)
    with pytest.raises(UniverseFileError, match=re.escape(f"{path}")) as raised:
        read_universe(path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
