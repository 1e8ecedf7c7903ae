"""Shared by the benchmarks: a scratch warehouse database, a peak-memory sampler, synthetic bars of
`price_history` on securities made for them, and bulk loads of bars (binary COPY with the loader's
encoder) and of other rows (CSV COPY), with a table's keys and indexes rebuilt afterwards."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psutil
import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from rm_pipeline.db import embedded, migrate
from rm_pipeline.db.binary_copy import HEADER, TRAILER, TargetColumn, describe, frame_encoder
from rm_pipeline.db.engine import to_libpq_url
from rm_pipeline.db.loader import to_csv_bytes
from rm_pipeline.ingest.prices import PRICES
from rm_pipeline.settings import get_settings

BAR_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, PRICES.columns))
"""Every column of `price_history` the loader writes, in its order."""

KEYS_AND_INDEXES = text(
    """
    SELECT format('ALTER TABLE %I DROP CONSTRAINT %I', rel.relname, con.conname),
           format('ALTER TABLE %I ADD CONSTRAINT %I %s', rel.relname, con.conname,
                  pg_get_constraintdef(con.oid))
    FROM pg_constraint AS con JOIN pg_class AS rel ON rel.oid = con.conrelid
    WHERE rel.relname = :table AND con.contype IN ('p', 'u', 'f')
    UNION ALL
    SELECT format('DROP INDEX %I', ix.relname), pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i
    JOIN pg_class AS ix ON ix.oid = i.indexrelid
    JOIN pg_class AS rel ON rel.oid = i.indrelid
    WHERE rel.relname = :table
      AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
    """
)


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


def raw_connection(conn: Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy one."""
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def bar_columns(conn: Connection) -> list[TargetColumn]:
    """The loaded columns of `price_history` as the server describes them, for `encode_bars`."""
    with raw_connection(conn).cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {} FROM price_history LIMIT 0").format(BAR_COLUMNS))
        return describe(cursor)


def encode_bars(frame: pd.DataFrame, columns: Sequence[TargetColumn]) -> bytes:
    """The frame's bars (the columns of `PRICES`) as binary COPY tuples, by the loader's encoder;
    without the header and trailer."""
    bars = frame[list(PRICES.columns)]
    encoder = frame_encoder(bars, columns)
    assert encoder is not None, "every price column has a binary encoder"
    return bytes(encoder.encode(bars))


def copy_bars(engine: Engine, frames: Iterable[pd.DataFrame]) -> int:
    """COPY every frame's bars into `price_history` in binary, in one transaction; how many."""
    statement = sql.SQL("COPY price_history ({}) FROM STDIN (FORMAT binary)").format(BAR_COLUMNS)
    rows = 0
    with engine.begin() as conn:
        columns = bar_columns(conn)
        with raw_connection(conn).cursor() as cursor, cursor.copy(statement) as stream:
            stream.write(HEADER)
            for frame in frames:
                stream.write(encode_bars(frame, columns))
                rows += len(frame)
            stream.write(TRAILER)
    return rows


def copy_rows(
    engine: Engine, table: str, columns: Sequence[str], frames: Iterable[pd.DataFrame]
) -> None:
    """COPY the `columns` of every frame into `table` as CSV, in one transaction."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with (
        engine.begin() as conn,
        raw_connection(conn).cursor() as cursor,
        cursor.copy(statement) as stream,
    ):
        for frame in frames:
            stream.write(to_csv_bytes(frame, columns))


@contextmanager
def keys_rebuilt_afterwards(engine: Engine, table: str) -> Iterator[None]:
    """Drop the table's keys, foreign keys and indexes for a bulk load and add them back after it.

    Building an index once is much faster than maintaining it row by row, and one join checks a
    foreign key faster than a trigger per row; the definitions come from the catalog, so the
    rebuilt table is exactly the migrated one.
    """
    with engine.begin() as conn:
        definitions = conn.execute(KEYS_AND_INDEXES, {"table": table}).all()
        for drop, _ in definitions:
            conn.exec_driver_sql(drop)
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for _, create in definitions:
            conn.exec_driver_sql(create)


PORTFOLIOS_PER_USER = 5


def create_portfolios(engine: Engine, count: int) -> list[str]:
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.7)"))
        conn.execute(
            text(
                "INSERT INTO users (phone_number) "
                "SELECT '+1555' || lpad(g::text, 7, '0') FROM generate_series(1, :users) AS g"
            ),
            {"users": -(-count // PORTFOLIOS_PER_USER)},
        )
        return list(
            conn.execute(
                text(
                    "INSERT INTO portfolios (user_id, name, broker, cash_balance) "
                    "SELECT u.id, 'Bench ' || n, 'manual', round((random() * 100000)::numeric, 2) "
                    "FROM users AS u CROSS JOIN generate_series(1, :per_user) AS n "
                    "LIMIT :count RETURNING id::text"
                ),
                {"per_user": PORTFOLIOS_PER_USER, "count": count},
            ).scalars()
        )


def load_holdings(
    engine: Engine,
    portfolio_ids: list[str],
    security_ids: list[str],
    per_portfolio: int,
    rng: np.random.Generator,
) -> int:
    """`per_portfolio` distinct securities in each portfolio, one in five of them short."""
    picks = np.concatenate(
        [rng.choice(len(security_ids), per_portfolio, replace=False) for _ in portfolio_ids]
    )
    size = picks.size
    frame = pd.DataFrame(
        {
            "portfolio_id": np.repeat(portfolio_ids, per_portfolio),
            "security_id": np.asarray(security_ids)[picks],
            "side": np.where(rng.random(size) < 0.2, "short", "long"),
            "quantity": rng.integers(1, 1_000, size),
            "average_entry_price": rng.uniform(10, 500, size).round(6),
        }
    )
    copy_rows(engine, "portfolio_holdings", list(frame.columns), [frame])
    return size


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
