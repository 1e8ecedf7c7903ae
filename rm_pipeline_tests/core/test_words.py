"""Counts in words: singular for one, the plural the noun takes otherwise."""

from __future__ import annotations

import pytest

from rm_pipeline.core.words import counted


@pytest.mark.parametrize(
    ("number", "noun", "words"),
    [
        (1, "trade", "1 trade"),
        (0, "trade", "0 trades"),
        (2, "batch", "2 batches"),
        (1, "batch", "1 batch"),
        (3, "security", "3 securities"),
        (2, "broker connection", "2 broker connections"),
        (2, "exchange-rate pair", "2 exchange-rate pairs"),
        (1234, "row", "1,234 rows"),
    ],
)
def test_counted(number: int, noun: str, words: str) -> None:
    assert counted(number, noun) == words
