"""Bulk-load benchmark: the project's loader against the server's own COPY and `to_sql`.

In one run, against one scratch database, it loads the same rows of `price_history` (securities x
trading days) five ways and prints rows per second and the ratios to the first:

1. raw CSV COPY, the baseline: rows already serialized as CSV, sent straight into the table;
2. raw binary COPY: rows already encoded by the loader's binary encoder, straight into the table;
3. the loader, fresh: from a DataFrame, binary COPY into staging and INSERT ... ON CONFLICT;
4. the loader again with the same rows (every row a conflict, nothing changed);
5. `DataFrame.to_sql(method="multi")` on a slice (it is slow; its rate is per row all the same).

The first four run in several rounds (each after a CHECKPOINT, so no phase pays for another's
writes) and the medians are reported, with each round's loader/CSV COPY ratio: on a shared machine a
single round can be off by 20%.

Targets: fresh loader >= 1.0x raw CSV COPY and >= 10x to_sql; unchanged reload >= 1.5x the fresh
load.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import pandas as pd
from psycopg import sql
from sqlalchemy import Engine, Uuid, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BAR_COLUMNS,
    Timing,
    bar_columns,
    checkpoint,
    create_securities,
    encode_bars,
    make_bars,
    measured,
    raw_connection,
    scratch_database,
)

from rm_pipeline.db.binary_copy import HEADER, TRAILER
from rm_pipeline.db.engine import build_engine
from rm_pipeline.db.loader import DEFAULT_BATCH_ROWS, to_csv_bytes, upsert_frame
from rm_pipeline.ingest.prices import PRICES

COPY = "COPY price_history ({}) FROM STDIN (FORMAT {})"
CHUNK = 8 * 2**20


@dataclass(frozen=True)
class Round:
    csv_copy: Timing
    binary_copy: Timing
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


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE price_history"))


def binary_payload(engine: Engine, frame: pd.DataFrame) -> bytes:
    """The frame as the loader's binary COPY data for `price_history`, header and trailer included."""
    with engine.connect() as conn:
        columns = bar_columns(conn)
    return HEADER + encode_bars(frame, columns) + TRAILER


def raw_copy(engine: Engine, copy_format: str, payload: bytes) -> None:
    """COPY the payload straight into price_history, in chunks as a client streams it."""
    statement = sql.SQL(COPY).format(BAR_COLUMNS, sql.SQL(copy_format))
    with (
        engine.begin() as conn,
        raw_connection(conn).cursor() as cursor,
        cursor.copy(statement) as stream,
    ):
        for start in range(0, len(payload), CHUNK):
            stream.write(payload[start : start + CHUNK])


def timed_raw_copy(engine: Engine, copy_format: str, payload: bytes) -> Timing:
    truncate(engine)
    checkpoint(engine)
    with measured() as timing:
        raw_copy(engine, copy_format, payload)
    return timing


def one_round(
    engine: Engine, frame: pd.DataFrame, csv: bytes, binary: bytes, batch_rows: int
) -> Round:
    """Raw CSV COPY, raw binary COPY, the loader fresh, then the loader again on the same rows."""
    csv_copy = timed_raw_copy(engine, "csv", csv)
    binary_copy = timed_raw_copy(engine, "binary", binary)
    truncate(engine)
    checkpoint(engine)
    with measured() as fresh, engine.begin() as conn:
        fresh_result = upsert_frame(conn, frame, PRICES, batch_rows=batch_rows)
    assert fresh_result.inserted == len(frame), fresh_result
    checkpoint(engine)
    with measured() as reload, engine.begin() as conn:
        reload_result = upsert_frame(conn, frame, PRICES, batch_rows=batch_rows)
    assert reload_result.unchanged == len(frame), reload_result
    return Round(csv_copy, binary_copy, fresh, reload)


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
        csv = to_csv_bytes(frame, PRICES.columns)
        binary = binary_payload(engine, frame)
        rounds = [
            one_round(engine, frame, csv, binary, args.batch_rows) for _ in range(args.rounds)
        ]
        sample = frame.iloc[: args.to_sql_rows]
        to_sql = time_to_sql(engine, sample)
        engine.dispose()

    def rate(phase: str) -> float:
        return median(rows / getattr(r, phase).seconds for r in rounds)

    baseline, fresh, reload = rate("csv_copy"), rate("fresh"), rate("reload")
    to_sql_rate = len(sample) / to_sql.seconds
    rates = {
        "raw CSV COPY (baseline)": baseline,
        "raw binary COPY": rate("binary_copy"),
        "loader, fresh": fresh,
        "loader, unchanged reload": reload,
        f"to_sql multi ({len(sample):,} rows)": to_sql_rate,
    }
    print(f"{'':<32} {'rows/s':>12}  {'/ CSV COPY':>10}")
    for name, value in rates.items():
        print(f"{name:<32} {value:>12,.0f}  {value / baseline:>9.2f}x")
    per_round = ", ".join(f"{r.csv_copy.seconds / r.fresh.seconds:.2f}" for r in rounds)
    print(
        f"fresh loader / raw CSV COPY     {fresh / baseline:6.2f}x  "
        f"(target >= 1.0; rounds: {per_round})"
    )
    print(f"fresh loader / to_sql           {fresh / to_sql_rate:6.1f}x  (target >= 10)")
    print(f"unchanged reload / fresh load   {reload / fresh:6.2f}x  (target >= 1.5)")
    peak = max(r.fresh.peak_rss_mb for r in rounds)
    print(f"peak RSS during a fresh load    {peak:,.0f} MB (the {rows:,}-row frame included)")


if __name__ == "__main__":
    main()
