"""normalize_ticker: the one place tickers are cleaned up and checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rm_pipeline.providers.tickers import (
    MAX_TICKER_LENGTH,
    InvalidTickerError,
    normalize_ticker,
    split_valid,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("aapl", "AAPL"),
        ("  msft\t", "MSFT"),
        ("7203.t", "7203.T"),
        ("shel.L", "SHEL.L"),
        ("btc-usd", "BTC-USD"),
        ("^gspc", "^GSPC"),
        ("BRK-B", "BRK-B"),
        ("eurusd=x", "EURUSD=X"),
        ("M&M.NS", "M&M.NS"),
        ("0700.hk", "0700.HK"),
        ("gc=f", "GC=F"),
        ("X" * MAX_TICKER_LENGTH, "X" * MAX_TICKER_LENGTH),
    ],
)
def test_valid_tickers_are_trimmed_and_upper_cased(raw: str, expected: str) -> None:
    assert normalize_ticker(raw) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("BRK B", "whitespace"),
        ("AAPL;DROP", "only ASCII letters"),
        ("AAPL.", "only ASCII letters"),
        ("^", "only ASCII letters"),
        ("A^B", "only ASCII letters"),
        ("ß", "only ASCII letters"),  # not SS, as upper-casing would make it
        ("ﬁ", "only ASCII letters"),  # not FI
        ("\u0131bm", "only ASCII letters"),  # a dotless i, not IBM
        ("\u212aO", "only ASCII letters"),  # the Kelvin sign, not K
        ("\uff21\uff21\uff30\uff2c", "only ASCII letters"),  # full-width AAPL
        ("SH\u2028EL", "whitespace"),
        ("AAPL\u200b", "only ASCII letters"),  # a zero-width space
        ("X" * (MAX_TICKER_LENGTH + 1), "longer than 50"),
        (None, "not a string"),
    ],
)
def test_invalid_tickers_raise_a_value_error_naming_them(raw: object, why: str) -> None:
    with pytest.raises(InvalidTickerError) as caught:
        normalize_ticker(raw)
    assert isinstance(caught.value, ValueError)
    assert repr(raw) in str(caught.value)
    assert why in str(caught.value)


def test_split_valid_keeps_first_seen_order_and_reports_the_rest() -> None:
    valid, errors = split_valid(["msft", "AAPL", "MSFT ", "no good", "aapl"])

    assert valid == ["MSFT", "AAPL"]
    assert [e.ticker for e in errors] == ["no good"]


@given(st.from_regex(r"\A\s*\^?[a-zA-Z0-9](?:[a-zA-Z0-9.&=_-]{0,40}[a-zA-Z0-9])?\s*\Z"))
def test_normalizing_is_idempotent(raw: str) -> None:
    once = normalize_ticker(raw)
    assert normalize_ticker(once) == once == once.strip().upper()
