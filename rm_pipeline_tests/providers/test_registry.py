"""build_provider picks the provider named by the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yfinance

from rm_pipeline.providers import MarketDataProvider, build_provider
from rm_pipeline.providers.files_provider import FilesProvider
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.providers.yfinance_provider import YFinanceProvider
from rm_pipeline.settings import Settings


def test_synthetic_uses_the_seed() -> None:
    provider = build_provider(Settings(provider="synthetic", synthetic_seed=11))
    assert isinstance(provider, SyntheticProvider) and provider.seed == 11
    assert provider.name == "synthetic"


def test_files_needs_a_directory(tmp_path: Path) -> None:
    provider = build_provider(Settings(provider="files", provider_files_dir=tmp_path))
    assert isinstance(provider, FilesProvider) and provider.name == "files"
    with pytest.raises(ValueError, match="RM_PROVIDER_FILES_DIR"):
        build_provider(Settings(provider="files", provider_files_dir=None))


def test_yfinance_takes_its_settings() -> None:
    hide_exceptions = yfinance.config.debug.hide_exceptions
    settings = Settings(provider="yfinance", yfinance_batch_size=7, yfinance_threads=3)
    try:
        provider = build_provider(settings)
    finally:
        yfinance.config.debug.hide_exceptions = hide_exceptions
    assert isinstance(provider, YFinanceProvider) and provider.name == "yfinance"
    assert (provider.batch_size, provider.threads) == (7, 3)


def test_every_provider_satisfies_the_protocol(tmp_path: Path) -> None:
    for provider in (SyntheticProvider(), FilesProvider(tmp_path)):
        assert isinstance(provider, MarketDataProvider)
