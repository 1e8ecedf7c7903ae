"""Which failures a retry can cure. Bad input (an unreadable securities or actions file, a broken
universe file, a value the database refuses) and a provider whose source cannot be reached at all
fail the step at once, with their message; anything else (a dropped database connection, one
provider call failing) goes through the asset's retry policy."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from rm_pipeline.db.loader import DuplicateKeyError, LoadError
from rm_pipeline.ingest.securities import UniverseFileError
from rm_pipeline.providers.base import ProviderUnreachableError
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
    """Turn a permanent error, or a provider outage, into a step failure that skips the retry
    policy.

    An outage is not retried: the provider has confirmed it with a probe of its own, the
    policy's retries minutes apart would most likely meet it again, and the next nightly load
    fetches every session this one missed.
    """
    try:
        yield
    except PERMANENT_ERRORS as error:
        raise dg.Failure(
            description=f"{type(error).__name__}: {error} (not retried: fix the input)",
            allow_retries=False,
        ) from error
    except ProviderUnreachableError as error:
        raise dg.Failure(
            description=(
                f"{error.provider} unreachable: {error.source}: {error.reason} "
                "(not retried: an outage; the next run catches up)"
            ),
            allow_retries=False,
        ) from error
