"""Materializing `securities`, `price_history` and `fx_rates` in-process against the real test
database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from rm_pipeline.defs.market import assets as market_assets
from rm_pipeline.defs.market.assets import fx_rates, price_history, securities
from rm_pipeline.defs.market.checks import (
    PRICE_CHECKS,
    fx_rates_checks,
    price_history_checks,
    trades_on,
)
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.resources import MarketDataResource
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline_tests.defs.conftest import (
    FailingTicker,
    Materialize,
    alerting_to,
    all_resources,
    metadata,
    partition_metadata,
)
from rm_pipeline_tests.defs.webhook import Webhook

WEEK = ("2025-03-03", "2025-03-07")  # Monday to Friday, no US holiday


def count(db: Engine, query: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(query)).scalar_one()


def test_securities_upsert_and_deactivate_dropped_ones(
    db: Engine, materialize: Materialize, tmp_path: Path
) -> None:
    first = materialize([securities])
    loaded = metadata(first, "securities")
    assert loaded["rows_inserted"] == count(db, "SELECT count(*) FROM securities") >= 40
    assert (
        count(db, "SELECT count(*) FROM securities WHERE data_source = 'synthetic'")
        == loaded["rows_inserted"]
    )

    universe = tmp_path / "universe.yaml"
    universe.write_text("securities:\n  - ticker: aapl\n  - {ticker: MSFT, exchange: NASDAQ}\n")
    universe_only = {"market_data": MarketDataResource(universe_file=str(universe))}
    second = metadata(materialize([securities], resources=universe_only), "securities")
    assert (second["rows_inserted"], second["rows_updated"], second["rows_unchanged"]) == (0, 0, 2)
    assert second["deactivated"] == loaded["rows_inserted"] - 2
    active = count(
        db, "SELECT string_agg(ticker, ',' ORDER BY ticker) FROM securities WHERE is_active"
    )
    assert active == "AAPL,MSFT"
    assert count(db, "SELECT count(*) FROM securities") == loaded["rows_inserted"]


def test_price_history_range_loads_once_and_reruns_change_nothing(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    active = count(db, "SELECT count(*) FROM securities WHERE is_active")

    first = materialize([price_history], tags=range_tags(*WEEK))
    loaded = metadata(first, "price_history")
    stored = count(db, "SELECT count(*) FROM price_history")
    assert loaded["rows_inserted"] == stored > 0
    per_partition = partition_metadata(first, "price_history")
    assert sorted(per_partition) == [
        "2025-03-03",
        "2025-03-04",
        "2025-03-05",
        "2025-03-06",
        "2025-03-07",
    ]
    for key, own in per_partition.items():
        last_day = "2025-03-09" if key == "2025-03-07" else key  # Friday holds the weekend
        rows = count(
            db, f"SELECT count(*) FROM price_history WHERE date BETWEEN '{key}' AND '{last_day}'"
        )
        assert own["rows_inserted"] == own["dagster/row_count"] == rows > 0, key
        assert (own["rows_updated"], own["rows_unchanged"], own["rows_rejected"]) == (0, 0, 0)
    assert "preview" in per_partition["2025-03-07"] and "preview" not in per_partition["2025-03-03"]
    assert (
        count(db, "SELECT count(DISTINCT date) FROM price_history WHERE date <= '2025-03-07'") == 5
    )
    us_rows = count(
        db,
        "SELECT count(*) FROM price_history p JOIN securities s ON s.id = p.security_id "
        "WHERE s.ticker = 'AAPL'",
    )
    assert us_rows == 5
    weekdays = count(db, "SELECT count(*) FROM price_history WHERE date <= '2025-03-07'")
    assert weekdays <= active * 5
    weekend = count(
        db,
        "SELECT string_agg(DISTINCT s.security_type, ',') FROM price_history p "
        "JOIN securities s ON s.id = p.security_id WHERE p.date > '2025-03-07'",
    )
    assert weekend == "crypto"  # Friday's partition runs to Sunday; only crypto trades then
    with db.connect() as conn:
        before = pd.read_sql_query(
            text("SELECT * FROM price_history ORDER BY security_id, date"), conn
        )

    rerun = materialize([price_history], tags=range_tags(*WEEK))
    again = metadata(rerun, "price_history")
    assert (again["rows_inserted"], again["rows_updated"], again["rows_unchanged"]) == (
        0,
        0,
        stored,
    )
    assert (
        partition_metadata(rerun, "price_history")["2025-03-04"]["rows_unchanged"]
        == (per_partition["2025-03-04"]["rows_inserted"])
    )
    with db.connect() as conn:
        after = pd.read_sql_query(
            text("SELECT * FROM price_history ORDER BY security_id, date"), conn
        )
    pd.testing.assert_frame_equal(before, after)


def test_a_range_longer_than_the_limit_counts_on_its_last_partition(
    db: Engine, materialize: Materialize, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `PARTITION_COUNTS_LIMIT` partitions the range's counts go on its last partition, with
    the partitions they cover; every partition is still materialized, and the run's sums are the
    rows stored."""
    monkeypatch.setattr(market_assets, "PARTITION_COUNTS_LIMIT", 3)
    materialize([securities])
    loaded = materialize([price_history, fx_rates], tags=range_tags(*WEEK))
    for asset, table in (("price_history", "price_history"), ("fx_rates", "fx_rates")):
        per_partition = partition_metadata(loaded, asset)
        assert sorted(per_partition) == [f"2025-03-0{day}" for day in range(3, 8)]
        for key in ("2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06"):
            assert set(per_partition[key]) == {"failed_tickers"}, (asset, key)
        last = per_partition["2025-03-07"]
        assert last["counts_cover"] == "2025-03-03 to 2025-03-07 (5 partitions)"
        stored = count(db, f"SELECT count(*) FROM {table} WHERE date <= '2025-03-09'")
        assert last["rows_inserted"] == metadata(loaded, asset)["rows_inserted"] == stored > 0
        friday = count(db, f"SELECT count(*) FROM {table} WHERE date >= '2025-03-07'")
        assert last["dagster/row_count"] == friday < stored
        assert (last["rows_updated"], last["rows_unchanged"], last["rows_rejected"]) == (0, 0, 0)


