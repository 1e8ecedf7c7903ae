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


def build_second_provider(settings: Settings) -> MarketDataProvider | None:
    """The second source of closes (RM_SECOND_PROVIDER, with RM_SECOND_PROVIDER_FILES_DIR for
    `files`), configured as the first would be; None when there is none."""
    if settings.second_provider is None:
        return None
    second = settings.model_copy(
        update={
            "provider": settings.second_provider,
            "provider_files_dir": settings.second_provider_files_dir,
        }
    )
    return build_provider(second)
