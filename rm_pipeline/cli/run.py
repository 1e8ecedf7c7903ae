"""`rm-pipeline run` (the main job end to end, then a summary) and `rm-pipeline dev` (the UI)."""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from typing import Any

import click

from rm_pipeline.cli.providers import ISO_DATE
from rm_pipeline.core.words import counted
from rm_pipeline.db import migrate
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.defs.partitions import first_partition_key, partition_key_of, partitions_today
from rm_pipeline.demo import seed_demo, seed_demo_trades
from rm_pipeline.ingest.securities import UniverseFileError, read_universe
from rm_pipeline.launch import DAGSTER, WORKSPACE, dagster_environment, run_session
from rm_pipeline.pipeline import gaps_left, load_range, run_main_job, warehouse_summary
from rm_pipeline.processes import interruptible
from rm_pipeline.progress import ProgressDisplay
from rm_pipeline.providers import build_provider
from rm_pipeline.run_summary import (
    PER_TICKER_COUNTS,
    JobSummary,
    failed_unit,
    failures,
    gaps_left_lines,
    outcome_line,
    refused_line,
)
from rm_pipeline.settings import RunSettings, Settings, as_environment, get_settings


def _echo_job(summary: JobSummary) -> None:
    state = "succeeded" if summary.success else "FAILED"
    click.echo(f"{summary.job}: {state} (run {summary.run_id[:8]})")
    for asset, metadata in summary.materialized.items():
        partitions = summary.partitions.get(asset, 1)
        scope = f" ({partitions:,} partitions)" if partitions > 1 else ""
        counts = ", ".join(
            f"{key.removeprefix('rows_')} {metadata[key]:,}"
            for key in (
                "rows_inserted",
                "rows_updated",
                "rows_unchanged",
                "rows_removed",
                "rows_rejected",
            )
            if key in metadata
        )
        failed = metadata.get("failed_tickers")
        unit = f"failed {failed_unit(asset)}"
        suffix = f"; {counted(failed, unit)}" if failed is not None else ""
        if (gaps := metadata.get("open_gaps")) is not None:
            suffix += f"; open gaps {gaps:,}"
        click.echo(f"  {asset}{scope}: {counts or 'done'}{suffix}")
        if refused := metadata.get(PER_TICKER_COUNTS):
            click.echo(f"    {refused_line(refused, summary.run_id)}")
    for check, passed in summary.checks.items():
        click.echo(f"  check {check}: {'passed' if passed else 'FAILED'}")


def _echo_warehouse(db_url: str) -> dict[str, Any]:
    totals = warehouse_summary(get_engine(db_url))
    click.echo(
        f"warehouse: {totals['active_securities']:,} active securities "
        f"({totals['inactive_securities']:,} inactive), {totals['price_rows']:,} daily bars "
        f"from {totals['first_date']} to {totals['last_date']}, "
        f"{totals['corporate_actions']:,} corporate actions"
    )
    return totals


GAPS_SHOWN = 5
"""Gaps a backfill names at its end; the rest are counted (the check names more)."""


def _echo_gaps(db_url: str, first: date, last: date) -> None:
    """The sessions still missing in or beside the range loaded (the first GAPS_SHOWN gaps)."""
    gaps = gaps_left(get_engine(db_url), first, last)
    for line in gaps_left_lines(gaps, first, last, GAPS_SHOWN):
        click.echo(line)


def _check_configuration(settings: Settings) -> None:
    """Refuse, before anything starts, a provider or universe file the runs could not use."""
    try:
        build_provider(settings)
    except (ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    if settings.universe_file is not None:
        try:
            read_universe(settings.universe_file)
        except (UniverseFileError, OSError) as error:
            raise click.ClickException(f"RM_UNIVERSE_FILE: {error}") from error


def _seed_demo(db_url: str) -> str:
    """Seed the demo and say, in one line, what it created and what the universe left out."""
    engine = get_engine(db_url)
    with engine.begin() as conn:
        demo = seed_demo(conn)
    trades = seed_demo_trades(engine)
    changed = sum(1 for sync in demo.synced if sync.inserted or sync.updated or sync.removed)
    line = (
        f"demo: {counted(demo.users_created, 'user')}, "
        f"{counted(demo.portfolios_created, 'portfolio')} and "
        f"{counted(trades.created, 'trade')} created; holdings of "
        f"{counted(len(demo.synced), 'portfolio')} synced ({changed} changed); "
        f"{counted(trades.activated, 'trade')} activated"
    )
    if skipped := demo.skipped + trades.skipped:
        line += f"; skipped, their securities not in the warehouse: {'; '.join(skipped)}"
    if trades.not_activated:
        line += f"; not activated: {'; '.join(trades.not_activated)}"
    return line


@click.command()
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Seed the demo users, portfolios and trades (idempotent).",
)
def run(demo: bool) -> None:
    """Bring up the database, migrate it, run the pipeline and print a summary.

    Runs `load_securities_and_prices` (the securities master, then the last RM_HISTORY_YEARS
    years of bars and rates, default 2, none before RM_HISTORY_START) as one run, seeds the demo
    data, then `refresh_analytics` (the price checks, then market stats, fundamentals, holdings,
    valuations, trade analysis), all on the project's Dagster instance with the market data provider from
    RM_PROVIDER (default: synthetic, offline). Uses the embedded PostgreSQL unless DATABASE_URL is
    set. Safe to run again: a second run changes nothing and says so. The embedded server stays up
    afterwards for psql and the Dagster UI; stop it with `rm-pipeline db stop`.
    """
    settings = get_settings()
    years = RunSettings().history_years
    _check_configuration(settings)
    click.echo(f"database: {'embedded PostgreSQL' if settings.embedded else 'DATABASE_URL'}")
    db_url = warehouse_url(settings)
    click.echo(f"provider: {settings.provider}")
    seed = (lambda: _seed_demo(db_url)) if demo else None
    with interruptible(), ProgressDisplay() as shown, run_session(settings, shown) as session:
        shown(migrate.upgrade_and_describe(db_url))
        summaries = run_main_job(session, settings, years, progress=shown, seed=seed)
    for summary in summaries:
        _echo_job(summary)
    totals = _echo_warehouse(db_url)
    if not all(summary.success for summary in summaries):
        raise click.ClickException("a job failed: open the run in the Dagster UI (rm-pipeline dev)")
    if totals["price_rows"] == 0:
        raise click.ClickException(
            "nothing was loaded: the warehouse holds no daily bars; see the failed tickers above "
            "and the provider (rm-pipeline providers bars TICKER)"
        )
    click.echo(outcome_line(summaries))
    click.echo("Dagster UI: rm-pipeline dev, then open http://127.0.0.1:3000")
    click.echo("psql: rm-pipeline db psql (analysts: see `rm-pipeline db url --analyst`)")


