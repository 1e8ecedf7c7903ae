"""Everything downstream of the prices, materialized in-process on the demo data."""

from __future__ import annotations

from sqlalchemy import Engine, text

from rm_pipeline.defs.analytics.assets import fundamentals, security_market_stats
from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.portfolios.assets import broker_holdings, portfolio_valuations
from rm_pipeline.defs.trades.assets import trade_position_valuations
from rm_pipeline.demo import seed_demo
from rm_pipeline_tests.defs.conftest import Materialize, metadata

DOWNSTREAM = [
    security_market_stats,
    fundamentals,
    broker_holdings,
    portfolio_valuations,
    trade_position_valuations,
]


def test_downstream_assets_value_the_demo_and_rerun_idempotently(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    materialize([price_history], tags=range_tags("2025-06-02", "2025-08-29"))
    with db.begin() as conn:
        seed_demo(conn)

    first = materialize(DOWNSTREAM)
    assert metadata(first, "security_market_stats")["rows_updated"] > 50
    assert metadata(first, "fundamentals")["values_rejected"] == 0
    assert metadata(first, "portfolio_valuations")["portfolios"] == 4
    # No exchange rates loaded here: the Global portfolio's pence, yen and euros stay unvalued.
    assert metadata(first, "portfolio_valuations")["holdings_without_rate"] == 3
    # The loads stored every exchange's sessions: each price's staleness and day's change known.
    valued = metadata(first, "portfolio_valuations")
    assert (valued["stale_holdings"], valued["holdings_of_unknown_staleness"]) == (0, 0)
    assert valued["unknown_day_changes"] == "none"

    with db.connect() as conn:
        latest_close, current_price = conn.execute(
            text(
                "SELECT (SELECT close FROM price_history p WHERE p.security_id = s.id "
                "ORDER BY date DESC LIMIT 1), s.current_price FROM securities s "
                "WHERE s.ticker = 'AAPL'"
            )
        ).one()
        totals = conn.execute(
            text("SELECT name, cash_balance + equity_value = total_value FROM portfolios")
        ).all()
        assert latest_close == current_price
        assert sorted(tuple(t) for t in totals) == [
            ("Global", None),
            ("Growth", True),
            ("Income", True),
            ("Long/Short", True),
        ]

    again = materialize(DOWNSTREAM)
    for asset in ("security_market_stats", "fundamentals", "portfolio_valuations"):
        assert metadata(again, asset)["rows_updated"] == 0, asset
    assert metadata(again, "broker_holdings")["rows_inserted"] == 0