def test_an_exchange_holiday_is_an_empty_successful_partition(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    result = materialize([price_history], partition_key="2025-12-25")
    assert result.success
    loaded = metadata(result, "price_history")
    us_on_christmas = count(
        db,
        "SELECT count(*) FROM price_history p JOIN securities s ON s.id = p.security_id "
        "WHERE p.date = '2025-12-25' AND s.country = 'United States'",
    )
    assert us_on_christmas == 0
    assert loaded["failed_tickers"] == 0


def test_one_failing_ticker_is_reported_and_the_others_load(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    result = materialize([price_history], provider=FailingTicker("MSFT"), tags=range_tags(*WEEK))
    assert result.success
    loaded = metadata(result, "price_history")
    assert loaded["failed_tickers"] == 1
    assert "MSFT" in loaded["failures"] and "HTTP 500" in loaded["failures"]
    tickers = count(
        db,
        "SELECT count(DISTINCT s.ticker) FROM price_history p JOIN securities s "
        "ON s.id = p.security_id",
    )
    active = count(db, "SELECT count(*) FROM securities WHERE is_active")
    assert tickers == active - 1


def test_price_checks_warn_without_failing_the_run_and_a_broken_bar_is_never_stored(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    loaded = materialize([price_history, price_history_checks], tags=range_tags(*WEEK))
    verdicts = {e.check_name: e.passed for e in loaded.get_asset_check_evaluations()}
    assert verdicts == {
        "prices_fresh": False,  # a week of 2025 is not fresh today
        "no_missing_sessions": True,
        "row_count_steady": True,
    }
    assert loaded.success  # a warning holds nothing back

    with pytest.raises(IntegrityError, match="bar_high_not_below_low"), db.begin() as conn:
        conn.execute(text("UPDATE price_history SET high = low - 1 WHERE date = '2025-03-05'"))


def test_every_price_check_fails_on_a_warehouse_holding_no_bars(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])  # securities, but no bar: a load that stored nothing
    empty = materialize(
        [price_history, price_history_checks],
        selection=dg.AssetSelection.checks(price_history_checks),
        raise_on_error=False,
    )
    evaluations = empty.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {check.name for check in PRICE_CHECKS}
    assert not any(e.passed for e in evaluations)
    assert all(
        e.metadata["reason"].value == "no active security has any bar stored" for e in evaluations
    )
    assert empty.success  # warnings: they fail no run


def test_files_provider_feeds_the_same_assets(
    db: Engine, materialize: Materialize, tmp_path: Path
) -> None:
    (tmp_path / "securities.csv").write_text(
        "ticker,name,security_type,exchange,currency,country,sector,industry,description\n"
        "AAPL,Apple Inc.,equity,NASDAQ,USD,United States,Technology,Consumer Electronics,\n"
    )
    (tmp_path / "AAPL.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2025-03-03,100,102,99,101,1000\n"
        "2025-03-04,101,103,100,102.5,1200\n"
        "2025-03-05,102.5,101,104,103,900\n"  # high below low: set aside, not loaded
    )
    files = {"market_data": MarketDataResource(provider="files", files_dir=str(tmp_path))}
    materialize([securities], resources=files)
    result = materialize([price_history], resources=files, tags=range_tags(*WEEK))
    loaded = metadata(result, "price_history")
    assert (loaded["rows_inserted"], loaded["rows_rejected"]) == (2, 1)
    wednesday = partition_metadata(result, "price_history")["2025-03-05"]
    assert (wednesday["rows_inserted"], wednesday["rows_rejected"]) == (0, 1)
    assert "high_below_low" in wednesday["rejections"]
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.name, p.date, CAST(p.close AS float), p.data_source FROM price_history p "
                "JOIN securities s ON s.id = p.security_id ORDER BY p.date"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("Apple Inc.", date(2025, 3, 3), 101.0, "files"),
        ("Apple Inc.", date(2025, 3, 4), 102.5, "files"),
    ]


def test_one_check_runs_alone_without_loading(db: Engine, materialize: Materialize) -> None:
    materialize([securities])
    materialize([price_history], tags=range_tags(*WEEK))
    only = dg.AssetCheckKey(dg.AssetKey("price_history"), "row_count_steady")
    result = materialize(
        [price_history, price_history_checks], selection=dg.AssetSelection.checks(only)
    )
    assert result.get_asset_materialization_events() == []
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == [
        ("row_count_steady", True)
    ]


@pytest.fixture
def loaded_to_friday(db: Engine, materialize: Materialize) -> None:
    """Securities, bars and rates from 2025-02-24 to Friday 2025-03-07, loaded that evening."""
    friday_evening = SyntheticProvider(seed=7, today=lambda: date(2025, 3, 7))
    materialize([securities], provider=friday_evening)
    materialize(
        [price_history, fx_rates],
        provider=friday_evening,
        tags=range_tags("2025-02-24", "2025-03-07"),
    )


def nightly_request(evening: str, catchup_sessions: int = 5) -> dict[str, str]:
    """The tags of the run the nightly schedule requests at 18:30 New York time that evening."""
    from rm_pipeline.defs.market.schedules import nightly_price_history
    from rm_pipeline.defs.resources import PriceLoadResource, WarehouseResource

    instance = dg.DagsterInstance.ephemeral()  # held: the context keeps only a weak reference
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=pd.Timestamp(f"{evening} 18:30", tz="America/New_York"),
        resources={
            "warehouse": WarehouseResource(),
            "price_load": PriceLoadResource(catchup_sessions=catchup_sessions),
        },
    )
    return dict(nightly_price_history.evaluate_tick(context).run_requests[0].tags)


