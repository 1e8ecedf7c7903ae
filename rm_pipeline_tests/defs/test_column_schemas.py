"""Each asset's column schema lists the columns it writes, each one set by the SQL that writes
it; the columns derived from another asset's name where they come from."""

from __future__ import annotations

import re

import dagster as dg
import pytest
from sqlalchemy import TextClause

from rm_pipeline.app.analysis_store import ANALYSIS_COLUMNS, WRITE_TRADES_SQL
from rm_pipeline.definitions import defs
from rm_pipeline.defs.analytics.assets import MARKET_STATS_LINEAGE
from rm_pipeline.holdings.sync import HOLDINGS_COLUMNS, UPSERT_HOLDINGS
from rm_pipeline.warehouse.market_stats import MARKET_STATS_COLUMNS, REFRESH_MARKET_STATS
from rm_pipeline.warehouse.valuations import (
    APPLY_SPLITS,
    HOLDING_COLUMNS,
    PORTFOLIO_COLUMNS,
    POSITION_COLUMNS,
    VALUE_PORTFOLIOS,
    VALUE_TRADE_POSITIONS,
)


def schema_columns(asset: str) -> list[str]:
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(asset))
    schema = spec.metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    return [column.name for column in schema.columns]


def assigned(sql: TextClause, table: str) -> set[str]:
    """The columns an UPDATE of `table` in `sql` sets, or an INSERT into it lists."""
    text = sql.text
    names: set[str] = set()
    for update in re.finditer(rf"UPDATE {table}\b.*?\bSET\b(.*?)\b(?:FROM|WHERE)\b", text, re.S):
        names |= set(re.findall(r"(?:^|,)\s*([a-z_0-9]+)\s*=", update.group(1), re.M))
    for insert in re.finditer(rf"INSERT INTO {table}\b[^(]*\(([^)]*)\)", text, re.S):
        names |= {name.strip() for name in insert.group(1).split(",")}
    return names


@pytest.mark.parametrize(
    ("asset", "columns", "statements", "table"),
    [
        ("security_market_stats", MARKET_STATS_COLUMNS, [REFRESH_MARKET_STATS], "securities"),
        ("portfolio_valuations", PORTFOLIO_COLUMNS, [VALUE_PORTFOLIOS], "portfolios"),
        ("broker_holdings", HOLDINGS_COLUMNS, [UPSERT_HOLDINGS], "portfolio_holdings"),
        ("trade_analysis", ANALYSIS_COLUMNS, [WRITE_TRADES_SQL], "trades"),
        (
            "trade_position_valuations",
            POSITION_COLUMNS,
            [VALUE_TRADE_POSITIONS, APPLY_SPLITS],
            "positions",
        ),
    ],
)
def test_an_asset_lists_exactly_the_columns_its_sql_sets(
    asset: str, columns: tuple[str, ...], statements: list[TextClause], table: str
) -> None:
    set_by_sql = set().union(*(assigned(sql, table) for sql in statements))
    assert set(schema_columns(asset)) == set(columns) == set_by_sql


def test_the_holdings_valuation_columns_are_set_by_the_portfolio_valuation() -> None:
    assert set(HOLDING_COLUMNS) == assigned(VALUE_PORTFOLIOS, "portfolio_holdings")


def test_tables_one_asset_loads_whole_list_every_column() -> None:
    assert "close" in schema_columns("price_history")
    assert len(schema_columns("price_history")) == 12


def test_market_statistics_name_the_price_columns_they_derive_from() -> None:
    lineage = MARKET_STATS_LINEAGE["dagster/column_lineage"]
    assert isinstance(lineage, dg.TableColumnLineage)
    assert lineage.deps_by_column["current_price"] == [
        dg.TableColumnDep(asset_key=dg.AssetKey("price_history"), column_name="close")
    ]
    assert set(lineage.deps_by_column) <= set(MARKET_STATS_COLUMNS)
