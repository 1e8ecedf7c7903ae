"""The valuation assets attach their charts to their materializations as markdown images."""

from __future__ import annotations

import base64
import re

import dagster as dg
from sqlalchemy import Engine

from rm_pipeline.defs.portfolios.assets import portfolio_valuations
from rm_pipeline.defs.trades.assets import trade_position_valuations
from rm_pipeline_tests.charts.seed import seed_year
from rm_pipeline_tests.defs.conftest import all_resources, metadata

IMAGE = re.compile(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def images(markdown: str) -> list[tuple[str, bytes]]:
    """Each embedded image's alt text and PNG bytes."""
    return [(alt, base64.b64decode(data)) for alt, data in IMAGE.findall(markdown)]


def materialize(asset: dg.AssetsDefinition) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize([asset], instance=instance, resources=all_resources())


def test_portfolio_valuations_attaches_value_and_weights_charts(db: Engine) -> None:
    with db.begin() as conn:
        seed_year(conn)
    result = materialize(portfolio_valuations)
    values = metadata(result, "portfolio_valuations")
    value_chart, weights_chart = values["value_chart"], values["weights_chart"]
    assert value_chart.startswith("#### Growth\n\n")
    ((alt, png),) = images(value_chart)
    assert alt == "value of today's holdings, past year (USD)"
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    ((alt, png),) = images(weights_chart)
    assert alt.startswith("holdings' weights")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_trade_position_valuations_attaches_a_chart_per_active_trade(db: Engine) -> None:
    with db.begin() as conn:
        seed_year(conn)
    result = materialize(trade_position_valuations)
    charts = metadata(result, "trade_position_valuations")["trade_charts"]
    assert charts.startswith("#### Pair\n\n")
    ((alt, png),) = images(charts)
    assert alt == "Pair: realized since 2024-06-03 vs projection"
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
