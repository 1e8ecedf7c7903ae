"""The analyzer asset and the sensor that notices trades needing analysis in the database."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine, text

from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.resources import WarehouseResource
from rm_pipeline.defs.trades.assets import trade_analysis
from rm_pipeline.defs.trades.sensors import trades_needing_analysis_sensor
from rm_pipeline_tests.defs.conftest import Materialize, metadata

RAW_TRADE = text(
    """
    WITH u AS (INSERT INTO users (phone_number) VALUES ('+14155550123') RETURNING id),
         t AS (INSERT INTO trades (user_id, trade_name, trade_description)
               SELECT id, 'Raw SQL trade', 'written by another application' FROM u RETURNING id)
    INSERT INTO positions (trade_id, security_id, position_type, security_type, allocation_percent)
    SELECT t.id, s.id, 'long', 'equity', 60 FROM t, securities s WHERE s.ticker = 'AAPL'
    """
)


INSTANCE = dg.DagsterInstance.ephemeral()
"""Held for the module: a sensor context built without one keeps its instance by a weak
reference only, which garbage collection may clear mid-evaluation."""


def evaluate(db: Engine) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=INSTANCE, resources={"warehouse": WarehouseResource()}
    )
    result = trades_needing_analysis_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_requests_analysis_for_raw_sql_trades_until_analyzed(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    materialize([price_history], tags=range_tags("2025-01-06", "2025-06-27"))
    assert evaluate(db).skip_reason == dg.SkipReason("no trade needs analysis")

    with db.begin() as conn:
        conn.execute(RAW_TRADE)
    [first] = evaluate(db).run_requests or []

    analysis = metadata(materialize([trade_analysis]), "trade_analysis")
    assert (analysis["pending"], analysis["analyzed"]) == (1, 1)
    with db.connect() as conn:
        trade = conn.execute(
            text("SELECT recommendation, risk_level, return_1m, analyzed_at FROM trades")
        ).one()
    assert trade.recommendation in {"RECOMMENDED", "CONDITIONAL", "NOT_RECOMMENDED"}
    assert trade.risk_level in {"LOW", "MODERATE", "HIGH"}
    assert trade.return_1m is not None and trade.analyzed_at is not None
    assert evaluate(db).skip_reason == dg.SkipReason("no trade needs analysis")

    with db.begin() as conn:
        conn.execute(text("UPDATE positions SET allocation_percent = 80"))
    [second] = evaluate(db).run_requests or []
    assert second.run_key != first.run_key
