"""The project's Definitions load and hold the expected assets, checks, jobs and schedules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from rm_pipeline.definitions import defs
from rm_pipeline.defs.market import checks
from rm_pipeline.defs.market.jobs import nightly_price_history


def test_definitions_list_the_expected_pieces() -> None:
    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert assets == {
        "securities",
        "price_history",
        "security_market_stats",
        "fundamentals",
        "broker_holdings",
        "portfolio_valuations",
        "trade_position_valuations",
        "trade_analysis",
    }
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "ohlc_consistent",
        "no_duplicate_bars",
        "prices_fresh",
        "no_calendar_gaps",
        "row_count_steady",
    } <= checks
    assert defs.resolve_job_def("ingest_price_history").partitions_def is not None
    for job in ("refresh_securities", "refresh_analytics", "analyze_trades"):
        assert defs.resolve_job_def(job).partitions_def is None
    assert defs.resolve_sensor_def("trades_needing_analysis_sensor").job_name == "analyze_trades"
    automation = defs.resolve_sensor_def("follow_new_prices")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("nightly_price_history").job_name == "ingest_price_history"


def test_blocking_checks_are_the_ones_that_guard_downstream() -> None:
    blocking = {spec.name: spec.blocking for spec in checks.price_history_checks.check_specs}
    assert blocking == {
        "ohlc_consistent": True,
        "no_duplicate_bars": True,
        "prices_fresh": False,
        "no_calendar_gaps": False,
        "row_count_steady": False,
    }


def test_nightly_schedule_requests_the_day_just_closed() -> None:
    evening = datetime(2026, 11, 24, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    context = dg.build_schedule_context(scheduled_execution_time=evening)
    request = nightly_price_history(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-11-24"
    assert request.run_key == "2026-11-24"
