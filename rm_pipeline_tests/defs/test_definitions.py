"""The project's Definitions load and hold the expected assets, checks, jobs, schedules and sensors,
each described, with Dagster's standard metadata, and downstream assets automated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from rm_pipeline.definitions import defs
from rm_pipeline.defs.market import checks
from rm_pipeline.defs.resources import MarketDataResource, PriceChecksResource
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.providers.yfinance_provider import YFinanceProvider
from rm_pipeline.settings import get_settings

ASSETS = {
    "securities",
    "price_history",
    "fx_rates",
    "security_market_stats",
    "fundamentals",
    "broker_holdings",
    "portfolio_valuations",
    "trade_position_valuations",
    "trade_analysis",
}
FOLLOW_PRICES = {
    "security_market_stats",
    "fundamentals",
    "portfolio_valuations",
    "trade_position_valuations",
    "trade_analysis",
}


def test_definitions_list_the_expected_pieces() -> None:
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == ASSETS
    assert {key.name for key in graph.asset_check_keys} == {
        "prices_fresh",
        "no_missing_sessions",
        "row_count_steady",
        "rates_fresh",
        "no_implausible_rate_jumps",
        "closes_agree_with_second_source",
    }
    assert defs.resolve_job_def("ingest_price_history").partitions_def is not None
    main_load = defs.resolve_job_def("load_securities_and_prices")
    assert main_load.partitions_def is not None
    assert {key.to_user_string() for key in main_load.asset_layer.executable_asset_keys} == {
        "securities",
        "price_history",
        "fx_rates",
    }
    for job in ("refresh_securities", "refresh_analytics", "analyze_trades", "sync_holdings"):
        assert defs.resolve_job_def(job).partitions_def is None
    assert defs.resolve_sensor_def("trades_needing_analysis_sensor").job_name == "analyze_trades"
    automation = defs.resolve_sensor_def("follow_new_prices")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("nightly_price_history").job_name == "ingest_price_history"
    assert defs.resolve_schedule_def("evening_price_checks").job_name == "check_prices"
    assert defs.resolve_schedule_def("daily_holdings_sync").job_name == "sync_holdings"
    assert defs.resolve_sensor_def("alert_on_failed_runs").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )


def test_exchange_rates_load_and_are_checked_wherever_prices_are() -> None:
    graph = defs.resolve_asset_graph()
    fx = graph.get(dg.AssetKey("fx_rates"))
    prices = graph.get(dg.AssetKey("price_history"))
    assert (fx.group_name, fx.partitions_def) == (prices.group_name, prices.partitions_def)
    assert fx.backfill_policy == prices.backfill_policy
    assert fx.parent_keys == {dg.AssetKey("securities")}
    for valuation in ("portfolio_valuations", "trade_position_valuations"):
        assert dg.AssetKey("fx_rates") in graph.get(dg.AssetKey(valuation)).parent_keys
    load = defs.resolve_job_def("ingest_price_history")
    assert {k.to_user_string() for k in load.asset_layer.selected_asset_keys} == {
        "price_history",
        "fx_rates",
    }
    for job in ("ingest_price_history", "check_prices"):
        selected = {
            k.name for k in defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        }
        assert {check.name for check in checks.FX_CHECKS} <= selected, job


def test_every_job_schedule_and_sensor_says_what_it_does() -> None:
    repository = defs.get_repository_def()
    described = [
        *repository.get_all_jobs(),
        *repository.schedule_defs,
        *repository.sensor_defs,
    ]
    missing = [d.name for d in described if not d.description and not d.name.startswith("__")]
    assert missing == []


def test_every_asset_carries_dagsters_standard_metadata() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.metadata["dagster/table_name"].startswith("public."), key
        schema = node.metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchema) and len(schema.columns) > 3, key
        assert "dagster/code_references" in node.metadata, key
        assert node.owners == ["team:data-engineering"], key
        assert node.tags.get("domain") == node.group_name, key
    price_columns = {
        c.name
        for c in graph.get(dg.AssetKey("price_history")).metadata["dagster/column_schema"].columns
    }
    assert {"security_id", "date", "open", "high", "low", "close", "volume"} <= price_columns


def test_downstream_assets_follow_new_prices_and_do_not_wait_for_unloaded_history() -> None:
    graph = defs.resolve_asset_graph()
    automated = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).automation_condition is not None
    }
    assert automated == FOLLOW_PRICES
    condition = graph.get(dg.AssetKey("security_market_stats")).automation_condition
    assert condition is not None
    labels = str(condition.get_snapshot())
    assert "any_deps_missing" not in labels
    assert "all_deps_blocking_checks_passed" in labels or "blocking" in labels


def test_blocking_checks_are_the_ones_that_guard_downstream() -> None:
    """What a bar must satisfy is refused by the database (revision 0017), so no check is left
    that guards downstream: the price and rate checks flag absences the analytics state."""
    assert not any(spec.blocking for spec in checks.fx_rates_checks.check_specs)
    blocking = {spec.name: spec.blocking for spec in checks.price_history_checks.check_specs}
    assert blocking == {
        "prices_fresh": False,
        "no_missing_sessions": False,
        "row_count_steady": False,
    }


def test_each_price_check_can_run_without_the_others_or_the_asset() -> None:
    assert checks.price_history_checks.can_subset and checks.fx_rates_checks.can_subset


def test_the_market_data_resource_builds_its_provider_from_its_fields_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every setting the provider takes is a field, so the launchpad shows it and a bad variable
    in the run's environment is not read again."""
    monkeypatch.setenv("RM_PROVIDER", "bogus")
    monkeypatch.setenv("RM_DATA_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    resource = MarketDataResource(
        provider="yfinance",
        yfinance_batch_size=7,
        yfinance_cache_ttl_minutes=30,
        yfinance_cache_max_mb=2,
        data_dir=str(tmp_path),
    )
    provider = resource.get_provider()
    assert isinstance(provider, YFinanceProvider) and provider.cache is not None
    assert provider.batch_size == 7
    assert (provider.cache.directory, provider.cache.ttl, provider.cache.max_bytes) == (
        tmp_path / "yfinance-cache",
        timedelta(minutes=30),
        2 * 1024 * 1024,
    )
    second = PriceChecksResource(second_provider="synthetic").second_source(resource)
    assert isinstance(second, SyntheticProvider)
