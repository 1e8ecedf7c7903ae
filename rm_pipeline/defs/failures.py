"""Which failures a retry can cure. Bad input (an unreadable securities or actions file, a broken
universe file, a value the database refuses) fails the step at once, with its message; anything
else (a dropped connection, a provider outage) goes through the asset's retry policy."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from rm_pipeline.db.loader import DuplicateKeyError, LoadError
from rm_pipeline.ingest.securities import UniverseFileError
from rm_pipeline.providers.files_provider import FilesInputError

PERMANENT_ERRORS = (
    FilesInputError,
    UniverseFileError,
    LoadError,
    DuplicateKeyError,
    FileNotFoundError,
)


@contextmanager
def no_retry_for_bad_input() -> Iterator[None]:
    """Turn a permanent error into a step failure that skips the retry policy."""
    try:
        yield
    except PERMANENT_ERRORS as error:
        raise dg.Failure(
            description=f"{type(error).__name__}: {error} (not retried: fix the input)",
            allow_retries=False,
        ) from error
