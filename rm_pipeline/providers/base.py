"""What every market data provider offers, and what it hands back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

import pandas as pd

from rm_pipeline.providers.frames import RejectedFrame, empty_frame


class TickerStatus(StrEnum):
    """How fetching one ticker went."""

    OK = "ok"
    NO_DATA = "no_data"
    DELISTED = "delisted"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    INVALID = "invalid"


HEALTHY_STATUSES = frozenset({TickerStatus.OK, TickerStatus.NO_DATA})
"""Statuses that are not failures: the source answered, possibly with nothing."""


@dataclass(frozen=True)
class TickerOutcome:
    """One ticker's outcome; `rows` counts the rows it contributed to the result frame."""

    ticker: str
    status: TickerStatus
    reason: str = ""
    rows: int = 0


@dataclass
class ProviderResult:
    """A validated frame, one outcome per requested ticker, and the rows set aside.

    `rejected` has the columns ticker, date and reason (see validation.RejectReason).
    """

    frame: pd.DataFrame
    outcomes: list[TickerOutcome]
    rejected: pd.DataFrame = field(default_factory=lambda: empty_frame(RejectedFrame))

    def failed(self) -> list[TickerOutcome]:
        """Outcomes that are failures (anything but ok and no_data)."""
        return [o for o in self.outcomes if o.status not in HEALTHY_STATUSES]

    def with_status(self, *statuses: TickerStatus) -> list[TickerOutcome]:
        """Outcomes with one of the given statuses."""
        return [o for o in self.outcomes if o.status in statuses]

    def by_ticker(self) -> dict[str, TickerOutcome]:
        """Outcomes keyed by ticker."""
        return {o.ticker: o for o in self.outcomes}

    def status_counts(self) -> dict[TickerStatus, int]:
        """How many tickers ended in each status."""
        return dict(Counter(o.status for o in self.outcomes))


class ProviderUnreachableError(ConnectionError):
    """The provider's source cannot be reached at all: its host does not resolve, connections are
    refused or reset, TLS or the proxy fails, requests time out. An outage, not one ticker's
    failure: trying the other tickers, or again at once, would only repeat it.

    `reason` is the underlying failure in one line.
    """

    def __init__(self, provider: str, source: str, reason: str) -> None:
        super().__init__(f"{provider}: {source} is unreachable: {reason}")
        self.provider = provider
        self.source = source
        self.reason = reason


@runtime_checkable
class MarketDataProvider(Protocol):
    """A source of market data; every method validates its frame before returning it.

    Tickers are normalized with `normalize_ticker`; an invalid one gets an `invalid` outcome and
    the others go on. Date ranges are inclusive. No method returns a row dated after today.

    A ticker's failure is that ticker's outcome, not an exception. When the source cannot be
    reached at all, any method may raise `ProviderUnreachableError` instead of failing every
    ticker one at a time.
    """

    name: str
    """The value written to `data_source`: "synthetic", "yfinance" or "files"."""

    def securities(self, tickers: Sequence[str] | None = None) -> ProviderResult:
        """Reference data (SecurityFrame); None means the provider's default universe."""
        ...

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        """Daily bars (DailyBarFrame) for trading dates from start to end, both included."""
        ...

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        """Splits and dividends (CorporateActionFrame) dated from start to end, both included."""
        ...

    def fundamentals(self, tickers: Sequence[str]) -> ProviderResult:
        """The latest fundamentals snapshot (FundamentalsFrame)."""
        ...

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        """Daily rates (FxRateFrame) of each major currency in US dollars (USD per unit) dated
        from start to end, both included; one outcome per currency, named by its pair ticker
        (`EURUSD=X`, see fx.py). USD and minor units (`GBp`) are `invalid`: never fetched."""
        ...
