"""Bulk-load benchmark: the project's loader against `to_sql` and the server's own COPY limit.

In one run, against one scratch database, it loads the same rows of `price_history` (securities x
trading days) four ways and prints rows per second and the ratios:

1. raw COPY: rows already serialized as CSV, sent straight into the table (the server's limit);
2. the loader, fresh: from a DataFrame, through staging and INSERT ... ON CONFLICT;
3. the loader again with the same rows (every row a conflict, nothing changed);
4. `DataFrame.to_sql(method="multi")` on a slice (it is slow; its rate is per row all the same).

Targets: fresh loader >= 0.7x raw COPY and >= 10x to_sql; unchanged reload >= 1.5x the fresh load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Uuid, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import measured, scratch_database

from rm_pipeline.db.engine import build_engine
from rm_pipeline.db.loader import DEFAULT_BATCH_ROWS, to_csv_bytes, upsert_frame
from rm_pipeline.ingest.prices import PRICES


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


def main() -> None:
    args = parse_args()
    with scratch_database() as url:
        engine = build_engine(url)
        frame = make_bars(create_securities(engine, args.securities), args.days)
        rows = len(frame)
        print(
            f"{rows:,} rows: {args.securities:,} securities x {args.days} days; batch {args.batch_rows:,} rows"
        )
        payload = to_csv_bytes(frame, PRICES.columns)

        with measured() as copy_time:
            raw_copy(engine, payload)
        del payload
        truncate(engine)

        with measured() as fresh, engine.begin() as conn:
            fresh_result = upsert_frame(conn, frame, PRICES, batch_rows=args.batch_rows)
        assert fresh_result.inserted == rows, fresh_result
        with measured() as reload, engine.begin() as conn:
            reload_result = upsert_frame(conn, frame, PRICES, batch_rows=args.batch_rows)
        assert reload_result.unchanged == rows, reload_result
        truncate(engine)

        sample = frame.iloc[: args.to_sql_rows]
        with measured() as to_sql:
            sample.to_sql(
                "price_history",
                engine,
                dtype={"security_id": Uuid(as_uuid=False)},
                if_exists="append",
                index=False,
                method="multi",
                chunksize=1_000,
            )
        engine.dispose()

    rate = {
        "raw COPY (server limit)": rows / copy_time.seconds,
        "loader, fresh": rows / fresh.seconds,
        "loader, unchanged reload": rows / reload.seconds,
        f"to_sql multi ({len(sample):,} rows)": len(sample) / to_sql.seconds,
    }
    for name, value in rate.items():
        print(f"{name:<32} {value:>12,.0f} rows/s")
    fresh_rate, copy_rate = rate["loader, fresh"], rate["raw COPY (server limit)"]
    to_sql_rate = rate[f"to_sql multi ({len(sample):,} rows)"]
    print(f"fresh loader / raw COPY         {fresh_rate / copy_rate:6.2f}x  (target >= 0.7)")
    print(f"fresh loader / to_sql           {fresh_rate / to_sql_rate:6.1f}x  (target >= 10)")
    print(
        f"unchanged reload / fresh load   {rate['loader, unchanged reload'] / fresh_rate:6.2f}x  (target >= 1.5)"
    )
    print(f"peak RSS during the fresh load  {fresh.peak_rss_mb:,.0f} MB (frame and all)")


if __name__ == "__main__":
    main()
