"""Every warehouse column carries a description, and the Dagster UI shows it."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import Column

from rm_pipeline.db.models import Base
from rm_pipeline.defs.metadata import table_definition_metadata

# The quarantine's model describes its own columns.
DESCRIBED_ELSEWHERE = {"quarantine"}

COLUMNS = [
    pytest.param(column, id=f"{table.name}.{column.name}")
    for table in Base.metadata.sorted_tables
    if table.name not in DESCRIBED_ELSEWHERE
    for column in table.columns
]


def description(column: Column[object]) -> str:
    return (column.comment or column.doc or "").strip()


@pytest.mark.parametrize("column", COLUMNS)
def test_every_column_is_described(column: Column[object]) -> None:
    assert description(column), f"{column.table.name}.{column.name} has no description"


def test_the_column_schema_of_an_asset_carries_the_descriptions() -> None:
    schema = table_definition_metadata("price_history")["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert schema.columns
    undescribed = [c.name for c in schema.columns if not (c.description or "").strip()]
    assert not undescribed, f"price_history columns without a description: {undescribed}"
