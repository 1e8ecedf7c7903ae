"""The `rm-pipeline` click group, one module per command group, and the failures it reports in
one line."""

from __future__ import annotations

import logging
import os

import click
from pydantic import ValidationError

from rm_pipeline.app.errors import AppError
from rm_pipeline.cli.brokers import brokers
from rm_pipeline.cli.db import db
from rm_pipeline.cli.providers import providers
from rm_pipeline.cli.quarantine import quarantine
from rm_pipeline.cli.run import backfill, dev, run
from rm_pipeline.cli.splits import splits
from rm_pipeline.cli.trades import trades
from rm_pipeline.cli.users import users
from rm_pipeline.db.engine import DATABASE_UNREACHABLE, DatabaseSetupError
from rm_pipeline.holdings.base import HoldingsError
from rm_pipeline.ingest.securities import UniverseFileError
from rm_pipeline.launch import DagsterStorageError, JobLaunchError, SlotWaitTimeout
from rm_pipeline.providers.base import ProviderUnreachableError
from rm_pipeline.providers.files_provider import FilesInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", is_flag=True, help="Log progress at INFO level; show tracebacks of errors."
)
def cli(verbose: bool) -> None:
    """rm-pipeline: the RationalMarkets market-data pipeline and warehouse.

    With no DATABASE_URL set, every command uses an embedded PostgreSQL whose data lives under
    .rm_pipeline/ in the working directory.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(not_storage_retries)


def not_storage_retries(record: logging.LogRecord) -> bool:
    """Leave out dagster-postgres's warning for each retry of a lost connection (several a
    second while the database is down): the failure it ends in is reported once."""
    return f"{os.sep}dagster_postgres{os.sep}" not in record.pathname


cli.add_command(db)
cli.add_command(providers)
cli.add_command(run)
cli.add_command(backfill)
cli.add_command(users)
cli.add_command(trades)
cli.add_command(splits)
cli.add_command(quarantine)
cli.add_command(brokers)
cli.add_command(dev)

EXPECTED_ERRORS = (
    AppError,
    DatabaseSetupError,
    HoldingsError,
    FilesInputError,
    UniverseFileError,
    JobLaunchError,
    SlotWaitTimeout,
    DagsterStorageError,
    ProviderUnreachableError,
    ValidationError,
    *DATABASE_UNREACHABLE,
)
"""Failures of input, settings or surroundings, not of the code."""
