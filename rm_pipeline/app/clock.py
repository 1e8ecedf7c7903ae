"""The service layer's notion of now, injectable so tests move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now in UTC, naive, like the schema's TIMESTAMP (without time zone) columns."""
    return datetime.now(UTC).replace(tzinfo=None)
