"""The `rm-pipeline` command's entry point: expected failures end in one line, not a traceback.

The commands live in `rm_pipeline.cli.commands`, imported here only once `main` runs, so that
even a bad setting read while importing them is reported in one line.
"""

from __future__ import annotations

import atexit
import gc
import sys

import click
from pydantic import ValidationError

from rm_pipeline.db.engine import DATABASE_UNREACHABLE
from rm_pipeline.settings import describe_invalid_settings

INTERRUPTED_EXIT = 130
VERBOSE_FLAGS = frozenset({"-v", "--verbose"})


def describe(error: Exception) -> str:
    """The one line (for an unreachable database, plus a hint) an expected failure is shown as."""
    if isinstance(error, ValidationError):
        return describe_invalid_settings(error)
    if isinstance(error, DATABASE_UNREACHABLE):
        cause = getattr(error, "orig", None) or error.__cause__ or error
        first_line = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
        return (
            f"cannot reach the database: {first_line}\n"
            "Check DATABASE_URL (or `rm-pipeline db status` for the embedded server)"
        )
    return " ".join(str(error).split())


def fail(error: Exception) -> None:
    """Report an expected failure in one line and exit 1; re-raise it under --verbose."""
    if VERBOSE_FLAGS & set(sys.argv[1:]):
        raise error
    click.echo(f"Error: {describe(error)}; --verbose shows the traceback.", err=True)
    raise SystemExit(1) from None


def main() -> None:
    """Console-script entry point.

    At exit the objects still alive are frozen out of the cyclic garbage collector
    (`gc.freeze`): the interpreter's last collections walked every object of the 2,000-odd
    modules a command loads, 0.5-0.7 s at the end of every command, for a process that is ending.
    Objects outside reference cycles are still freed (and their finalizers run) as the modules
    are torn down; the process's end releases the rest."""
    atexit.register(gc.freeze)
    try:
        from rm_pipeline.cli.commands import EXPECTED_ERRORS, cli
    except ValidationError as error:
        fail(error)
    try:
        code = cli(standalone_mode=False)
    except click.exceptions.Abort as abort:
        # click turns Ctrl-C (and SIGTERM, see processes.interruptible) into Abort; the
        # interruption says in one line what was stopped.
        if isinstance(abort.__cause__, KeyboardInterrupt):
            click.echo(str(abort.__cause__) or "interrupted", err=True)
            raise SystemExit(INTERRUPTED_EXIT) from None
        raise SystemExit(1) from None
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    except EXPECTED_ERRORS as error:
        fail(error)
    if isinstance(code, int) and code:
        raise SystemExit(code)
