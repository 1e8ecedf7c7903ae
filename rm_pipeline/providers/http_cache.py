"""A small on-disk cache of HTTP responses, so that a retried run does not download again.

The cache is one SQLite file (stdlib `sqlite3`) in write-ahead-log mode, so several threads and
processes read and write it at once: each operation opens its own short-lived connection and
waits up to `BUSY_TIMEOUT_SECONDS` for another writer. Only successful responses (HTTP 200 with a
JSON body) are kept, so an error, a 429 or an HTML outage page is never replayed. Entries older
than the TTL are neither served nor kept; when the stored bodies exceed `max_bytes`, the oldest
are dropped. A cache that cannot be read or written is skipped with a warning: it saves
downloads, it never fails one.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from curl_cffi import requests as curl_requests

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 30.0
FILE_NAME: Final = "responses.sqlite3"
UNKEYED_PARAMS: Final = frozenset({"crumb"})
"""Query parameters that identify the client rather than the question (Yahoo's crumb)."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS responses ("
    " key TEXT PRIMARY KEY, content_type TEXT, body BLOB NOT NULL, stored_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS responses_by_age ON responses (stored_at)",
)
_LOOKUP: Final = "SELECT content_type, body FROM responses WHERE key = ? AND stored_at > ?"
_STORE: Final = "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)"
_PURGE_EXPIRED: Final = "DELETE FROM responses WHERE stored_at <= ?"
_EVICT_OLDEST: Final = """
DELETE FROM responses WHERE key IN (
    SELECT key FROM (
        SELECT key, SUM(length(body)) OVER (ORDER BY stored_at DESC, key) AS newer_bytes
        FROM responses
    ) WHERE newer_bytes > ?
)"""
"""Keeps the newest entries whose bodies add up to at most the bound, drops the rest."""


def request_key(method: str, url: str, params: Mapping[str, object] | None) -> str:
    """What a request asks: its method, URL and query parameters (those in the URL and in
    `params`, sorted), without `UNKEYED_PARAMS`. Cookies and headers are not part of it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, str(value)) for name, value in (params or {}).items()]
    asked = sorted((name, value) for name, value in query if name not in UNKEYED_PARAMS)
    address = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return json.dumps([method.upper(), address, asked])


class ResponseCache:
    """Successful responses on disk under `directory`, reused for `ttl`, at most `max_bytes`."""

    def __init__(
        self,
        directory: Path,
        ttl: timedelta,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._created = False
        self._create_lock = threading.Lock()

    def lookup(
        self, method: str, url: str, params: Mapping[str, object] | None
    ) -> curl_requests.Response | None:
        """The stored response to this request, as a fresh `curl_cffi` response; else None."""
        key = request_key(method, url, params)
        row = self._run(lambda db: db.execute(_LOOKUP, (key, self._expired_before())).fetchone())
        if row is None:
            return None
        content_type, body = row
        response = curl_requests.Response()
        response.url = url
        response.content = body
        if content_type:
            response.headers = curl_requests.Headers({"Content-Type": content_type})
        return response

    def store(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None,
        response: curl_requests.Response,
    ) -> None:
        """Keep the response if it succeeded; purge expired entries and keep to the size bound."""
        if not _is_success(response):
            return
        row = (
            request_key(method, url, params),
            response.headers.get("Content-Type"),
            response.content,
            self._clock(),
        )

        def write(db: sqlite3.Connection) -> None:
            db.execute(_STORE, row)
            db.execute(_PURGE_EXPIRED, (self._expired_before(),))
            db.execute(_EVICT_OLDEST, (self.max_bytes,))

        self._run(write)

    def _expired_before(self) -> float:
        return self._clock() - self.ttl.total_seconds()

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run `operation` in one transaction; None, with a warning, when the file fails."""
        try:
            with closing(self._connect()) as db, db:
                return operation(db)
        except (sqlite3.Error, OSError) as err:
            log.warning("yfinance response cache in %s skipped: %s", self.directory, err)
            return None

    def _connect(self) -> sqlite3.Connection:
        """A connection; the first one creates the directory, the file and its schema."""
        with self._create_lock:
            if not self._created:
                self.directory.mkdir(parents=True, exist_ok=True)
                with closing(self._open()) as db, db:
                    db.execute("PRAGMA journal_mode=WAL")
                    for statement in _SCHEMA:
                        db.execute(statement)
                self._created = True
        return self._open()

    def _open(self) -> sqlite3.Connection:
        return sqlite3.connect(self.directory / FILE_NAME, timeout=BUSY_TIMEOUT_SECONDS)


def _is_success(response: curl_requests.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True
