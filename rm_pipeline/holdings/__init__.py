"""Broker holdings: adapters that read what a broker account holds, and the sync into the warehouse.

An adapter (`BrokerAdapter`) turns one portfolio's broker account into a `BrokerPortfolio` (holdings
and cash); `sync_portfolio` / `sync_broker` write it to `portfolio_holdings` and `portfolios`.
"""

from rm_pipeline.holdings.base import (
    BrokerAccount,
    BrokerAdapter,
    BrokerHolding,
    BrokerPortfolio,
    HoldingsError,
    HoldingsFileError,
    UnknownSecuritiesError,
)
from rm_pipeline.holdings.manual import ManualCsvAdapter, read_holdings_csv
from rm_pipeline.holdings.sync import (
    BrokerSyncResult,
    PortfolioSyncFailure,
    PortfolioSyncResult,
    sync_broker,
    sync_portfolio,
)

__all__ = [
    "BrokerAccount",
    "BrokerAdapter",
    "BrokerHolding",
    "BrokerPortfolio",
    "BrokerSyncResult",
    "HoldingsError",
    "HoldingsFileError",
    "ManualCsvAdapter",
    "PortfolioSyncFailure",
    "PortfolioSyncResult",
    "UnknownSecuritiesError",
    "read_holdings_csv",
    "sync_broker",
    "sync_portfolio",
]
