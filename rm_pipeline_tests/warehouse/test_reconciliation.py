"""Stored closes against a second source: two file sets that disagree on a few days, every
disagreement beyond the tolerance named, none within it; the Dagster check says the same."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.defs.market.reconciliation import closes_agree_with_second_source
from rm_pipeline.defs.resources import MarketDataResource, PriceChecksResource, WarehouseResource
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.providers.files_provider import FilesProvider
from rm_pipeline.warehouse.reconciliation import describe, reconcile
from rm_pipeline_tests.warehouse.factories import add_security

SESSIONS = pd.bdate_range("2024-05-01", "2024-05-31").difference(
    pd.DatetimeIndex(["2024-05-06", "2024-05-27"])  # early May and spring bank holidays
)
START, END = date(2024, 5, 1), date(2024, 5, 31)


def write_closes(directory: Path, ticker: str, closes: dict[pd.Timestamp, float]) -> None:
    directory.mkdir(exist_ok=True)
    lines = ["Date,Open,High,Low,Close,Volume"]
    lines += [f"{d.date()},{c},{c},{c},{c},1000" for d, c in closes.items()]
    (directory / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def second_files(directory: Path) -> PriceChecksResource:
    """The price checks comparing ten years of closes with the files in `directory`."""
    return PriceChecksResource(
        second_provider="files", second_provider_files_dir=str(directory), second_provider_days=3660
    )


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    """Shell in pence from two sources: the second quotes 2024-05-14 in pounds, is 2% off on
    2024-05-21 and 0.3% off (rounding, within tolerance) on 2024-05-22; it lacks 2024-05-30."""
    first = {d: round(2700 + 5 * i, 2) for i, d in enumerate(SESSIONS)}
    second = dict(first)
    second[pd.Timestamp("2024-05-14")] = first[pd.Timestamp("2024-05-14")] / 100
    second[pd.Timestamp("2024-05-21")] = round(first[pd.Timestamp("2024-05-21")] * 1.02, 2)
    second[pd.Timestamp("2024-05-22")] = round(first[pd.Timestamp("2024-05-22")] * 1.003, 2)
    del second[pd.Timestamp("2024-05-30")]
    write_closes(tmp_path / "first", "SHEL.L", first)
    write_closes(tmp_path / "second", "SHEL.L", second)
    return tmp_path / "first", tmp_path / "second"


@pytest.fixture
def loaded(db: Engine, sources: tuple[Path, Path]) -> None:
    with db.begin() as conn:
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    report = ingest_prices(db, files(sources[0]), START, END, batch_size=10)
    assert report.prices.inserted == len(SESSIONS) and report.failed == []


def files(directory: Path) -> FilesProvider:
    return FilesProvider(directory, today=lambda: date(2024, 6, 3))


def test_every_disagreement_beyond_the_tolerance_is_named(
    db: Engine, sources: tuple[Path, Path], loaded: None
) -> None:
    with db.connect() as conn:
        found = reconcile(conn, files(sources[1]), START, END, tolerance=0.01)
    assert found.compared == len(SESSIONS) - 1  # 2024-05-30 only in the warehouse
    assert describe(found.disagreements) == [
        "SHEL.L 2024-05-14: 2740 vs 27.4 (-99.00%)",
        "SHEL.L 2024-05-21: 2765 vs 2820.3 (+2.00%)",
    ]
    with db.connect() as conn:
        looser = reconcile(conn, files(sources[1]), START, END, tolerance=0.002)
    assert len(looser.disagreements) == 3  # the 0.3% rounding too


def test_the_check_fails_naming_them_and_passes_on_agreeing_sources(
    db: Engine, sources: tuple[Path, Path], loaded: None
) -> None:
    warehouse = WarehouseResource()
    for directory, passed in ((sources[1], False), (sources[0], True)):
        result = closes_agree_with_second_source(
            warehouse=warehouse,
            market_data=MarketDataResource(),
            price_checks=second_files(directory),
        )
        assert isinstance(result, dg.AssetCheckResult) and result.passed is passed
    failed = closes_agree_with_second_source(
        warehouse=warehouse, market_data=MarketDataResource(), price_checks=second_files(sources[1])
    )
    assert failed.description is not None
    assert failed.description.startswith("2 of 20 closes disagree with files: SHEL.L 2024-05-14")
    assert failed.metadata["disagreements"] == dg.MetadataValue.int(2)


def test_without_a_second_source_the_check_says_so(db: Engine) -> None:
    result = closes_agree_with_second_source(
        warehouse=WarehouseResource(),
        market_data=MarketDataResource(),
        price_checks=PriceChecksResource(),
    )
    assert result.passed and result.metadata["second_source"] == dg.MetadataValue.text(
        "none configured"
    )


def test_a_second_source_with_nothing_in_common_fails_the_check(
    db: Engine,
    sources: tuple[Path, Path],
    loaded: None,
    tmp_path: Path,
) -> None:
    write_closes(tmp_path / "other", "MSFT", {SESSIONS[0]: 400.0})
    result = closes_agree_with_second_source(
        warehouse=WarehouseResource(),
        market_data=MarketDataResource(),
        price_checks=second_files(tmp_path / "other"),
    )
    assert not result.passed and result.description is not None
    assert result.description.startswith("files has no close on any stored session from ")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM price_history")).scalar_one() == len(
            SESSIONS
        )
