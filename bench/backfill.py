"""Pipeline benchmark: `make run`, a backfill at scale and the nightly run, against baselines
measured in the same run.

Every scenario runs the real pipeline, as a user runs it, on its own embedded PostgreSQL in a
scratch data directory (DATABASE_URL is ignored), with the synthetic provider:

1. `make run`: `rm-pipeline run` on a fresh data directory with the default universe, then again
   with nothing to change. Prints each run's wall time and its breakdown by job and step, read
   back from the Dagster instance. Targets: the first within 20 s, the second faster still.
2. Backfill: `rm-pipeline run --no-demo` (the securities and the prices as one range run, then
   the checks and the analytics, each run's steps timed) for --securities securities and --years
   years of history on a fresh data directory, against the fastest honest baseline: a raw binary
   COPY of the same rows, every column, into an empty copy of `price_history` (same indexes, same
   foreign key, same constraints) on the same server, after a CHECKPOINT (so that the baseline
   does not pay for flushing the pipeline's own dirty pages), over one connection and split by
   security over two at once (`COPY_CONNECTIONS`); the faster is the baseline. Target: at most
   2x. The peak resident memory of its largest process is printed beside that of the same load
   over --short-years: it must not grow with the years loaded (within 10%).
3. Nightly: in both warehouses (the long and the short history), the latest day is removed and
   loaded again as the nightly schedule loads it (one partition of `ingest_price_history`), then
   the analytics of `refresh_analytics` run, as the automation materializes them. Target: the
   long history's night within 20% of the short one's.

`--executor multiprocess` runs every scenario's steps a process each (`RM_EXECUTOR`), so the
price load's batches are steps that may run side by side, as many as `--price-loads` lets them
(the `price_loads` pool's limit, one in dagster.yaml).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psutil
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import measured

from rm_pipeline.db import embedded
from rm_pipeline.db.engine import warehouse_url
from rm_pipeline.db.models import Base
from rm_pipeline.defs.jobs import ANALYTICS
from rm_pipeline.defs.market.assets import PRICE_LOADS_POOL
from rm_pipeline.defs.partitions import nearest_weekday, range_tags
from rm_pipeline.launch import prepare_dagster, run_session
from rm_pipeline.providers.universe import default_tickers
from rm_pipeline.settings import get_settings

RM_PIPELINE = str(Path(sys.executable).parent / "rm-pipeline")
ALL_COLUMNS = ", ".join(Base.metadata.tables["price_history"].columns.keys())
"""Every column of `price_history`, as the pipeline's rows fill them."""
MAKE_RUN_TARGET_SECONDS = 20.0
BACKFILL_TARGET_RATIO = 2.0
NIGHTLY_TOLERANCE = 0.20
MEMORY_TOLERANCE = 0.10
"""Flat memory: the long history's peak within 10% of the short one's, with 7.5 times the years
(what remains is Dagster's per-partition events, 3,913 partitions against 522)."""


@dataclass
class Measured:
    """A command's wall time and the peak resident memory of its largest process."""

    seconds: float
    peak_rss_mb: float = 0.0
    output: str = ""


@dataclass
class Scenario:
    """One scratch data directory and the environment every command of it runs with."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def active(self) -> Iterator[None]:
        """This scenario's settings in this process (for the Dagster instance and the
        warehouse), restored afterwards."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        get_settings.cache_clear()
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()


def scenario(root: Path, name: str, **settings: str) -> Scenario:
    data_dir = root / name
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RM_DATABASE_URL")}
    env |= {"RM_DATA_DIR": str(data_dir), "RM_PROVIDER": "synthetic", **settings}
    return Scenario(data_dir, env)


