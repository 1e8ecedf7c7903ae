"""The one place where a ticker symbol is cleaned up and checked."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_TICKER_LENGTH = 50
"""The warehouse stores tickers as VARCHAR(50)."""

TICKER_CHARACTERS = "ASCII letters, digits and . - = & _ (and a leading ^)"
"""What a ticker is written with: Yahoo's symbols (`BRK-B`, `7203.T`, `^GSPC`, `EURUSD=X`,
`M&M.NS`) and nothing else, so no other script's letter can pass for a Latin one."""

_TICKER_RE = re.compile(r"\^?[A-Za-z0-9](?:[A-Za-z0-9.&=_-]*[A-Za-z0-9])?", re.ASCII)


class InvalidTickerError(ValueError):
    """A ticker that cannot be a market symbol; the message names it."""

    def __init__(self, ticker: object, why: str) -> None:
        super().__init__(f"invalid ticker {ticker!r}: {why}")
        self.ticker = ticker


def normalize_ticker(raw: object) -> str:
    """Trim and upper-case a ticker, keeping exchange suffixes and prefixes.

    `aapl` -> `AAPL`; `7203.t` -> `7203.T`; `brk-b` -> `BRK-B`; `^gspc` -> `^GSPC`;
    `btc-usd` -> `BTC-USD`; `eurusd=x` -> `EURUSD=X`. Raises InvalidTickerError for an empty
    symbol, inner whitespace, characters other than TICKER_CHARACTERS, or more than
    MAX_TICKER_LENGTH characters. The characters are checked before upper-casing, which would
    turn `ß` into `SS` and `ﬁ` into `FI`.
    """
    if not isinstance(raw, str):
        raise InvalidTickerError(raw, "not a string")
    ticker = raw.strip()
    if not ticker:
        raise InvalidTickerError(raw, "empty")
    if len(ticker) > MAX_TICKER_LENGTH:
        raise InvalidTickerError(raw, f"longer than {MAX_TICKER_LENGTH} characters")
    if any(ch.isspace() for ch in ticker):
        raise InvalidTickerError(raw, "contains whitespace")
    if not _TICKER_RE.fullmatch(ticker):
        raise InvalidTickerError(raw, f"only {TICKER_CHARACTERS} are allowed")
    return ticker.upper()


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
