"""The `rm-pipeline` command: one click group, one module per command group."""

from __future__ import annotations

import logging
import sys

import click
import psycopg
import sqlalchemy.exc

from rm_pipeline.cli.brokers import brokers
from rm_pipeline.cli.db import db
from rm_pipeline.cli.providers import providers
from rm_pipeline.cli.run import backfill, dev, run
from rm_pipeline.cli.trades import trades
from rm_pipeline.cli.users import users
from rm_pipeline.pipeline import JobLaunchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
def cli(verbose: bool) -> None:
    """rm-pipeline: the RationalMarkets market-data pipeline and warehouse.

    With no DATABASE_URL set, every command uses an embedded PostgreSQL whose data lives under
    .rm_pipeline/ in the working directory.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


cli.add_command(db)
cli.add_command(providers)
cli.add_command(run)
cli.add_command(backfill)
cli.add_command(users)
cli.add_command(trades)
cli.add_command(brokers)
cli.add_command(dev)


DATABASE_UNREACHABLE = (psycopg.OperationalError, sqlalchemy.exc.OperationalError)


def main() -> None:
    """Console-script entry point: an unreachable database is one line (the traceback only with
    --verbose)."""
    try:
        code = cli(standalone_mode=False)
    except click.exceptions.Abort:
        raise SystemExit(1) from None
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    except JobLaunchError as error:
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(1) from None
    except DATABASE_UNREACHABLE as error:
        if {"-v", "--verbose"} & set(sys.argv[1:]):
            raise
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        click.echo(
            f"Error: cannot reach the database: {reason}\n"
            "Check DATABASE_URL (or `rm-pipeline db status` for the embedded server); "
            "--verbose shows the traceback.",
            err=True,
        )
        raise SystemExit(1) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
