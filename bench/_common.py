"""Shared by the benchmarks: a scratch warehouse database, a peak-memory sampler, and synthetic
bars of `price_history` on securities made for them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psutil
import psycopg
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

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


def create_securities(engine: Engine, count: int) -> list[str]:
    """`count` new securities; their ids as text."""
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "INSERT INTO securities (ticker, name, security_type, exchange) "
                "SELECT 'T' || g, 'Security ' || g, 'equity', 'BENCH' FROM generate_series(1, :n) g "
                "RETURNING CAST(id AS text)"
            ),
            {"n": count},
        )
        return [row[0] for row in rows]


def make_bars(security_ids: list[str], days: int) -> pd.DataFrame:
    """`days` weekdays of bars for each security: every column the loader writes to
    `price_history`, as the price loads frame them (`repair` None: no bar repaired)."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2023-01-02", periods=days)
    n = len(security_ids) * days
    close = np.round(50 + rng.random(n) * 100, 6)
    spread = np.round(rng.random(n), 6)
    return pd.DataFrame(
        {
            "security_id": np.repeat(security_ids, days),
            "date": pd.Series(np.tile(dates.values, len(security_ids))).astype("date32[pyarrow]"),
            "open": close,
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.integers(1_000, 10_000_000, n),
            "data_source": "bench",
            "repair": pd.Series([None] * n, dtype=object),
        }
    )


def checkpoint(engine: Engine) -> None:
    """Flush dirty buffers first, so no phase pays for an earlier one's writes (superuser only)."""
    with engine.connect() as conn:
        try:
            conn.execute(text("CHECKPOINT"))
        except ProgrammingError:
            conn.rollback()
