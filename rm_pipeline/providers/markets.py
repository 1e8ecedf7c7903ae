"""Plausible reference data for a ticker a source knows only by its Yahoo-style symbol.

Where the symbol trades (exchange, currency, country) comes from `rm_pipeline.core.calendars`.
"""

from __future__ import annotations

from rm_pipeline.core.calendars import is_crypto, market_for


def security_type_for(ticker: str) -> str:
    """A guess at the security type from the symbol alone."""
    if ticker.startswith("^"):
        return "index"
    if is_crypto(ticker):
        return "crypto"
    if ticker.endswith("=F"):
        return "future"
    return "equity"


def guessed_security(ticker: str) -> dict[str, object]:
    """A SecurityFrame row for a ticker known only by its symbol: name = ticker, sector Unknown."""
    market = market_for(ticker)
    return {
        "ticker": ticker,
        "name": ticker,
        "security_type": security_type_for(ticker),
        "exchange": market.exchange,
        "currency": market.currency,
        "country": market.country,
        "sector": "Unknown",
        "industry": "Unknown",
        "description": None,
    }