def test_the_nightly_run_starts_at_the_first_session_still_missing(
    db: Engine, loaded_to_friday: None
) -> None:
    # Friday's load ran before the weekend existed: Monday's run goes back to Friday's partition,
    # which holds the 24/7 markets' weekend.
    monday = nightly_request("2025-03-10")
    assert (
        monday["dagster/asset_partition_range_start"],
        monday["dagster/asset_partition_range_end"],
    ) == ("2025-03-07", "2025-03-10")
    with db.begin() as conn:  # one ticker's Wednesday is lost
        conn.execute(
            text(
                "DELETE FROM price_history WHERE date = '2025-03-05' AND security_id = "
                "(SELECT id FROM securities WHERE ticker = 'MSFT')"
            )
        )
    assert nightly_request("2025-03-07")["dagster/asset_partition_range_start"] == "2025-03-05"
    # The price_load resource's catch-up reach decides: one session back misses Wednesday.
    assert nightly_request("2025-03-07", catchup_sessions=1) == nightly_request("2025-03-07") | {
        "dagster/asset_partition_range_start": "2025-03-07"
    }
    # Beyond RM_CATCHUP_SESSIONS (5) sessions back, nothing is fetched again.
    assert nightly_request("2025-03-14")["dagster/asset_partition_range_start"] == "2025-03-10"


