"""The one place where a ticker symbol is cleaned up and checked."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_TICKER_LENGTH = 50
"""The warehouse stores tickers as VARCHAR(50)."""

_TICKER_RE = re.compile(r"^\^?[A-Z0-9](?:[A-Z0-9.&=_-]*[A-Z0-9])?$")


class InvalidTickerError(ValueError):
    """A ticker that cannot be a market symbol; the message names it."""

    def __init__(self, ticker: object, why: str) -> None:
        super().__init__(f"invalid ticker {ticker!r}: {why}")
        self.ticker = ticker


def normalize_ticker(raw: object) -> str:
    """Trim and upper-case a ticker, keeping exchange suffixes and prefixes.

    `aapl` -> `AAPL`; `7203.t` -> `7203.T`; `brk-b` -> `BRK-B`; `^gspc` -> `^GSPC`;
    `btc-usd` -> `BTC-USD`; `eurusd=x` -> `EURUSD=X`. Raises InvalidTickerError for an empty
    symbol, inner whitespace, characters outside letters, digits and `. - = & _` (plus a leading
    `^` for indices), or more than MAX_TICKER_LENGTH characters.
    """
    if not isinstance(raw, str):
        raise InvalidTickerError(raw, "not a string")
    ticker = raw.strip().upper()
    if not ticker:
        raise InvalidTickerError(raw, "empty")
    if len(ticker) > MAX_TICKER_LENGTH:
        raise InvalidTickerError(raw, f"longer than {MAX_TICKER_LENGTH} characters")
    if any(ch.isspace() for ch in ticker):
        raise InvalidTickerError(raw, "contains whitespace")
    if not _TICKER_RE.match(ticker):
        raise InvalidTickerError(
            raw, "only letters, digits and . - = & _ are allowed (and a leading ^)"
        )
    return ticker


def split_valid(raw_tickers: Iterable[object]) -> tuple[list[str], list[InvalidTickerError]]:
    """Normalize many tickers: the valid ones in first-seen order without repeats, and the errors."""
    valid: dict[str, None] = {}
    errors: list[InvalidTickerError] = []
    for raw in raw_tickers:
        try:
            valid.setdefault(normalize_ticker(raw), None)
        except InvalidTickerError as err:
            errors.append(err)
    return list(valid), errors
