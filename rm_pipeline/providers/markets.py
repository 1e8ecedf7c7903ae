"""Where a ticker trades, read from its Yahoo-style symbol.

Used to pick a trading calendar for generated data and to make up plausible reference data
for tickers a source knows nothing else about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Market:
    """An exchange: its short code, exchange_calendars name, price currency and country."""

    exchange: str | None
    calendar: str
    currency: str
    country: str | None


US: Final = Market(None, "XNYS", "USD", "United States")
"""A plain symbol: a US listing, exchange unknown (NYSE or NASDAQ)."""

_BY_SUFFIX: Final[dict[str, Market]] = {
    "L": Market("LSE", "XLON", "GBp", "United Kingdom"),
    "IL": Market("LSE", "XLON", "USD", "United Kingdom"),
    "T": Market("TSE", "XTKS", "JPY", "Japan"),
    "DE": Market("XETRA", "XETR", "EUR", "Germany"),
    "F": Market("FRA", "XFRA", "EUR", "Germany"),
    "TO": Market("TSX", "XTSE", "CAD", "Canada"),
    "V": Market("TSXV", "XTSE", "CAD", "Canada"),
    "PA": Market("EURONEXT", "XPAR", "EUR", "France"),
    "AS": Market("EURONEXT", "XAMS", "EUR", "Netherlands"),
    "BR": Market("EURONEXT", "XBRU", "EUR", "Belgium"),
    "LS": Market("EURONEXT", "XLIS", "EUR", "Portugal"),
    "IR": Market("EURONEXT", "XDUB", "EUR", "Ireland"),
    "MI": Market("BIT", "XMIL", "EUR", "Italy"),
    "MC": Market("BME", "XMAD", "EUR", "Spain"),
    "SW": Market("SIX", "XSWX", "CHF", "Switzerland"),
    "VI": Market("WBAG", "XWBO", "EUR", "Austria"),
    "ST": Market("STO", "XSTO", "SEK", "Sweden"),
    "CO": Market("CPH", "XCSE", "DKK", "Denmark"),
    "OL": Market("OSL", "XOSL", "NOK", "Norway"),
    "HE": Market("HEL", "XHEL", "EUR", "Finland"),
    "WA": Market("WSE", "XWAR", "PLN", "Poland"),
    "HK": Market("HKEX", "XHKG", "HKD", "Hong Kong"),
    "SS": Market("SSE", "XSHG", "CNY", "China"),
    "SZ": Market("SZSE", "XSHG", "CNY", "China"),
    "TW": Market("TWSE", "XTAI", "TWD", "Taiwan"),
    "KS": Market("KRX", "XKRX", "KRW", "South Korea"),
    "SI": Market("SGX", "XSES", "SGD", "Singapore"),
    "BO": Market("BSE", "XBOM", "INR", "India"),
    "NS": Market("NSE", "XBOM", "INR", "India"),
    "AX": Market("ASX", "XASX", "AUD", "Australia"),
    "NZ": Market("NZX", "XNZE", "NZD", "New Zealand"),
    "SA": Market("B3", "BVMF", "BRL", "Brazil"),
    "MX": Market("BMV", "XMEX", "MXN", "Mexico"),
    "JO": Market("JSE", "XJSE", "ZAc", "South Africa"),
}

_INDEX_MARKETS: Final[dict[str, Market]] = {
    "^FTSE": _BY_SUFFIX["L"],
    "^N225": _BY_SUFFIX["T"],
    "^GDAXI": _BY_SUFFIX["DE"],
    "^FCHI": _BY_SUFFIX["PA"],
    "^GSPTSE": _BY_SUFFIX["TO"],
    "^HSI": _BY_SUFFIX["HK"],
    "^STOXX50E": Market(None, "XETR", "EUR", None),
}

_CRYPTO_RE: Final = re.compile(r"^[A-Z0-9]+-(USD|USDT|EUR|GBP|JPY|CAD|AUD|BTC|ETH)$")


def is_crypto(ticker: str) -> bool:
    """`BTC-USD` is a crypto pair; `BRK-B` is a share class."""
    return bool(_CRYPTO_RE.match(ticker))


def market_for(ticker: str) -> Market:
    """The market a normalized ticker trades on, judged by its suffix (US when none)."""
    if ticker.startswith("^"):
        return _INDEX_MARKETS.get(ticker, Market(None, "XNYS", "USD", None))
    if is_crypto(ticker):
        return Market(None, "24/7", ticker.rsplit("-", 1)[1], None)
    if "." in ticker:
        return _BY_SUFFIX.get(ticker.rsplit(".", 1)[1], US)
    return US


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