def test_a_range_runs_summary_counts_each_row_once(db: Engine, materialize: Materialize) -> None:
    from rm_pipeline import run_summary

    materialize([securities])
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize([price_history], tags=range_tags(*WEEK), instance=instance)
        summary = run_summary.JobSummary("ingest_price_history", True, result.run_id)
        for entry in instance.all_logs(result.run_id):
            run_summary.add_event(summary, entry)
    bars = count(db, "SELECT count(*) FROM price_history")
    actions = count(db, "SELECT count(*) FROM corporate_actions")
    assert summary.partitions["price_history"] == 5 and actions > 0
    assert summary.materialized["price_history"]["rows_inserted"] == bars
    assert run_summary.changed_rows([summary]) == bars + actions


class RateLimitedReference(SyntheticProvider):
    """Reference data for every ticker except those rate limited this time."""

    def __init__(self, limited: set[str]) -> None:
        super().__init__(seed=7)
        self.limited = limited

    def securities(self, tickers: Sequence[str] | None = None) -> ProviderResult:
        result = super().securities(tickers)
        return replace(
            result,
            frame=result.frame[~result.frame["ticker"].isin(self.limited)],
            outcomes=[
                TickerOutcome(o.ticker, TickerStatus.RATE_LIMITED, "HTTP 429")
                if o.ticker in self.limited
                else o
                for o in result.outcomes
            ],
        )


