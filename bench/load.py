"""Bulk-load benchmark: the project's loader against `to_sql` and the server's own COPY limit.

In one run, against one scratch database, it loads the same rows of `price_history` (securities x
trading days) four ways and prints rows per second and the ratios:

1. raw COPY: rows already serialized as CSV, sent straight into the table (the server's limit);
2. the loader, fresh: from a DataFrame, through staging and INSERT ... ON CONFLICT;
3. the loader again with the same rows (every row a conflict, nothing changed);
4. `DataFrame.to_sql(method="multi")` on a slice (it is slow; its rate is per row all the same).

The first three run in several rounds (each after a CHECKPOINT, so no phase pays for another's
writes) and the medians are reported, with each round's loader/COPY ratio: on a shared machine a
single round can be off by 20%.

Targets: fresh loader >= 0.7x raw COPY and >= 10x to_sql; unchanged reload >= 1.5x the fresh load.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Uuid, text
from sqlalchemy.exc import ProgrammingError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timing, measured, scratch_database

from rm_pipeline.db.engine import build_engine
from rm_pipeline.db.loader import DEFAULT_BATCH_ROWS, to_csv_bytes, upsert_frame
from rm_pipeline.ingest.prices import PRICES


@dataclass(frozen=True)
class Round:
    copy: Timing
    fresh: Timing
    reload: Timing


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--securities", type=int, default=2_000, help="securities (default 2,000)")
    parser.add_argument("--days", type=int, default=500, help="trading days each (default 500)")
    parser.add_argument(
        "--to-sql-rows",
        type=int,
        default=50_000,
        help="rows for the to_sql baseline (default 50,000)",
    )
    parser.add_argument(
        "--batch-rows", type=int, default=DEFAULT_BATCH_ROWS, help="loader batch size"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    return parser.parse_args()


def create_securities(engine: Engine, count: int) -> list[str]:
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
        }
    )


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE price_history"))


def raw_copy(engine: Engine, payload: bytes) -> None:
    columns = ", ".join(PRICES.columns)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY price_history ({columns}) FROM STDIN (FORMAT csv)") as stream,
        ):
            for start in range(0, len(payload), 8 * 2**20):
                stream.write(payload[start : start + 8 * 2**20])


def checkpoint(engine: Engine) -> None:
    """Flush dirty buffers first, so no phase pays for an earlier one's writes (superuser only)."""
    with engine.connect() as conn:
        try:
            conn.execute(text("CHECKPOINT"))
        except ProgrammingError:
            conn.rollback()


def one_round(engine: Engine, frame: pd.DataFrame, payload: bytes, batch_rows: int) -> Round:
    """Raw COPY, then the loader fresh, then the loader again on the same rows (all unchanged)."""
    truncate(engine)
    checkpoint(engine)
    with measured() as copy_time:
        raw_copy(engine, payload)
    truncate(engine)
    checkpoint(engine)
    with measured() as fresh, engine.begin() as conn:
        fresh_result = upsert_frame(conn, frame, PRICES, batch_rows=batch_rows)
    assert fresh_result.inserted == len(frame), fresh_result
    checkpoint(engine)
    with measured() as reload, engine.begin() as conn:
        reload_result = upsert_frame(conn, frame, PRICES, batch_rows=batch_rows)
    assert reload_result.unchanged == len(frame), reload_result
    return Round(copy_time, fresh, reload)


def time_to_sql(engine: Engine, sample: pd.DataFrame) -> Timing:
    truncate(engine)
    with measured() as timing:
        sample.to_sql(
            "price_history",
            engine,
            dtype={"security_id": Uuid(as_uuid=False)},
            if_exists="append",
            index=False,
            method="multi",
            chunksize=1_000,
        )
    return timing


def main() -> None:
    args = parse_args()
    with scratch_database() as url:
        engine = build_engine(url)
        frame = make_bars(create_securities(engine, args.securities), args.days)
        rows = len(frame)
        print(
            f"{rows:,} rows: {args.securities:,} securities x {args.days} days; "
            f"batch {args.batch_rows:,} rows; {args.rounds} rounds, medians shown"
        )
        payload = to_csv_bytes(frame, PRICES.columns)
        rounds = [one_round(engine, frame, payload, args.batch_rows) for _ in range(args.rounds)]
        sample = frame.iloc[: args.to_sql_rows]
        to_sql = time_to_sql(engine, sample)
        engine.dispose()

    copy_rate = median(rows / r.copy.seconds for r in rounds)
    fresh_rate = median(rows / r.fresh.seconds for r in rounds)
    reload_rate = median(rows / r.reload.seconds for r in rounds)
    to_sql_rate = len(sample) / to_sql.seconds
    print(f"{'raw COPY (server limit)':<32} {copy_rate:>12,.0f} rows/s")
    print(f"{'loader, fresh':<32} {fresh_rate:>12,.0f} rows/s")
    print(f"{'loader, unchanged reload':<32} {reload_rate:>12,.0f} rows/s")
    print(f"{f'to_sql multi ({len(sample):,} rows)':<32} {to_sql_rate:>12,.0f} rows/s")
    per_round = ", ".join(f"{r.copy.seconds / r.fresh.seconds:.2f}" for r in rounds)
    print(
        f"fresh loader / raw COPY         {fresh_rate / copy_rate:6.2f}x  (target >= 0.7; rounds: {per_round})"
    )
    print(f"fresh loader / to_sql           {fresh_rate / to_sql_rate:6.1f}x  (target >= 10)")
    print(f"unchanged reload / fresh load   {reload_rate / fresh_rate:6.2f}x  (target >= 1.5)")
    peak = max(r.fresh.peak_rss_mb for r in rounds)
    print(f"peak RSS during a fresh load    {peak:,.0f} MB (the {rows:,}-row frame included)")


if __name__ == "__main__":
    main()
