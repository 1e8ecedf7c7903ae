"""The main job end to end, as `make run` runs it, and a range of history, as `rm-pipeline
backfill` loads it: runs of the project's jobs launched one after the other in one
`RunSession` (`rm_pipeline.launch`), and what the warehouse holds afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, text

from rm_pipeline.defs.partitions import (
    first_partition_key,
    partition_key_of,
    partitions_today,
    range_tags,
)
from rm_pipeline.launch import Progress, RunSession
from rm_pipeline.run_summary import JobSummary
from rm_pipeline.settings import Settings
from rm_pipeline.warehouse.gaps import Gap, gaps_near


def history_range(settings: Settings, years: float, today: date) -> tuple[str, str]:
    """First and last partition keys of the history `make run` loads: the last `years` years
    (RM_HISTORY_YEARS) to today's partition, but none before the partitions start
    (RM_HISTORY_START)."""
    start = max(today - timedelta(days=round(years * 365.25)), settings.history_start)
    return first_partition_key(start), partition_key_of(today)


RANGE_LOAD_STEPS = ("price_history", "fx_rates")
"""What a range run of `ingest_price_history` launched from here runs: the loads, without their
checks, which run next, as a run of their own (`check_prices`, after `rm-pipeline backfill`) or
ahead of the analytics (`refresh_analytics`, in `make run`). In a partitioned run Dagster records
a planned evaluation of every check for every partition (and leaves them planned: the checks
evaluate once, over the whole table), which for 15 years is 27,000 rows and seconds before the
run starts. The nightly schedule's runs, a few days each, keep their checks."""


MAIN_LOAD_STEPS = ("securities", *RANGE_LOAD_STEPS)
"""What `rm-pipeline run` loads in one run: the securities master, then `RANGE_LOAD_STEPS`."""


def load_range(session: RunSession, first: str, last: str) -> list[JobSummary]:
    """Bars and exchange rates from partition `first` to `last` as one run, then the price and
    rate checks as one run (not when the load failed)."""
    load = session.launch("ingest_price_history", range_tags(first, last), RANGE_LOAD_STEPS)
    if not load.success:
        return [load]
    return [load, session.launch("check_prices")]


def run_main_job(
    session: RunSession,
    settings: Settings,
    years: float,
    progress: Progress,
    seed: Callable[[], str] | None = None,
    today: date | None = None,
) -> list[JobSummary]:
    """The securities and the last `years` years of history (`history_range`) as one run of
    `load_securities_and_prices` (its loads: `MAIN_LOAD_STEPS`), then `seed` (the demo data, when
    given), then the price checks and everything downstream (`refresh_analytics`), unless the
    load failed."""
    first, last = history_range(settings, years, today or partitions_today())
    progress(f"running load_securities_and_prices for {first} to {last}")
    load = session.launch("load_securities_and_prices", range_tags(first, last), MAIN_LOAD_STEPS)
    if not load.success:
        return [load]
    if seed is not None:
        progress(seed())
    progress("running refresh_analytics")
    return [load, session.launch("refresh_analytics")]


WAREHOUSE_SUMMARY = text(
    """
    SELECT (SELECT count(*) FROM securities WHERE is_active) AS active_securities,
           (SELECT count(*) FROM securities WHERE NOT is_active) AS inactive_securities,
           (SELECT count(*) FROM price_history) AS price_rows,
           (SELECT min(date) FROM price_history) AS first_date,
           (SELECT max(date) FROM price_history) AS last_date,
           (SELECT count(*) FROM corporate_actions) AS corporate_actions
    """
)


def warehouse_summary(engine: Engine) -> dict[str, Any]:
    """Counts and the date range of what the warehouse holds now."""
    with engine.connect() as conn:
        return dict(conn.execute(WAREHOUSE_SUMMARY).mappings().one())


def gaps_left(engine: Engine, first: date, last: date) -> list[Gap]:
    """The sessions still missing inside a loaded range or beside it (a hole between the range and
    the history already stored), as the loads' refreshes left them in `price_gaps`."""
    with engine.connect() as conn:
        return gaps_near(conn, first, last)
