"""What every broker adapter returns, the adapter protocol, and the errors of a holdings sync."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol

Side = Literal["long", "short"]


@dataclass(frozen=True)
class BrokerHolding:
    """One position as the broker reports it: `quantity` is positive, `side` gives the direction.

    `exchange` None means "whichever security has this ticker" (it must then be unique).
    """

    ticker: str
    exchange: str | None
    side: Side
    quantity: Decimal
    average_entry_price: Decimal

    @property
    def label(self) -> str:
        """The ticker, with its exchange when given: `AAPL (NASDAQ)`."""
        return f"{self.ticker} ({self.exchange})" if self.exchange else self.ticker


@dataclass(frozen=True)
class BrokerPortfolio:
    """Everything a broker account holds: its positions and its cash balance."""

    holdings: tuple[BrokerHolding, ...]
    cash_balance: Decimal


@dataclass(frozen=True)
class BrokerAccount:
    """The portfolio whose broker account is read."""

    portfolio_id: uuid.UUID
    broker_account_id: str | None


class BrokerAdapter(Protocol):
    """Reads broker accounts. `broker` is the value of `portfolios.broker` it serves.

    `fetch` raises `HoldingsError` for a problem with one account's data (the other portfolios of a
    `sync_broker` run go on); any other exception aborts the run.
    """

    broker: str

    def fetch(self, account: BrokerAccount) -> BrokerPortfolio: ...


class HoldingsError(Exception):
    """One portfolio's holdings cannot be synced; nothing of that portfolio was written."""


class HoldingsFileError(HoldingsError):
    """A holdings file is malformed; the message names the file, line and field."""

    def __init__(self, path: Path, line: int, field: str, problem: str) -> None:
        super().__init__(f"{path}, line {line}, field {field}: {problem}")
        self.path, self.line, self.field = path, line, field


class UnknownSecuritiesError(HoldingsError):
    """Holdings name securities the warehouse does not have (or cannot tell apart)."""

    def __init__(self, unknown: Sequence[str], ambiguous: Sequence[str] = ()) -> None:
        problems = []
        if unknown:
            problems.append(f"unknown securities: {', '.join(unknown)}")
        if ambiguous:
            problems.append(
                f"ambiguous tickers (on several exchanges; name the exchange): {', '.join(ambiguous)}"
            )
        super().__init__("; ".join(problems))
        self.unknown, self.ambiguous = tuple(unknown), tuple(ambiguous)