@click.command()
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
def dev(port: int) -> None:
    """Start the Dagster UI and daemon (schedules, sensors and automation fire) on 127.0.0.1."""
    settings = get_settings()
    migrate.upgrade(warehouse_url(settings))
    environment = dagster_environment(settings)
    # Dagster runs in its home, which holds the instance's dagster.yaml, so that it neither
    # finds a checkout's own dagster.yaml in the working directory nor warns that it will not
    # use it; the settings go with it as variables, since `.env` and relative paths are read
    # from the working directory.
    os.environ.update(as_environment(settings))
    os.environ.update(environment)
    os.chdir(environment["DAGSTER_HOME"])
    os.execv(
        DAGSTER[0], [*DAGSTER, "dev", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    )


@click.command()
@click.option(
    "--start",
    required=True,
    type=ISO_DATE,
    help="First day to load (YYYY-MM-DD); not before RM_HISTORY_START.",
)
@click.option(
    "--end",
    type=ISO_DATE,
    help="Last day to load (YYYY-MM-DD)  [default: today in New York]",
)
def backfill(start: datetime, end: datetime | None) -> None:
    """Load the daily bars and exchange rates from START to END as one run of the
    `ingest_price_history` job (the job the nightly schedule runs), then evaluate the price and
    rate checks as a run of `check_prices`, and print the counts, the checks and the sessions
    still missing in or beside the range (a hole between it and the history already stored).

    The partitions start at RM_HISTORY_START (default 2000-01-03): to load history before it, set
    RM_HISTORY_START (in the environment or .env) to that day or earlier first, for this command
    and for the UI.
    Loading is idempotent: days already stored are compared and only changed bars rewritten. Under
    `rm-pipeline dev` the analytics follow the new prices by themselves; otherwise `rm-pipeline run`.
    """
    settings = get_settings()
    _check_configuration(settings)
    today = partitions_today()
    first_day, last_day = start.date(), (end.date() if end else today)
    history_start = first_partition_key(settings.history_start)
    if first_day > last_day:
        raise click.BadParameter(f"--start {first_day} is after --end {last_day}")
    if last_day > today:
        raise click.BadParameter(f"--end {last_day} is in the future")
    first, last = partition_key_of(first_day), partition_key_of(last_day)
    if first < history_start:
        raise click.BadParameter(
            f"--start {first_day} is before the history start {history_start}: set "
            f"RM_HISTORY_START={first} (environment or .env) and restart `rm-pipeline dev` so the "
            "partitions cover it, then run this again"
        )
    db_url = warehouse_url(settings)
    migrate.upgrade(db_url)
    if warehouse_summary(get_engine(db_url))["active_securities"] == 0:
        raise click.ClickException(
            "no active securities in the warehouse, so there is nothing to load: run "
            "`rm-pipeline run` first (it loads the securities master), then this again"
        )
    click.echo(f"loading {first} to {last} with provider {settings.provider}")
    began = time.monotonic()
    with interruptible(), ProgressDisplay() as shown, run_session(settings, shown) as session:
        summaries = load_range(session, first, last)
    for summary in summaries:
        _echo_job(summary)
    click.echo(f"took {time.monotonic() - began:.1f} s")
    if not all(summary.success for summary in summaries):
        raise click.ClickException(
            "the backfill failed: open the run in the Dagster UI (rm-pipeline dev)"
        )
    if failed := failures(summaries):
        click.echo(f"{failed} FAILED: their bars or rates are not loaded; run this again to retry")
    _echo_gaps(db_url, first_day, last_day)