def run_command(arguments: list[str], scenario: Scenario) -> Measured:
    """Run an `rm-pipeline` command to completion; its peak memory is that of the largest
    process running with the scenario's data directory (the runs execute in processes of their
    own, not children of the command)."""
    with measured(lambda: largest_resident_mb(scenario), interval=0.2) as timing:
        result = subprocess.run(
            [RM_PIPELINE, *arguments], env=scenario.env, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return Measured(timing.seconds, timing.peak_rss_mb, result.stdout)


def breakdown(scenario: Scenario, since: float, total: float) -> list[str]:
    """Each run created after `since` (a Unix time): its duration and its steps'; then what
    the command spent outside its runs (`total` seconds in all)."""
    lines = []
    in_runs = 0.0
    with scenario.active():
        instance = prepare_dagster(get_settings())
        records = instance.get_run_records(
            filters=dg.RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC))
        )
        for record in sorted(records, key=lambda r: r.create_timestamp):
            run_seconds = (record.end_time or 0) - (record.start_time or 0)
            in_runs += run_seconds
            lines.append(f"    {record.dagster_run.job_name}: {run_seconds:.1f} s in the run")
            for step in instance.get_run_step_stats(record.dagster_run.run_id):
                step_seconds = (step.end_time or 0) - (step.start_time or 0)
                lines.append(f"      step {step.step_key}: {step_seconds:.1f} s")
    lines.append(
        f"    outside the runs (database, migrations, demo, starting the code server and each "
        f"run's process): {total - in_runs:.1f} s"
    )
    return lines


COPY_CONNECTIONS = (1, 2)
"""The raw COPYs measured: over one connection, and split by security over two at once (one per
core here, as the loader writes two batches at once); the faster is the baseline."""


def raw_copy_seconds(scenario: Scenario, connections: int) -> tuple[float, int]:
    """Seconds to COPY every stored bar, every column, into an empty copy of `price_history`
    with the same indexes, foreign key and constraints, on the same server, after a CHECKPOINT.
    The bars are read out first, untimed, in binary (the faster format: 13.0-13.9 s against
    15.6-16.5 s as CSV for 1,887,157 bars here), each connection's share by security and date;
    the shares are then copied in at once, each over a connection of its own."""
    url = warehouse_url_of(scenario)
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute("CREATE TABLE bench_raw_copy (LIKE price_history INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_raw_copy ADD FOREIGN KEY (security_id) "
            "REFERENCES securities (id) ON DELETE CASCADE"
        )
        conn.commit()
        shares = [read_share(conn, share, connections) for share in range(connections)]
        conn.execute("CHECKPOINT")
        conn.commit()
    writers = [psycopg.connect(url) for _ in shares]
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(shares)) as pool:
            list(pool.map(copy_share, writers, shares))
        seconds = time.perf_counter() - started
    finally:
        for writer in writers:
            writer.close()
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM bench_raw_copy").fetchone()
        conn.execute("DROP TABLE bench_raw_copy")
    return seconds, int(rows[0] if rows else 0)


def warehouse_url_of(scenario: Scenario) -> str:
    with scenario.active():
        return warehouse_url(get_settings())


def read_share(conn: psycopg.Connection, share: int, shares: int) -> bytes:
    """The bars of every `shares`-th security (from the `share`-th), as binary COPY data."""
    out = io.BytesIO()
    query = sql.SQL(
        "COPY (SELECT {columns} FROM price_history WHERE security_id IN "
        "(SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM securities) AS s "
        "WHERE s.n %% %s = %s) ORDER BY security_id, date) TO STDOUT (FORMAT binary)"
    ).format(columns=sql.SQL(ALL_COLUMNS))
    with conn.cursor().copy(query, (shares, share)) as copy:
        for chunk in copy:
            out.write(chunk)
    return out.getvalue()


def copy_share(conn: psycopg.Connection, bars: bytes) -> None:
    with conn.cursor().copy(
        f"COPY bench_raw_copy ({ALL_COLUMNS}) FROM STDIN (FORMAT binary)"
    ) as copy:
        for start in range(0, len(bars), 1 << 20):
            copy.write(bars[start : start + (1 << 20)])
    conn.commit()


ANALYTICS_STEPS = tuple(asset.key.to_user_string() for asset in ANALYTICS)
"""The analytics without the price checks ahead of them in `refresh_analytics`: at night the
schedule's run checks the prices and the automation sensor materializes the analytics alone."""


