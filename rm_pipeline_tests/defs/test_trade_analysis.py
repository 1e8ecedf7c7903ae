"""The analyzer asset and the sensor that notices trades needing analysis in the database."""

from __future__ import annotations

from typing import Any

import dagster as dg
from sqlalchemy import Engine, Row, text

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


def trade_analysis_row(db: Engine) -> Row[Any]:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT t.return_1m, t.risk_level, t.ai_rationale, t.analyzed_at, p.rationale "
                "FROM trades t JOIN positions p ON p.trade_id = t.id"
            )
        ).one()


def test_a_trade_analyzed_before_its_prices_existed_is_analyzed_again_once_they_do(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    with db.begin() as conn:
        conn.execute(RAW_TRADE)
    before = metadata(materialize([trade_analysis]), "trade_analysis")
    unpriced = trade_analysis_row(db)
    assert (before["pending"], before["analyzed"]) == (1, 1)
    assert unpriced.return_1m is None and unpriced.risk_level is None
    assert unpriced.ai_rationale.startswith("No estimate: no price history for AAPL.")
    assert evaluate(db).skip_reason == dg.SkipReason("no trade needs analysis")

    materialize([price_history], tags=range_tags("2025-01-06", "2025-06-27"))
    assert evaluate(db).run_requests, "the new prices make the trade pending"
    after = metadata(materialize([trade_analysis]), "trade_analysis")

    priced = trade_analysis_row(db)
    assert (after["pending"], after["analyzed"]) == (1, 1)
    assert priced.analyzed_at > unpriced.analyzed_at
    assert priced.return_1m is not None and priced.risk_level is not None
    assert priced.ai_rationale.startswith("Period: the ")
    assert "to 2025-06-27" in priced.ai_rationale
    assert priced.rationale.startswith("AAPL long 60.00%: latest close 2025-06-27; over the ")
    assert evaluate(db).skip_reason == dg.SkipReason("no trade needs analysis")
