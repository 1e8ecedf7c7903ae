"""The loader against dlt's postgres destination, the peer a data engineer would pick.

In one run, against one scratch database, it loads the same bars (securities x trading days, every
column the loader writes to `price_history`) four ways and prints the seconds of each and the
ratios of the loader's to dlt's merge:

1. dlt, `write_disposition="merge"` on `primary_key=("security_id", "date")` (its default
   strategy, delete-insert: the rows COPY-ed into a staging table, the stored rows with their keys
   deleted, the staged ones inserted), fresh (its table empty) and again with the same rows;
2. dlt, `write_disposition="append"`, fresh, for reference;
3. the loader into `price_history` itself (its unique index, foreign key and CHECK constraints),
   fresh and again with the same rows (`upsert_frame`: the same phases as `bench/load.py`).

dlt is given the rows the fastest way its postgres destination takes them without extra drivers:
an Arrow table yielded by a resource, loaded with the `csv` loader file format (dlt writes the
table as CSV and COPYs it; its default, `insert_values`, sends INSERT statements; a pandas frame
is turned into the same Arrow table). Its table has the types dlt derives from the Arrow schema,
printed at the end: varchar for `security_id`, `data_source` and `repair`, double precision for
the prices, bigint for the volume, NOT NULL on the key, and no primary key, unique index, foreign
key or CHECK constraint, where `price_history` has three indexes, a foreign key checked row by
row, six CHECK constraints and a time-ordered UUID id (the loader makes them, `db/ids.py`). dlt runs offline: no telemetry, its
pipelines and data directories in a temporary directory, its credentials the scratch database's.
Each timed dlt run is a whole `pipeline.run()` (extract, normalize, load; its first run, which
creates its schemas and tables, is not timed), each phase after a CHECKPOINT, in several rounds;
medians are reported, with each round's ratio.

Target: the loader at least as fast as dlt's merge, fresh and unchanged (ratios <= 1.0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any, Literal, cast

import pandas as pd
import psycopg
import pyarrow as pa
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timing, checkpoint, create_securities, make_bars, measured, scratch_database

from rm_pipeline.db.engine import build_engine
from rm_pipeline.db.loader import DEFAULT_BATCH_ROWS, upsert_frame
from rm_pipeline.ingest.prices import PRICES

# Before dlt is imported: its configuration is read from the environment.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import dlt

TABLE = "bars"
MERGE_DATASET = "dlt_merge"
APPEND_DATASET = "dlt_append"
Disposition = Literal["merge", "append"]
FileFormat = Literal["csv", "insert_values"]


@dataclass(frozen=True)
class Round:
    dlt_merge_fresh: Timing
    dlt_merge_unchanged: Timing
    dlt_append_fresh: Timing
    loader_fresh: Timing
    loader_unchanged: Timing


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--securities", type=int, default=2_000, help="securities (default 2,000)")
    parser.add_argument("--days", type=int, default=500, help="trading days each (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument(
        "--loader-file-format",
        choices=("csv", "insert_values"),
        default="csv",
        help="how dlt sends the rows (default csv: COPY)",
    )
    return parser.parse_args()


def arrow_bars(frame: pd.DataFrame) -> pa.Table:
    """The bars as the Arrow table dlt is given: the key not null, `repair` text, all null."""
    schema = pa.schema(
        [
            pa.field("security_id", pa.string(), nullable=False),
            pa.field("date", pa.date32(), nullable=False),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("volume", pa.int64()),
            ("data_source", pa.string()),
            ("repair", pa.string()),
        ]
    )
    return pa.Table.from_pandas(frame[list(PRICES.columns)], schema=schema, preserve_index=False)


def dlt_credentials(url: str) -> dict[str, Any]:
    """The scratch database's connection as dlt's postgres credentials. dlt wants a password (libpq
    read it from the URL's passfile) and a host: a server on a Unix socket has its directory in
    the query, which libpq takes over the URL's host."""
    with psycopg.connect(url) as conn:
        info = conn.info
        return {
            "database": info.dbname,
            "username": info.user,
            "password": info.password,
            "host": "localhost",
            "port": info.port,
            "query": {"host": info.host},
        }


def dlt_pipeline(name: str, dataset: str, credentials: dict[str, Any], home: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(home / "pipelines"),
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name=dataset,
    )


def dlt_run(
    pipeline: dlt.Pipeline, table: pa.Table, write_disposition: Disposition, file_format: FileFormat
) -> None:
    """One whole dlt run of the table, as its users write it: a resource yielding the table."""

    @dlt.resource(name=TABLE, write_disposition=write_disposition)
    def bars() -> Iterator[pa.Table]:
        yield table

    resource = bars()
    if write_disposition == "merge":
        resource.apply_hints(primary_key=list(PRICES.key_columns))
    pipeline.run(resource, loader_file_format=file_format)


def truncate(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {table}"))


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def timed(engine: Engine, load: Callable[[], object]) -> Timing:
    checkpoint(engine)
    with measured() as timing:
        load()
    return timing


def one_round(
    engine: Engine,
    frame: pd.DataFrame,
    table: pa.Table,
    merge: dlt.Pipeline,
    append: dlt.Pipeline,
    file_format: FileFormat,
) -> Round:
    rows = len(frame)
    merged = f"{MERGE_DATASET}.{TABLE}"
    appended = f"{APPEND_DATASET}.{TABLE}"

    truncate(engine, merged)
    merge_fresh = timed(engine, lambda: dlt_run(merge, table, "merge", file_format))
    assert count(engine, merged) == rows
    merge_unchanged = timed(engine, lambda: dlt_run(merge, table, "merge", file_format))
    assert count(engine, merged) == rows

    truncate(engine, appended)
    append_fresh = timed(engine, lambda: dlt_run(append, table, "append", file_format))
    assert count(engine, appended) == rows

    def load() -> None:
        with engine.begin() as conn:
            result = upsert_frame(conn, frame, PRICES, batch_rows=DEFAULT_BATCH_ROWS)
        loaded.append(result)

    loaded: list[Any] = []
    truncate(engine, "price_history")
    loader_fresh = timed(engine, load)
    loader_unchanged = timed(engine, load)
    assert loaded[0].inserted == rows and loaded[1].unchanged == rows, loaded
    return Round(merge_fresh, merge_unchanged, append_fresh, loader_fresh, loader_unchanged)


def column_types(engine: Engine, schema: str) -> str:
    """dlt's table as it created it: its columns' types and nullability, its constraints other
    than NOT NULL, and its indexes."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = :schema AND table_name = :table ORDER BY ordinal_position"
            ),
            {"schema": schema, "table": TABLE},
        ).all()
        constraints = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = CAST(:name AS regclass) AND contype <> 'n'"
            ),
            {"name": f"{schema}.{TABLE}"},
        ).scalars()
        indexes = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = :schema AND tablename = :table"
            ),
            {"schema": schema, "table": TABLE},
        ).scalars()
        columns = ", ".join(
            f"{name} {data_type}{' not null' if nullable == 'NO' else ''}"
            for name, data_type, nullable in found
        )
        return (
            f"{columns}; constraints: {'; '.join(constraints) or 'none'};"
            f" indexes: {'; '.join(indexes) or 'none'}"
        )


def main() -> None:
    args = parse_args()
    with scratch_database() as url, tempfile.TemporaryDirectory(prefix="rm_bench_dlt_") as home:
        os.environ["DLT_DATA_DIR"] = str(Path(home) / "data")
        engine = build_engine(url)
        frame = make_bars(create_securities(engine, args.securities), args.days)
        table = arrow_bars(frame)
        rows = len(frame)
        print(
            f"{rows:,} rows: {args.securities:,} securities x {args.days} days; dlt {dlt.__version__}"
            f" ({args.loader_file_format} from an Arrow table); {args.rounds} rounds, medians shown"
        )
        credentials = dlt_credentials(url)
        merge = dlt_pipeline("bench_merge", MERGE_DATASET, credentials, Path(home))
        append = dlt_pipeline("bench_append", APPEND_DATASET, credentials, Path(home))
        # dlt's first run creates its schemas, tables and state: not timed.
        file_format = cast(FileFormat, args.loader_file_format)
        dlt_run(merge, table.slice(0, 1), "merge", file_format)
        dlt_run(append, table.slice(0, 1), "append", file_format)
        rounds = [
            one_round(engine, frame, table, merge, append, file_format) for _ in range(args.rounds)
        ]
        types = column_types(engine, MERGE_DATASET)
        engine.dispose()

    def seconds(phase: str) -> float:
        return median(getattr(r, phase).seconds for r in rounds)

    phases = {
        "dlt merge, fresh": "dlt_merge_fresh",
        "dlt merge, unchanged": "dlt_merge_unchanged",
        "dlt append, fresh (reference)": "dlt_append_fresh",
        "loader, fresh": "loader_fresh",
        "loader, unchanged": "loader_unchanged",
    }
    print(f"{'':<32} {'seconds':>8}  {'rows/s':>10}  rounds")
    for name, phase in phases.items():
        each = ", ".join(f"{getattr(r, phase).seconds:.2f}" for r in rounds)
        print(f"{name:<32} {seconds(phase):>8.2f}  {rows / seconds(phase):>10,.0f}  {each}")
    for state in ("fresh", "unchanged"):
        ratio = seconds(f"loader_{state}") / seconds(f"dlt_merge_{state}")
        per_round = ", ".join(
            f"{getattr(r, f'loader_{state}').seconds / getattr(r, f'dlt_merge_{state}').seconds:.2f}"
            for r in rounds
        )
        print(
            f"loader / dlt merge, {state:<9}     {ratio:6.2f}x  (target <= 1.0; rounds: {per_round})"
        )
    print(f"dlt's table: {types}")


if __name__ == "__main__":
    main()