def night(scenario: Scenario) -> tuple[float, float]:
    """Remove the latest day's bars and load that day again as the nightly schedule does, then
    refresh the analytics as the automation does; the two runs' wall times, launch included."""
    with scenario.active():
        settings = get_settings()
        with psycopg.connect(warehouse_url(settings)) as conn:
            latest = conn.execute("SELECT max(date) FROM price_history").fetchone()
            assert latest and latest[0], "no prices stored"
            day: date = latest[0]
            conn.execute("DELETE FROM price_history WHERE date = %s", (day,))
        partition = nearest_weekday(day, step=-1).isoformat()
        started = time.perf_counter()
        with run_session(settings, progress=lambda _line: None) as session:
            prices = session.launch("ingest_price_history", range_tags(partition, partition))
            loaded = time.perf_counter()
            analytics = session.launch("refresh_analytics", steps=ANALYTICS_STEPS)
            finished = time.perf_counter()
        assert prices.success and analytics.success, "the nightly runs failed"
    return loaded - started, finished - loaded


def scenario_processes(scenario: Scenario) -> list[psutil.Process]:
    """Every process running with the scenario's data directory, its database server's too."""
    wanted = str(scenario.data_dir)
    return [
        process
        for process in psutil.process_iter(["environ", "name", "memory_info"])
        if (process.info.get("environ") or {}).get("RM_DATA_DIR") == wanted
    ]


def largest_resident_mb(scenario: Scenario) -> float:
    """The resident memory of the scenario's largest process, in MB (0 when none runs)."""
    sizes = [
        p.info["memory_info"].rss for p in scenario_processes(scenario) if p.info["memory_info"]
    ]
    return max(sizes, default=0) / 2**20


def stop_server(scenario: Scenario, timeout_seconds: float = 120) -> None:
    """Stop the scenario's database server once its code servers have exited (each lingers for
    a while after its last run) and nothing else of it is left."""
    deadline = time.monotonic() + timeout_seconds
    while (
        any(p.info["name"] != "postgres" for p in scenario_processes(scenario))
        and time.monotonic() < deadline
    ):
        time.sleep(1)
    embedded.stop(scenario.data_dir.resolve() / "pgdata")


def universe_file(root: Path, securities: int) -> Path:
    """A universe of the default tickers, topped up with made-up US symbols."""
    tickers = list(default_tickers())[:securities]
    tickers += [f"ZB{number:04d}" for number in range(securities - len(tickers))]
    path = root / f"universe-{securities}.yaml"
    path.write_text("securities:\n" + "".join(f"  - {ticker}\n" for ticker in tickers))
    return path


def history_start(years: float) -> str:
    return (date.today() - timedelta(days=round(years * 365.25))).isoformat()


def verdict(passed: bool) -> str:
    return "met" if passed else "NOT met"


def bench_make_run(root: Path) -> None:
    print("1. make run (rm-pipeline run, default universe, fresh data directory)", flush=True)
    case = scenario(root, "make-run")
    for label in ("fresh", "no change"):
        since = time.time()
        measured = run_command(["run"], case)
        print(f"  {label}: {measured.seconds:.1f} s")
        print("\n".join(breakdown(case, since, measured.seconds)))
        if label == "fresh":
            first = measured.seconds
    print(
        f"  target: fresh within {MAKE_RUN_TARGET_SECONDS:.0f} s "
        f"({verdict(first <= MAKE_RUN_TARGET_SECONDS)}), no change faster "
        f"({verdict(measured.seconds < first)})"
    )
    stop_server(case)


def allow_price_batches(case: Scenario, limit: int) -> None:
    """Let `limit` price batches load at once in the scenario's Dagster instance (the limit of
    the `price_loads` pool, as `dagster instance concurrency set` sets it)."""
    with case.active():
        storage = prepare_dagster(get_settings()).event_log_storage
        storage.set_concurrency_slots(PRICE_LOADS_POOL, limit)


def load(
    root: Path, name: str, securities: Path, years: float, price_loads: int | None
) -> tuple[Scenario, Measured]:
    case = scenario(
        root,
        name,
        RM_UNIVERSE_FILE=str(securities),
        RM_HISTORY_START=history_start(years),
        RM_HISTORY_YEARS=str(years),
    )
    if price_loads:
        allow_price_batches(case, price_loads)
    return case, run_command(["run", "--no-demo"], case)


