"""Asset metadata shared by every domain: Dagster's standard table metadata, load counts, failures,
previews."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import Connection, Table, func, select, text

from rm_pipeline.db.loader import LoadResult
from rm_pipeline.db.models import Base
from rm_pipeline.providers.base import TickerOutcome

PREVIEW_ROWS = 10
OWNERS = ["team:data-engineering"]
WAREHOUSE_SCHEMA = "public"


def table_definition_metadata(
    table_name: str, writes: Sequence[str] | None = None
) -> dict[str, Any]:
    """`dagster/table_name` and `dagster/column_schema` of a warehouse table, from its model, so
    the UI shows the columns the migrations create, with their descriptions: every column, or
    only those the asset `writes` when it shares the table with other assets."""
    table = Base.metadata.tables[table_name]
    return {
        "dagster/table_name": f"{WAREHOUSE_SCHEMA}.{table_name}",
        "dagster/column_schema": column_schema(table, writes),
    }


def warehouse_asset(
    domain: str, table_name: str, writes: Sequence[str] | None = None
) -> dict[str, Any]:
    """The `@dg.asset` arguments every warehouse asset shares: its group and domain tag, owners,
    the `postgres` kind and the table (or the table's columns) it writes."""
    return {
        "group_name": domain,
        "kinds": {"postgres"},
        "owners": OWNERS,
        "tags": {"domain": domain},
        "metadata": table_definition_metadata(table_name, writes),
    }


def column_schema(table: Table, writes: Sequence[str] | None = None) -> dg.TableSchema:
    """The table's columns (those in `writes` only, in the table's order, when given); a name in
    `writes` that is no column of the table is refused."""
    if unknown := set(writes or ()) - set(table.columns.keys()):
        raise KeyError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=str(column.type),
                description=column.comment or column.doc,
                constraints=dg.TableColumnConstraints(
                    nullable=bool(column.nullable), unique=bool(column.primary_key)
                ),
            )
            for column in table.columns
            if writes is None or column.name in writes
        ]
    )


def column_lineage(derived: Mapping[str, Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """`dagster/column_lineage`: each written column and the (asset, column) pairs it derives
    from."""
    return {
        "dagster/column_lineage": dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=source)
                    for asset, source in sources
                ]
                for column, sources in derived.items()
            }
        )
    }


def row_count(conn: Connection, table_name: str) -> dict[str, Any]:
    """`dagster/row_count`: the table's rows now."""
    rows = conn.execute(select(func.count()).select_from(Base.metadata.tables[table_name]))
    return {"dagster/row_count": dg.MetadataValue.int(rows.scalar_one())}


LIVE_ROWS = text(
    "SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = CAST(:table AS regclass)"
)


def estimated_row_count(conn: Connection, table_name: str) -> dg.MetadataValue:
    """The table's rows as PostgreSQL's cumulative statistics count them (`n_live_tup`: every
    insert and delete counted as it commits, reset to ANALYZE's estimate when it runs), read
    without touching the table. For tables that grow without end: an exact count reads all of
    it, 2.1 s a night at 25 million bars (`bench/large_warehouse.py`)."""
    return dg.MetadataValue.int(int(conn.execute(LIVE_ROWS, {"table": table_name}).scalar_one()))


def load_metadata(result: LoadResult, prefix: str = "rows") -> dict[str, Any]:
    return {
        f"{prefix}_inserted": dg.MetadataValue.int(result.inserted),
        f"{prefix}_updated": dg.MetadataValue.int(result.updated),
        f"{prefix}_unchanged": dg.MetadataValue.int(result.unchanged),
    }


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def failed_count(failed: list[TickerOutcome]) -> dict[str, Any]:
    return {"failed_tickers": dg.MetadataValue.int(len(failed))}


def failures_metadata(failed: list[TickerOutcome]) -> dict[str, Any]:
    """The count of failed tickers and a table of them (the first 50), with their reasons."""
    table = pd.DataFrame(
        [(o.ticker, str(o.status), o.reason) for o in failed],
        columns=["ticker", "status", "reason"],
    )
    return {**failed_count(failed), "failures": preview(table, 50)}