def test_a_provider_failure_never_deactivates_a_security(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    active = count(db, "SELECT count(*) FROM securities WHERE is_active")
    outage = metadata(
        materialize([securities], provider=RateLimitedReference({"AAPL", "MSFT", "NVDA"})),
        "securities",
    )
    assert (outage["deactivated"], outage["failed_tickers"]) == (0, 3)
    assert count(db, "SELECT count(*) FROM securities WHERE is_active") == active


def test_a_ticker_with_no_readable_data_is_not_created(
    db: Engine, materialize: Materialize, tmp_path: Path
) -> None:
    (tmp_path / "GOOD.csv").write_text("Date,Open,High,Low,Close,Volume\n2025-03-03,1,2,1,1.5,10\n")
    (tmp_path / "EMPTY.csv").write_text("")
    (tmp_path / "BIN.csv").write_bytes(bytes(range(256)) * 4)
    files = {"market_data": MarketDataResource(provider="files", files_dir=str(tmp_path))}
    loaded = metadata(materialize([securities], resources=files), "securities")
    assert loaded["rows_inserted"] == 1 and loaded["failed_tickers"] == 2
    assert count(db, "SELECT string_agg(ticker, ',') FROM securities") == "GOOD"


def test_a_new_ticker_with_every_row_refused_is_quarantined_reported_and_alerted(
    db: Engine, materialize: Materialize, tmp_path: Path, webhook: Webhook
) -> None:
    header = "Date,Open,High,Low,Close,Volume\n"
    (tmp_path / "GOOD.csv").write_text(header + "2025-03-03,1,2,1,1.5,10\n")
    (tmp_path / "NEW.csv").write_text(
        header + "2025-03-03,10,9,11,10.5,100\n"  # high below low
        "2025-03-04,10,11,9,abc,100\n"
    )
    files = {
        "market_data": MarketDataResource(provider="files", files_dir=str(tmp_path)),
        **alerting_to(webhook),
    }
    quarantined = (
        "SELECT string_agg(concat_ws(' ', table_name, ticker, date, split_part(reason, ':', 1), "
        "run_id), ', ' ORDER BY date) FROM quarantine"
    )

    first = materialize([securities], resources=files)

    made = metadata(first, "securities")
    assert (made["rows_inserted"], made["failed_tickers"], made["quarantined_by_run"]) == (1, 1, 2)
    assert "NEW" in made["failures"] and "every row rejected (2 rows)" in made["failures"]
    assert count(db, "SELECT string_agg(ticker, ',') FROM securities") == "GOOD"
    assert count(db, quarantined) == (
        f"price_history NEW 2025-03-03 high_below_low {first.run_id}, "
        f"price_history NEW 2025-03-04 unparseable {first.run_id}"
    )
    [alert] = webhook.received
    assert alert["text"].startswith(
        "securities: 1 of 2 tickers failed: NEW (first: error: every row rejected (2 rows)"
    )
    last_seen = count(db, "SELECT max(last_seen_at) FROM quarantine")

    again = materialize([securities], resources=files)

    assert metadata(again, "securities")["quarantined_by_run"] == 2
    assert count(db, quarantined) == (
        f"price_history NEW 2025-03-03 high_below_low {again.run_id}, "
        f"price_history NEW 2025-03-04 unparseable {again.run_id}"
    )
    assert count(db, "SELECT min(last_seen_at) FROM quarantine") > last_seen
    assert len(webhook.received) == 2  # one alert a run


def test_bad_input_fails_at_once_without_retries(
    db: Engine, materialize: Materialize, tmp_path: Path
) -> None:
    (tmp_path / "GOOD.csv").write_text("Date,Open,High,Low,Close,Volume\n2025-03-03,1,2,1,1.5,10\n")
    files = {"market_data": MarketDataResource(provider="files", files_dir=str(tmp_path))}
    materialize([securities], resources=files)
    (tmp_path / "actions.csv").write_text("ticker,date,action,value\nGOOD,2025-03-03,merger,1\n")
    result = materialize(
        [price_history], resources=files, tags=range_tags(*WEEK), raise_on_error=False
    )
    assert not result.success
    types = [e.event_type for e in result.all_events]
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in types
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = str(failure.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]
    assert "actions.csv, line 2, field 'action'" in message and "not retried" in message


def test_bad_files_cost_only_themselves_and_good_files_load_completely(
    db: Engine, materialize: Materialize, tmp_path: Path
) -> None:
    header = "Date,Open,High,Low,Close,Volume\n"
    week = ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]
    for ticker in ("GA", "GB"):
        (tmp_path / f"{ticker}.csv").write_text(
            header + "".join(f"{d},10,11,9,10.5,100\n" for d in week)
        )
    (tmp_path / "BIN.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "EMPTY.csv").write_text("")
    (tmp_path / "WRONG.csv").write_text("Day,Price\n2025-03-03,1\n")
    (tmp_path / "CELL.csv").write_text(
        header + "".join(f"{d},{'abc' if d == week[2] else 10},11,9,10.5,100\n" for d in week)
    )
    (tmp_path / "7203.T.csv").write_text(  # 2025-03-20 is a Tokyo holiday: Yahoo's placeholder
        header + "2025-03-19,2800,2850,2790,2810,1000\n2025-03-20,2810,2810,2810,2810,0\n"
        "2025-03-21,2810,2900,2800,2880,1200\n"
    )
    files = {"market_data": MarketDataResource(provider="files", files_dir=str(tmp_path))}
    made = metadata(materialize([securities], resources=files), "securities")
    assert made["rows_inserted"] == 4 and made["failed_tickers"] == 3  # GA, GB, CELL, 7203.T

    loaded = metadata(
        materialize([price_history], resources=files, tags=range_tags("2025-03-03", "2025-03-21")),
        "price_history",
    )
    assert (
        loaded["rows_inserted"] == 5 + 5 + 4 + 2 == count(db, "SELECT count(*) FROM price_history")
    )
    with db.connect() as conn:
        refused = conn.execute(
            text("SELECT ticker, date, split_part(reason, ':', 1) FROM quarantine ORDER BY ticker")
        ).all()
    assert [tuple(r) for r in refused] == [
        ("7203.T", date(2025, 3, 20), "not_a_session"),
        ("CELL", date(2025, 3, 5), "unparseable"),
    ]


def test_row_count_steady_allows_a_holiday_and_flags_a_day_missing_most_bars(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    steady = dg.AssetSelection.checks(price_history_checks)
    thanksgiving = range_tags("2025-11-24", "2025-11-27")  # US markets closed on the 27th
    holiday = materialize([price_history, price_history_checks], tags=thanksgiving)
    verdicts = {e.check_name: e.passed for e in holiday.get_asset_check_evaluations()}
    assert verdicts["row_count_steady"]
    us_bars = count(
        db,
        "SELECT count(*) FROM price_history p JOIN securities s ON s.id = p.security_id "
        "WHERE p.date = '2025-11-27' AND s.currency = 'USD' AND s.security_type <> 'crypto'",
    )
    assert us_bars == 0

    with db.begin() as conn:
        conn.execute(  # the markets open that day lose their bars; 24/7 ones keep theirs
            text(
                "DELETE FROM price_history WHERE date = '2025-11-27' AND security_id IN "
                "(SELECT id FROM securities WHERE security_type <> 'crypto')"
            )
        )
    assert count(db, "SELECT count(*) FROM price_history WHERE date = '2025-11-27'") > 0
    shrunk = materialize([price_history, price_history_checks], selection=steady)
    verdicts = {e.check_name: e.passed for e in shrunk.get_asset_check_evaluations()}
    assert not verdicts["row_count_steady"]


@pytest.mark.parametrize("today", [date(2025, 12, 1), date(2026, 11, 26)])  # recent, long ago
def test_a_session_is_looked_up_alike_for_a_recent_and_an_old_day(today: date) -> None:
    thanksgiving, eve = date(2025, 11, 27), date(2025, 11, 26)
    assert not trades_on("XNYS", thanksgiving, today) and trades_on("XNYS", eve, today)
    assert trades_on("24/7", thanksgiving, today)


UNIVERSE_CURRENCIES = "CAD, CHF, EUR, GBP, HKD, JPY"
"""The major currencies of the synthetic default universe other than USD (GBp counts as GBP)."""


def test_fx_rates_range_loads_once_and_reruns_change_nothing(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])

    first = materialize([fx_rates], tags=range_tags(*WEEK))
    loaded = metadata(first, "fx_rates")
    assert loaded["currencies"] == UNIVERSE_CURRENCIES and loaded["failed_tickers"] == 0
    assert loaded["rows_inserted"] == count(db, "SELECT count(*) FROM fx_rates") == 6 * 5
    per_partition = partition_metadata(first, "fx_rates")
    assert sorted(per_partition) == ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06",
                                     "2025-03-07"]  # fmt: skip
    for own in per_partition.values():
        assert own["rows_inserted"] == own["dagster/row_count"] == 6
        assert (own["rows_updated"], own["rows_unchanged"], own["rows_rejected"]) == (0, 0, 0)
    assert (
        "preview" in per_partition["2025-03-07"] and "EUR" in per_partition["2025-03-07"]["preview"]
    )
    assert (
        count(
            db, "SELECT count(DISTINCT data_source) FROM fx_rates WHERE data_source = 'synthetic'"
        )
        == 1
    )

    again = metadata(materialize([fx_rates], tags=range_tags(*WEEK)), "fx_rates")
    assert (again["rows_inserted"], again["rows_updated"], again["rows_unchanged"]) == (0, 0, 30)


