"""Market data providers: synthetic (offline default), Yahoo Finance, and files.

Every provider returns the same validated frames (see `frames`) inside a `ProviderResult` with
one outcome per requested ticker; docs/PROVIDERS.md describes units and conventions.
"""

from rm_pipeline.providers.base import (
    MarketDataProvider,
    ProviderResult,
    TickerOutcome,
    TickerStatus,
)
from rm_pipeline.providers.frames import (
    CorporateActionFrame,
    DailyBarFrame,
    FundamentalsFrame,
    FxRateFrame,
    RejectedFrame,
    SecurityFrame,
)
from rm_pipeline.providers.registry import build_provider
from rm_pipeline.providers.tickers import InvalidTickerError, normalize_ticker
from rm_pipeline.providers.validation import RejectReason, validate_bars

__all__ = [
    "CorporateActionFrame",
    "DailyBarFrame",
    "FundamentalsFrame",
    "FxRateFrame",
    "InvalidTickerError",
    "MarketDataProvider",
    "ProviderResult",
    "RejectReason",
    "RejectedFrame",
    "SecurityFrame",
    "TickerOutcome",
    "TickerStatus",
    "build_provider",
    "normalize_ticker",
    "validate_bars",
]
