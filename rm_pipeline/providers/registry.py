"""Choosing the provider from the settings."""

from __future__ import annotations

from rm_pipeline.providers.base import MarketDataProvider
from rm_pipeline.settings import Settings


def build_provider(settings: Settings) -> MarketDataProvider:
    """The provider named by `settings.provider` (RM_PROVIDER), configured from the settings.

    yfinance is imported only when chosen: it is slow to import and adjusts warning filters.
    """
    match settings.provider:
        case "synthetic":
            from rm_pipeline.providers.synthetic import SyntheticProvider

            return SyntheticProvider(seed=settings.synthetic_seed)
        case "files":
            from rm_pipeline.providers.files_provider import FilesProvider

            if settings.provider_files_dir is None:
                raise ValueError("RM_PROVIDER=files needs RM_PROVIDER_FILES_DIR (a directory)")
            return FilesProvider(settings.provider_files_dir)
        case "yfinance":
            from rm_pipeline.providers.yfinance_provider import YFinanceProvider

            return YFinanceProvider.from_settings(settings)
    raise ValueError(f"unknown provider {settings.provider!r}")
