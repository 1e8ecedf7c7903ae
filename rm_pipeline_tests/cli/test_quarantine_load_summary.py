"""A load's summary names the tickers with refused rows and the command that lists them, in the
asset's metadata and in the run's summary line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine

from rm_pipeline.cli.run import _echo_job
from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.resources import MarketDataResource
from rm_pipeline.run_summary import JobSummary, add_materialization
from rm_pipeline_tests.defs.conftest import all_resources

HEADER = "Date,Open,High,Low,Close,Volume\n"
WEEK = ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]


def materialize(assets: list[dg.AssetsDefinition], files_dir: Path, **kwargs: object) -> JobSummary:
    files = {"market_data": MarketDataResource(provider="files", files_dir=str(files_dir))}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            assets, instance=instance, resources=all_resources(None, **files), **kwargs
        )
    summary = JobSummary(job="main", success=result.success, run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        assert event.materialization is not None
        add_materialization(summary, event.materialization)
    return summary


def test_a_load_with_refused_rows_names_their_tickers_and_how_to_list_them(
    db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "GOOD.csv").write_text(HEADER + "".join(f"{d},10,11,9,10.5,100\n" for d in WEEK))
    (tmp_path / "BAD.csv").write_text(
        HEADER + "".join(f"{d},{'abc' if d in WEEK[1:4] else 10},11,9,10.5,100\n" for d in WEEK)
    )
    (tmp_path / "ODD.csv").write_text(
        HEADER + "".join(f"{d},10,{'8' if d == WEEK[0] else 11},9,10.5,100\n" for d in WEEK)
    )
    materialize([securities], tmp_path)

    summary = materialize([price_history], tmp_path, tags=range_tags(WEEK[0], WEEK[-1]))

    loaded = summary.materialized["price_history"]
    assert loaded["quarantined_per_ticker"] == {"BAD": 3, "ODD": 1}
    table = loaded["quarantined_tickers"].splitlines()
    assert table[0] == "| ticker | rows | first reason |"
    assert table[2].startswith("| BAD | 3 | unparseable") and table[3].startswith("| ODD | 1 | ")
    assert len(table) == 4
    assert loaded["quarantine"] == f"rm-pipeline quarantine list --run {summary.run_id[:8]}"

    _echo_job(summary)
    lines = capsys.readouterr().out.splitlines()
    asset_line = next(i for i, line in enumerate(lines) if line.startswith("  price_history"))
    assert lines[asset_line + 1] == (
        f"    refused: BAD 3, ODD 1 — rm-pipeline quarantine list --run {summary.run_id[:8]}"
    )


def test_a_clean_load_names_no_ticker(
    db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "GOOD.csv").write_text(HEADER + "".join(f"{d},10,11,9,10.5,100\n" for d in WEEK))
    materialize([securities], tmp_path)
    summary = materialize([price_history], tmp_path, tags=range_tags(WEEK[0], WEEK[-1]))
    loaded = summary.materialized["price_history"]
    assert (loaded["quarantined_tickers"], loaded["quarantined_per_ticker"]) == ("none", {})
    _echo_job(summary)
    assert "refused:" not in capsys.readouterr().out
