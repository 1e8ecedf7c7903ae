"""A trade analyzed over a history with a hole in it: the move across the hole is no day's return,
so the analyzer's volatility is that of the daily returns `v_daily_returns` gives, without a
year's move taken as one day's."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Engine, text

from rm_pipeline.app.analysis_store import analyze_pending
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline_tests.app.conftest import insert

LAST_CLOSE = date(2025, 12, 31)


def stated_volatility(db: Engine, trade: uuid.UUID) -> float:
    """The portfolio volatility the trade's rationale states, as a fraction."""
    with db.connect() as conn:
        rationale = conn.execute(
            text("SELECT ai_rationale FROM trades WHERE id = :id"), {"id": trade}
        ).scalar_one()
    found = re.search(r"Portfolio annualized volatility ([\d.]+)%", rationale)
    assert found is not None, rationale
    assert "1 return across missing sessions left out" in rationale
    return float(found.group(1)) / 100


def test_the_analyzer_s_volatility_leaves_out_the_return_across_a_hole(
    db: Engine, alice: uuid.UUID
) -> None:
    with db.begin() as conn:
        aapl = insert(conn, "securities", ticker="AAPL", name="AAPL", security_type="equity")
        trade = insert(conn, "trades", user_id=alice, trade_name="t", trade_description="d")
        insert(
            conn,
            "positions",
            trade_id=trade,
            security_id=aapl,
            position_type="long",
            security_type="equity",
            allocation_percent=100,
        )
    provider = SyntheticProvider(seed=7, today=lambda: date(2026, 11, 30))
    ingest_prices(db, provider, date(2023, 1, 3), date(2023, 12, 29), batch_size=10)
    ingest_prices(db, provider, date(2025, 1, 2), LAST_CLOSE, batch_size=10)

    as_of = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert analyze_pending(db, clock=lambda: as_of).analyzed == (trade,)

    with db.connect() as conn:
        bars = pd.read_sql_query(
            text("SELECT date, close, daily_return FROM v_daily_returns ORDER BY date"), conn
        )
    one_day = bars["daily_return"].dropna().astype(float)
    every_move = bars["close"].astype(float).pct_change().dropna()
    assert len(every_move) == len(one_day) + 1  # the move across 2024
    assert stated_volatility(db, trade) == round(one_day.std() * math.sqrt(252), 4)
    assert stated_volatility(db, trade) != round(every_move.std() * math.sqrt(252), 4)
