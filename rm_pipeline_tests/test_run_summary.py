"""A run's last line tells the truth: rows written are counted over every asset, a run whose
tickers failed never says the warehouse is up to date, and a backfill says what it left
missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from rm_pipeline.run_summary import JobSummary, gaps_left_lines, outcome_line
from rm_pipeline.warehouse.gaps import Gap


def summary(**materialized: dict[str, Any]) -> JobSummary:
    return JobSummary(
        job="ingest_price_history", success=True, run_id="r", materialized=materialized
    )


def test_nothing_written_and_nothing_failed_is_up_to_date() -> None:
    quiet = summary(price_history={"rows_inserted": 0, "rows_unchanged": 10, "failed_tickers": 0})
    assert outcome_line([quiet]) == "nothing changed: the warehouse was already up to date"


def test_nothing_written_because_tickers_failed_is_never_up_to_date() -> None:
    outage = summary(price_history={"rows_inserted": 0, "failed_tickers": 3})
    line = outcome_line([outage])
    assert "up to date" not in line
    assert line == (
        "no rows written; 3 tickers FAILED, so the warehouse may lack their bars or rates"
    )


def test_rows_written_are_summed_over_assets_and_failures_still_said() -> None:
    runs = [
        summary(price_history={"rows_inserted": 5, "rows_updated": 2, "failed_tickers": 1}),
        summary(fx_rates={"rows_inserted": 4, "failed_tickers": 0}),
    ]
    assert outcome_line(runs) == (
        "11 rows written; 1 ticker FAILED, so the warehouse may lack their bars or rates"
    )


def test_failed_exchange_rate_pairs_are_not_counted_as_tickers() -> None:
    runs = [
        summary(price_history={"rows_inserted": 1, "failed_tickers": 2}),
        summary(fx_rates={"rows_inserted": 0, "failed_tickers": 1}),
    ]
    assert outcome_line(runs) == (
        "1 row written; 2 tickers and 1 exchange-rate pair FAILED, so the warehouse may lack "
        "their bars or rates"
    )


def test_a_backfill_names_the_sessions_it_left_missing() -> None:
    first, last = date(1995, 1, 2), date(2005, 12, 30)
    hole = Gap("AAPL", date(2006, 1, 3), date(2024, 11, 29), 4_762)
    assert gaps_left_lines([], first, last, shown=5) == [
        "no session missing in or beside 1995-01-02 to 2005-12-30"
    ]
    assert gaps_left_lines([hole, replace(hole, ticker="MSFT")], first, last, shown=1) == [
        "sessions missing in or beside 1995-01-02 to 2005-12-30 (2 gaps):",
        "  AAPL: 2006-01-03 to 2024-11-29 (4,762 sessions)",
        "  and 1 more gap",
    ]