def bench_backfill(
    root: Path, securities: int, years: float, short_years: float, price_loads: int | None
) -> None:
    universe = universe_file(root, securities)
    print(f"\n2. backfill: {securities} securities x {years:g} years, fresh", flush=True)
    since = time.time()
    long_case, long_load = load(root, "long", universe, years, price_loads)
    copies = {n: raw_copy_seconds(long_case, n) for n in COPY_CONNECTIONS}
    copy_seconds = min(seconds for seconds, _rows in copies.values())
    ratio = long_load.seconds / copy_seconds
    print(f"  pipeline (securities and prices, checks, analytics): {long_load.seconds:.1f} s")
    print("\n".join(breakdown(long_case, since, long_load.seconds)))
    for n, (seconds, rows) in copies.items():
        over = "one connection" if n == 1 else f"{n} connections at once"
        print(
            f"  raw binary COPY of the same {rows:,} bars into a copy of price_history, over "
            f"{over}: {seconds:.1f} s (pipeline {long_load.seconds / seconds:.2f}x)"
        )
    print(
        f"  ratio to the faster {ratio:.2f}x, target at most {BACKFILL_TARGET_RATIO:g}x: "
        f"{verdict(ratio <= BACKFILL_TARGET_RATIO)}"
    )
    long_night = night(long_case)
    stop_server(long_case)

    print(f"\n   the same securities x {short_years:g} years, fresh", flush=True)
    short_case, short_load = load(root, "short", universe, short_years, price_loads)
    print(f"  pipeline: {short_load.seconds:.1f} s")
    memory = long_load.peak_rss_mb / short_load.peak_rss_mb
    print(
        f"  peak RSS of the largest process: {long_load.peak_rss_mb:.0f} MB for {years:g} years, "
        f"{short_load.peak_rss_mb:.0f} MB for {short_years:g} years (ratio {memory:.2f}, "
        f"target flat, within {MEMORY_TOLERANCE:.0%}: {verdict(memory <= 1 + MEMORY_TOLERANCE)})"
    )
    short_night = night(short_case)
    stop_server(short_case)

    print("\n3. nightly: the latest day again, then the analytics", flush=True)
    for label, (prices, analytics) in (
        (f"{short_years:g} years stored", short_night),
        (f"{years:g} years stored", long_night),
    ):
        print(f"  {label}: price run {prices:.1f} s, analytics {analytics:.1f} s")
    ratio = sum(long_night) / sum(short_night)
    print(
        f"  ratio {ratio:.2f}, target within {NIGHTLY_TOLERANCE:.0%}: "
        f"{verdict(abs(ratio - 1) <= NIGHTLY_TOLERANCE)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--securities", type=int, default=500, help="universe size (500)")
    parser.add_argument("--years", type=float, default=15, help="long history in years (15)")
    parser.add_argument("--short-years", type=float, default=2, help="short history (2)")
    parser.add_argument("--skip-make-run", action="store_true", help="only scenarios 2 and 3")
    parser.add_argument(
        "--executor",
        choices=["in_process", "multiprocess"],
        help="RM_EXECUTOR of every scenario's runs (default: as the environment says)",
    )
    parser.add_argument(
        "--price-loads",
        type=int,
        help="price batches loading at once (the price_loads pool's limit; dagster.yaml: 1)",
    )
    options = parser.parse_args()
    if options.executor:
        os.environ["RM_EXECUTOR"] = options.executor  # every scenario's environment copies it
    print(
        f"executor: {os.environ.get('RM_EXECUTOR', 'in_process (RM_EXECUTOR unset)')}, "
        f"price batches at once: {options.price_loads or 1}"
    )
    with tempfile.TemporaryDirectory(prefix="rm-bench-") as scratch:
        root = Path(scratch)
        if not options.skip_make_run:
            bench_make_run(root)
        bench_backfill(
            root, options.securities, options.years, options.short_years, options.price_loads
        )


if __name__ == "__main__":
    main()