class FailingPair(SyntheticProvider):
    """The synthetic provider, except that one pair fails as a source error would."""

    def __init__(self, pair: str) -> None:
        super().__init__(seed=7)
        self.pair = pair

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        result = super().fx_rates(currencies, start, end)
        failed = TickerOutcome(self.pair, TickerStatus.ERROR, "HTTP 500 from the source")
        base = self.pair.removesuffix("USD=X")
        return replace(
            result,
            frame=result.frame[result.frame["base_currency"] != base].reset_index(drop=True),
            outcomes=[o if o.ticker != self.pair else failed for o in result.outcomes],
        )


def test_a_failing_pair_is_reported_and_alerted_and_the_others_load(
    db: Engine, materialize: Materialize, webhook: Webhook
) -> None:
    materialize([securities])

    result = materialize(
        [fx_rates],
        provider=FailingPair("JPYUSD=X"),
        resources=alerting_to(webhook),
        tags=range_tags(*WEEK),
    )

    assert result.success
    loaded = metadata(result, "fx_rates")
    assert loaded["failed_tickers"] == 1
    assert "JPYUSD=X" in loaded["failures"] and "HTTP 500" in loaded["failures"]
    stored = count(db, "SELECT string_agg(DISTINCT base_currency, ', ') FROM fx_rates")
    assert stored == "CAD, CHF, EUR, GBP, HKD"
    [alert] = webhook.received
    assert alert["text"].startswith(
        "fx_rates 2025-03-03 to 2025-03-07 and the weekend after: 1 of 6 pairs failed: JPYUSD=X"
    )


