"""Shared by the benchmarks: a scratch warehouse database and a peak-memory sampler."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import psycopg
from psycopg import sql

from rm_pipeline.db import embedded, migrate
from rm_pipeline.db.engine import to_libpq_url
from rm_pipeline.settings import get_settings


@contextmanager
def scratch_database() -> Iterator[str]:
    """A freshly migrated database on the configured server, dropped afterwards."""
    settings = get_settings()
    if settings.database_url:
        server = to_libpq_url(settings.database_url)
    else:
        server = embedded.start(settings.pgdata_dir)
    name = f"rm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = embedded.database_uri(server, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass
class Timing:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0


@contextmanager
def measured(
    resident_mb: Callable[[], float] | None = None, interval: float = 0.02
) -> Iterator[Timing]:
    """Wall time of the block and the peak of `resident_mb` while it ran, sampled every
    `interval` seconds; by default this process's resident memory."""
    if resident_mb is None:
        process = psutil.Process()

        def resident_mb() -> float:
            return process.memory_info().rss / 2**20

    timing = Timing(peak_rss_mb=resident_mb())
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            timing.peak_rss_mb = max(timing.peak_rss_mb, resident_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - start
        done.set()
        sampler.join()
