"""`rm-pipeline run` (the main job end to end, then a summary) and `rm-pipeline dev` (the UI)."""

from __future__ import annotations

import os
import shutil
import sys

import click

from rm_pipeline.db import migrate
from rm_pipeline.db.engine import get_engine, warehouse_url
from rm_pipeline.demo import seed_demo, seed_demo_trades
from rm_pipeline.pipeline import (
    JobSummary,
    changed_rows,
    dagster_environment,
    run_main_job,
    warehouse_summary,
)
from rm_pipeline.settings import get_settings


def _echo_job(summary: JobSummary) -> None:
    state = "succeeded" if summary.success else "FAILED"
    click.echo(f"{summary.job}: {state} (run {summary.run_id[:8]})")
    for asset, metadata in summary.materialized.items():
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
        suffix = f"; failed tickers {failed}" if failed is not None else ""
        click.echo(f"  {asset}: {counts or 'done'}{suffix}")
    for check, passed in summary.checks.items():
        click.echo(f"  check {check}: {'passed' if passed else 'FAILED'}")


def _echo_warehouse(db_url: str) -> None:
    totals = warehouse_summary(get_engine(db_url))
    click.echo(
        f"warehouse: {totals['active_securities']:,} active securities "
        f"({totals['inactive_securities']:,} inactive), {totals['price_rows']:,} daily bars "
        f"from {totals['first_date']} to {totals['last_date']}, "
        f"{totals['corporate_actions']:,} corporate actions"
    )


def _seed_demo(db_url: str) -> str:
    engine = get_engine(db_url)
    with engine.begin() as conn:
        demo = seed_demo(conn)
    trades = seed_demo_trades(engine)
    return (
        f"demo: {demo.users_created} users, {demo.portfolios_created} portfolios and "
        f"{trades} trades created; {len(demo.synced)} portfolios synced"
    )


@click.command()
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Seed the demo users, portfolios and trades (idempotent).",
)
def run(demo: bool) -> None:
    """Bring up the database, migrate it, run the pipeline and print a summary.

    Runs `refresh_securities`, then `ingest_price_history` over the last RM_HISTORY_YEARS years
    (default 2) as one run, seeds the demo data, then `refresh_analytics` (market stats,
    fundamentals, holdings, valuations, trade analysis), all on the project's Dagster instance
    with the market data provider from RM_PROVIDER (default: synthetic, offline). Uses the embedded PostgreSQL unless DATABASE_URL is
    set. Safe to run again: a second run changes nothing and says so. The embedded server stays up
    afterwards for psql and the Dagster UI; stop it with `rm-pipeline db stop`.
    """
    settings = get_settings()
    click.echo(f"database: {'embedded PostgreSQL' if settings.embedded else 'DATABASE_URL'}")
    db_url = warehouse_url(settings)
    click.echo(migrate.upgrade_and_describe(db_url))
    click.echo(f"provider: {settings.provider}")
    seed = (lambda: _seed_demo(db_url)) if demo else None
    summaries = run_main_job(settings, progress=click.echo, seed=seed)
    for summary in summaries:
        _echo_job(summary)
    _echo_warehouse(db_url)
    if not all(summary.success for summary in summaries):
        raise click.ClickException("a job failed: open the run in the Dagster UI (make dev)")
    changed = changed_rows(summaries)
    click.echo(
        "nothing changed: the warehouse was already up to date"
        if changed == 0
        else f"{changed:,} rows written"
    )
    click.echo("Dagster UI: make dev, then open http://127.0.0.1:3000")
    click.echo(f"psql: psql '{db_url}'")


@click.command()
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
def dev(port: int) -> None:
    """Start the Dagster UI and daemon (schedules, sensors and automation fire) on 127.0.0.1."""
    settings = get_settings()
    migrate.upgrade(warehouse_url(settings))
    os.environ.update(dagster_environment(settings))
    binary = shutil.which("dagster") or os.path.join(os.path.dirname(sys.executable), "dagster")
    workspace = os.path.join(os.environ["DAGSTER_HOME"], "workspace.yaml")
    os.execv(binary, [binary, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)])
