"""What a run did, folded from its events as the command following it reads them: each
asset's counts summed over its partitions and each check's verdict; and what a range's load left
missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg

from rm_pipeline.core.words import counted
from rm_pipeline.ingest.quarantine import list_command
from rm_pipeline.warehouse.gaps import Gap, gap_lines

COUNTERS = ("rows_inserted", "rows_updated", "rows_unchanged", "rows_rejected", "rows_removed")
"""Per-partition counts: a range run's total is their sum over its partitions (a range longer
than `PARTITION_COUNTS_LIMIT` has them on its last partition only, for the whole range). Other
values (the corporate actions, the failed tickers) are the run's own, recorded on its last
partition (the count of failed tickers on every one)."""


PER_TICKER_COUNTS = "quarantined_per_ticker"
"""Rows refused into the quarantine per ticker (JSON: ticker to rows); summed over partitions."""


def add_counts(counts: dict[str, int], more: Any) -> dict[str, int]:
    """Per-ticker counts of refused rows, `more` (a materialization's JSON) added in."""
    added = dict(counts)
    for ticker, rows in (more or {}).items():
        added[ticker] = added.get(ticker, 0) + int(rows)
    return added


@dataclass
class JobSummary:
    """What one job run did: per-asset metadata (counts summed over partitions) and each check's
    verdict."""

    job: str
    success: bool
    run_id: str
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)


def add_event(summary: JobSummary, entry: dg.EventLogEntry) -> None:
    """Fold one of the run's events into its summary: a materialization's metadata, a check's
    verdict; other events change nothing."""
    event = entry.dagster_event
    if event is None:
        return
    if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        materialization = entry.asset_materialization
        assert materialization is not None
        add_materialization(summary, materialization)
    elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = event.asset_check_evaluation_data
        summary.checks[evaluation.check_name] = evaluation.passed


def add_materialization(summary: JobSummary, materialization: dg.AssetMaterialization) -> None:
    """Fold one materialization into the summary: counters add up over partitions, other values
    are the latest partition's."""
    asset = materialization.asset_key.to_user_string()
    merged = summary.materialized.setdefault(asset, {})
    for key, value in materialization.metadata.items():
        if key == PER_TICKER_COUNTS:
            merged[key] = add_counts(merged.get(key, {}), value.value)
        else:
            merged[key] = merged.get(key, 0) + value.value if key in COUNTERS else value.value
    summary.partitions[asset] = summary.partitions.get(asset, 0) + 1


def changed_rows(summaries: list[JobSummary]) -> int:
    """Rows any job inserted, updated or deactivated; 0 means the run changed nothing."""
    counters = (
        "rows_inserted",
        "rows_updated",
        "rows_removed",
        "deactivated",
        "corporate_actions_inserted",
    )
    return sum(
        int(metadata.get(counter, 0))
        for summary in summaries
        for metadata in summary.materialized.values()
        for counter in counters
    )


def failed_unit(asset: str) -> str:
    """What an asset's `failed_tickers` counts: exchange-rate pairs for `fx_rates`, else
    tickers."""
    return "exchange-rate pair" if asset == "fx_rates" else "ticker"


def failures(summaries: list[JobSummary]) -> str | None:
    """The tickers and the exchange-rate pairs (`fx_rates`) the runs' loads failed on, in words
    (`2 tickers and 1 exchange-rate pair`); None when nothing failed."""
    failed = {"ticker": 0, "exchange-rate pair": 0}
    for summary in summaries:
        for asset, metadata in summary.materialized.items():
            failed[failed_unit(asset)] += int(metadata.get("failed_tickers", 0))
    return " and ".join(counted(count, what) for what, count in failed.items() if count) or None


def outcome_line(summaries: list[JobSummary]) -> str:
    """What the run changed, never "up to date" when tickers failed: their missing rows are not
    known to be missing from the provider."""
    changed, failed = changed_rows(summaries), failures(summaries)
    written = f"{counted(changed, 'row')} written" if changed else "no rows written"
    if failed:
        return f"{written}; {failed} FAILED, so the warehouse may lack their bars or rates"
    return written if changed else "nothing changed: the warehouse was already up to date"


REFUSED_SHOWN = 10
"""Tickers with refused rows a run's summary names; the rest are counted."""


def refused_line(counts: dict[str, int], run_id: str, shown: int = REFUSED_SHOWN) -> str:
    """The tickers with rows refused into the quarantine and how to list them, e.g.
    `refused: AAPL 3, MSFT 4 — rm-pipeline quarantine list --run 1a2b3c4d`."""
    named = [f"{ticker} {rows:,}" for ticker, rows in sorted(counts.items())]
    if len(named) > shown:
        named = [*named[:shown], f"and {len(named) - shown:,} more"]
    return f"refused: {', '.join(named)} — {list_command(run_id)}"


def gaps_left_lines(gaps: Sequence[Gap], first: date, last: date, shown: int) -> list[str]:
    """What a load of `first` to `last` left missing in or beside its range (`gaps`): a heading
    and a line per gap, the first `shown` of them; or one line saying nothing is missing."""
    if not gaps:
        return [f"no session missing in or beside {first} to {last}"]
    heading = f"sessions missing in or beside {first} to {last} ({len(gaps):,} gaps):"
    return [heading, *(f"  {line}" for line in gap_lines(gaps, shown))]