def test_fx_checks_pass_on_good_rates_and_flag_jumps_and_stale_rates(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    good = materialize([fx_rates, fx_rates_checks], tags=range_tags(*WEEK))
    verdicts = {e.check_name: e for e in good.get_asset_check_evaluations()}
    assert verdicts["rates_fresh"].passed  # fresh as of the run's last partition
    assert verdicts["rates_fresh"].metadata["as_of"].value == WEEK[1]
    assert verdicts["no_implausible_rate_jumps"].passed

    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE fx_rates SET rate = rate * 1.5 WHERE base_currency = 'EUR' AND date = '2025-03-05'"
            )
        )
        conn.execute(
            text("DELETE FROM fx_rates WHERE base_currency = 'CHF' AND date > '2025-03-04'")
        )
        conn.execute(text("DELETE FROM fx_rates WHERE base_currency = 'JPY'"))  # none at all
    friday = materialize(
        [fx_rates, fx_rates_checks],
        selection=dg.AssetSelection.checks(fx_rates_checks),
        tags={"dagster/partition": WEEK[1]},
    )
    assert friday.get_asset_materialization_events() == []
    verdicts = {e.check_name: e for e in friday.get_asset_check_evaluations()}
    assert friday.success  # warnings: nothing downstream is held back
    jumps = verdicts["no_implausible_rate_jumps"]
    assert not jumps.passed and jumps.metadata["offending_rows"].value == 2  # up, then back down
    stale = verdicts["rates_fresh"]
    assert not stale.passed and stale.metadata["offending_rows"].value == 2
    assert "CHF" in stale.metadata["sample"].value and "JPY" in stale.metadata["sample"].value

    today = materialize(
        [fx_rates, fx_rates_checks], selection=dg.AssetSelection.checks(fx_rates_checks)
    )
    verdicts = {e.check_name: e for e in today.get_asset_check_evaluations()}
    assert verdicts["rates_fresh"].metadata["offending_rows"].value == 6  # March 2025 is not today

    with db.begin() as conn:
        conn.execute(text("DELETE FROM fx_rates"))  # no currency has any rate
    empty = materialize(
        [fx_rates, fx_rates_checks],
        selection=dg.AssetSelection.checks(fx_rates_checks),
        tags={"dagster/partition": WEEK[1]},
    )
    verdicts = {e.check_name: e for e in empty.get_asset_check_evaluations()}
    assert empty.success and verdicts["rates_fresh"].metadata["offending_rows"].value == 6


def test_the_nightly_run_goes_back_to_the_first_weekday_a_rate_is_missing(
    db: Engine, loaded_to_friday: None
) -> None:
    def first_partition(evening: str) -> str:
        return nightly_request(evening)["dagster/asset_partition_range_start"]

    assert first_partition("2025-03-07") == "2025-03-07"
    with db.begin() as conn:  # one pair failed on Tuesday
        conn.execute(
            text("DELETE FROM fx_rates WHERE base_currency = 'JPY' AND date = '2025-03-04'")
        )
    assert first_partition("2025-03-07") == "2025-03-04"


def test_refresh_analytics_checks_the_prices_first_and_their_warnings_hold_nothing_back(
    db: Engine, materialize: Materialize
) -> None:
    from rm_pipeline.definitions import build_definitions

    materialize([securities])
    materialize([price_history, fx_rates], tags=range_tags(*WEEK))
    job = build_definitions(all_resources()).resolve_job_def("refresh_analytics")

    def refresh() -> dg.ExecuteInProcessResult:
        with dg.DagsterInstance.ephemeral() as instance:
            return job.execute_in_process(instance=instance, raise_on_error=False)

    refreshed = refresh()  # the week is long past: the freshness warnings fail, nothing blocks
    verdicts = {e.check_name: e.passed for e in refreshed.get_asset_check_evaluations()}
    assert verdicts["prices_fresh"] is False and verdicts["rates_fresh"] is False
    assert refreshed.success
    assert "security_market_stats" in {
        e.asset_key.to_user_string() for e in refreshed.get_asset_materialization_events()
    }
