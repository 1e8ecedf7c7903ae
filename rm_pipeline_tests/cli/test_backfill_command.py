"""`rm-pipeline backfill` refuses what it cannot load with one line saying what to do: a range it
cannot hold, a warehouse with no securities to load."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from rm_pipeline.cli.commands import cli
from rm_pipeline.settings import get_settings


@pytest.fixture
def history_from_2010(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RM_HISTORY_START", "2010-01-04")
    get_settings.cache_clear()


def test_a_range_before_the_history_start_says_which_setting_to_change(
    history_from_2010: None,
) -> None:
    result = CliRunner().invoke(cli, ["backfill", "--start", "1995-01-02", "--end", "2005-12-30"])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "before the history start 2010-01-04" in result.output
    assert "RM_HISTORY_START=1995-01-02" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start", "2020-01-10", "--end", "2020-01-03"], "is after --end"),
        (["--start", "2020-01-10", "--end", "2999-01-01"], "is in the future"),
        (["--start", "10/01/2020"], "does not match the format"),
    ],
)
def test_impossible_ranges_are_refused(
    history_from_2010: None, arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["backfill", *arguments])
    get_settings.cache_clear()
    assert result.exit_code == 2 and message in result.output


def test_a_backfill_with_no_securities_stored_says_to_load_them_first(
    history_from_2010: None, db: Engine
) -> None:
    result = CliRunner().invoke(cli, ["backfill", "--start", "2020-01-06", "--end", "2020-01-10"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no active securities in the warehouse, so there is nothing to load" in result.output
    assert "run `rm-pipeline run` first" in result.output
