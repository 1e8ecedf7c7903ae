"""`rm-pipeline providers ...` against the synthetic and files providers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rm_pipeline.cli.providers import providers
from rm_pipeline.settings import get_settings


@pytest.fixture(autouse=True)
def synthetic_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RM_PROVIDER", "RM_PROVIDER_FILES_DIR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(providers, list(args))
    return result.exit_code, result.output


def test_bars_prints_bars_and_outcomes() -> None:
    code, output = run(
        "bars", "AAPL", "7203.T", "--start", "2024-06-03", "--end", "2024-06-07", "--rows", "2"
    )

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == [
        "ticker",
        "date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]
    assert [line.split()[:2] for line in lines[1:5]] == [
        ["AAPL", "2024-06-06"], ["AAPL", "2024-06-07"], ["7203.T", "2024-06-06"], ["7203.T", "2024-06-07"]
    ]  # fmt: skip
    assert "Outcomes:" in output
    assert any(line.split() == ["AAPL", "ok", "5"] for line in lines)


def test_a_failed_ticker_sets_the_exit_status() -> None:
    code, output = run("bars", "AAPL", "BAD TICKER", "--days", "3")

    assert code == 1
    assert "invalid ticker 'BAD TICKER'" in output


def test_files_dir_implies_the_files_provider(tmp_path: Path) -> None:
    (tmp_path / "KO.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-01-02,59,60,58,59.5,100\n"
    )

    code, output = run(
        "bars", "KO", "--files-dir", str(tmp_path), "--start", "2024-01-01", "--end", "2024-01-31"
    )

    assert code == 0, output
    assert "KO 2024-01-02" in " ".join(output.split())


def test_files_provider_without_a_directory_is_a_usage_error() -> None:
    code, output = run("securities", "--provider", "files")

    assert code == 2
    assert "RM_PROVIDER_FILES_DIR" in output


def test_securities_default_to_the_universe_and_fundamentals_print() -> None:
    code, output = run("securities")
    assert code == 0 and "Toyota Motor Corporation" in output and "SPDR S&P 500 ETF Trust" in output

    code, output = run("fundamentals", "KO", "SPY")
    assert code == 0 and "dividend_yield" in output

    code, output = run("actions", "NVDA", "--start", "2024-01-01", "--end", "2024-12-31")
    assert code == 0 and "split" in output and "10.0" in output


def test_fx_prints_rates_by_currency_and_outcomes_by_pair() -> None:
    code, output = run("fx", "EUR", "JPY", "--start", "2024-06-03", "--end", "2024-06-07")

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["base_currency", "quote_currency", "date", "rate"]
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["EUR", "USD", "2024-06-03"], ["EUR", "USD", "2024-06-04"]
    ]  # fmt: skip
    assert len([line for line in lines if line.split()[:1] == ["JPY"]]) == 5
    assert any(line.split() == ["EURUSD=X", "ok", "5"] for line in lines)


def test_fx_refuses_usd_and_minor_units() -> None:
    code, output = run("fx", "EUR", "USD", "GBp", "--days", "3")

    assert code == 1
    assert "USD is the quote currency" in output and "minor units such as GBp" in output


@pytest.mark.parametrize("command", ["bars", "fx", "actions", "securities", "fundamentals"])
def test_help(command: str) -> None:
    code, output = run(command, "--help")
    assert code == 0
    assert "--provider" in output and "--files-dir" in output


def test_fx_says_when_it_shows_only_the_last_rows_of_each_currency() -> None:
    code, output = run("fx", "EUR", "--start", "2024-06-03", "--end", "2024-06-14", "--rows", "3")
    assert code == 0, output
    assert "(the last 3 of each currency: 3 of 10 rows; --rows shows more)" in output
    _, everything = run("fx", "EUR", "--start", "2024-06-03", "--end", "2024-06-07")
    assert "--rows shows more" not in everything
