"""Production, simulated over a month of sessions: the real schedules, sensors and automation
conditions, driven day by day with a controlled clock, each requested run executed in-process.

The month (10 November to 9 December 2025) holds weekends, the US Thanksgiving holiday and the
following half day, a 10-for-1 split (NFLX on 17 November, reported on that day only: before it
the provider serves the old scale), a day on which the provider fails for every ticker (repaired
by the next night's catch-up), and a trade edited by another application on a Saturday. After
every day the test asserts that every session up to that day is stored for every security, and
every weekday's exchange rate for every currency the securities are in, that market stats, holdings and trade analyses reflect the day's closes, and at the end that the
warehouse equals a clean one-shot load of the whole range, row for row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.app.analysis_store import trades_needing_analysis
from rm_pipeline.db import migrate
from rm_pipeline.definitions import build_definitions
from rm_pipeline.defs.analytics.assets import security_market_stats
from rm_pipeline.defs.market.assets import fx_rates, price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.resources import PriceLoadResource, WarehouseResource
from rm_pipeline.demo import seed_demo, seed_demo_trades
from rm_pipeline.ingest.fx import first_missing_rate
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.calendars import ticker_sessions
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline_tests.defs.conftest import Materialize, alerting_to, all_resources
from rm_pipeline_tests.defs.webhook import Webhook

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
HISTORY_START = date(2025, 6, 2)
BEFORE_FIRST_DAY = date(2025, 11, 7)  # the history `make run` loaded, as of that Friday
FIRST_DAY, LAST_DAY = date(2025, 11, 10), date(2025, 12, 9)
SPLIT_DAY = date(2025, 11, 17)  # NFLX 10-for-1 in the synthetic provider
OUTAGE_DAY = date(2025, 11, 20)  # the provider fails for every ticker
THANKSGIVING = date(2025, 11, 27)
TRADE_EDITED_ON = date(2025, 11, 15)  # a Saturday: no price load, the trade sensor alone
CRON = re.compile(r"^(\d+) (\d+) \* \* 1-5$")


class SimulatedProvider(SyntheticProvider):
    """The synthetic provider on the simulated clock, down for every ticker on the outage day."""

    def __init__(self, clock: Callable[[], date]) -> None:
        super().__init__(seed=7, today=clock)
        self.clock = clock

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        result = super().daily_bars(tickers, start, end)
        if self.clock() != OUTAGE_DAY:
            return result
        return replace(
            result,
            frame=result.frame.iloc[0:0],
            outcomes=[
                TickerOutcome(t, TickerStatus.ERROR, "HTTP 503 from the source") for t in tickers
            ],
        )


class Production:
    """The daemon's part, played in-process: schedule ticks, sensor ticks and automation ticks,
    each requested run executed against one Dagster instance."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance
        self.cursor: Any = None
        self.asset_keys = list(defs.resolve_asset_graph().get_all_asset_keys())
        self.materialized: list[str] = []

    def execute(
        self, job_name: str, tags: dict[str, str] | None = None
    ) -> dg.ExecuteInProcessResult:
        result = self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance, tags=tags, raise_on_error=False
        )
        assert result.success, f"{job_name} failed"
        self.record(result)
        return result

    def record(self, result: dg.ExecuteInProcessResult) -> None:
        self.materialized += [
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        ]

    def tick_schedule(self, name: str, when: datetime) -> None:
        schedule = self.defs.resolve_schedule_def(name)
        context = dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=when,
            resources={"warehouse": WarehouseResource(), "price_load": PriceLoadResource()},
        )
        data = schedule.evaluate_tick(context)
        for request in data.run_requests or []:
            self.execute(schedule.job_name, dict(request.tags))
            self.settle_automation()

    def tick_trade_sensor(self) -> None:
        sensor = self.defs.resolve_sensor_def("trades_needing_analysis_sensor")
        context = dg.build_sensor_context(
            instance=self.instance, resources={"warehouse": WarehouseResource()}
        )
        data = sensor.evaluate_tick(context)
        for _ in data.run_requests or []:
            self.execute("analyze_trades")
            self.settle_automation()

    def settle_automation(self) -> None:
        """Automation ticks until nothing more is requested, executing each tick's request."""
        for _ in range(5):
            evaluation = dg.evaluate_automation_conditions(
                defs=self.defs, instance=self.instance, cursor=self.cursor
            )
            self.cursor = evaluation.cursor
            requested = [k for k in self.asset_keys if evaluation.get_num_requested(k)]
            if not requested:
                return
            job = self.defs.resolve_implicit_global_asset_job_def()
            result = job.execute_in_process(instance=self.instance, asset_selection=requested)
            self.record(result)
        raise AssertionError("automation kept requesting runs")


def tick_time(schedule: dg.ScheduleDefinition, day: date) -> datetime | None:
    """When the weekday cron `M H * * 1-5` fires on `day` (New York time), or None."""
    match = CRON.match(str(schedule.cron_schedule))
    assert match, f"the simulation reads weekday crons only: {schedule.cron_schedule}"
    assert schedule.execution_timezone == "America/New_York"
    if day.weekday() >= 5:
        return None
    return datetime.combine(day, time(int(match[2]), int(match[1])), tzinfo=NEW_YORK)


def missing_sessions(conn: Connection, through: date) -> list[tuple[str, date]]:
    """(ticker, session) of every exchange session from the history's start through `through`
    that an active security has no bar for."""
    stored = pd.read_sql_query(
        text(
            "SELECT s.ticker, p.date FROM price_history p JOIN securities s "
            "ON s.id = p.security_id WHERE s.is_active"
        ),
        conn,
    )
    have = set(zip(stored["ticker"], stored["date"], strict=True))
    tickers = conn.execute(text("SELECT ticker FROM securities WHERE is_active")).scalars()
    return [
        (ticker, session)
        for ticker in tickers
        for session in ticker_sessions(ticker, HISTORY_START, through)
        if (ticker, session) not in have
    ]


STATS_BEHIND_PRICES = text(
    """
    SELECT s.ticker FROM securities s
    WHERE s.is_active AND s.current_price IS DISTINCT FROM (
        SELECT close FROM price_history p WHERE p.security_id = s.id ORDER BY date DESC LIMIT 1)
    """
)
HOLDINGS_BEHIND_PRICES = text(
    """
    SELECT s.ticker FROM portfolio_holdings h JOIN securities s ON s.id = h.security_id
    JOIN portfolios p ON p.id = h.portfolio_id
    WHERE h.current_price IS DISTINCT FROM s.current_price
       OR h.price_date IS DISTINCT FROM (
            SELECT max(date) FROM price_history ph WHERE ph.security_id = s.id)
       OR h.market_value IS DISTINCT FROM round(h.quantity * s.current_price
            * fx_rate(coalesce(s.currency, 'USD'), coalesce(p.currency, 'USD'), h.price_date)
            * CASE h.side WHEN 'short' THEN -1 ELSE 1 END, 2)
    """
)
TRADES_WITH_BARS_ON = text(
    """
    SELECT DISTINCT t.id FROM trades t JOIN positions p ON p.trade_id = t.id
    JOIN price_history h ON h.security_id = p.security_id
    WHERE t.status IN ('draft', 'active') AND h.date = :d
    """
)
ANALYSES = text("SELECT id, analyzed_at FROM trades WHERE status IN ('draft', 'active')")


def analysis_times(conn: Connection) -> dict[Any, datetime]:
    return {trade_id: at for trade_id, at in conn.execute(ANALYSES)}


def assert_day_reflected(
    conn: Connection, day: date, analyzed_before: dict[Any, datetime]
) -> tuple[str, dict[Any, datetime]]:
    """The per-day assertions; returns a line describing the day and the analysis times now."""
    loaded = day.weekday() < 5 and day != OUTAGE_DAY
    missing = missing_sessions(conn, day)
    if loaded:
        assert missing == [], f"{day}: sessions without bars: {missing[:5]}"
    else:  # what only a later night can load: the outage day's sessions, a weekend's 24/7 bars
        assert {session for _, session in missing} <= {OUTAGE_DAY, day - timedelta(days=1), day}
    weekdays = len(pd.bdate_range(HISTORY_START, day))
    assert first_missing_rate(conn, day, weekdays) is None, f"{day}: a weekday without rates"
    assert list(conn.execute(STATS_BEHIND_PRICES).scalars()) == [], day
    assert list(conn.execute(HOLDINGS_BEHIND_PRICES).scalars()) == [], day
    assert trades_needing_analysis(conn) == [], day
    analyses = analysis_times(conn)
    reanalysed = {t for t, at in analyses.items() if at != analyzed_before.get(t)}
    if day == TRADE_EDITED_ON:
        assert len(reanalysed) == 1, day
    else:  # a load re-analyses the trades holding a security with a bar that day
        traded = set(conn.execute(TRADES_WITH_BARS_ON, {"d": day}).scalars()) if loaded else set()
        assert reanalysed == traded, day
    bars = conn.execute(
        text("SELECT count(*) FROM price_history WHERE date = :d"), {"d": day}
    ).scalar_one()
    line = (
        f"{day} {day:%a}: {bars} bars dated that day, {len(missing)} sessions not yet loaded, "
        f"stats and holdings at the latest closes, {len(reanalysed)} trades re-analysed"
    )
    return line, analyses


@pytest.fixture
def clock() -> list[date]:
    return [BEFORE_FIRST_DAY]


def test_a_month_of_nights_flows_through_to_analytics_and_equals_a_one_shot_load(
    db: Engine,
    materialize: Materialize,
    make_database: Callable[[], str],
    clock: list[date],
    webhook: Webhook,
) -> None:
    provider = SimulatedProvider(lambda: clock[0])
    defs = build_definitions(all_resources(provider, **alerting_to(webhook)))

    with dg.instance_for_test() as instance:
        production = Production(defs, instance)
        # What `make run` leaves behind: the securities, the history, the demo, its analytics.
        production.execute("refresh_securities")
        production.execute(
            "ingest_price_history",
            range_tags(HISTORY_START.isoformat(), BEFORE_FIRST_DAY.isoformat()),
        )
        with db.begin() as conn:
            seed_demo(conn)
        seed_demo_trades(db)
        production.execute("refresh_analytics")
        production.settle_automation()
        with db.connect() as conn:
            analyzed_since = analysis_times(conn)

        schedules = sorted(
            defs.get_repository_def().schedule_defs, key=lambda s: tick_time(s, FIRST_DAY)
        )
        log = []
        day = FIRST_DAY
        while day <= LAST_DAY:
            clock[0] = day
            if day == TRADE_EDITED_ON:
                with db.begin() as conn:
                    conn.execute(
                        text(
                            "UPDATE trades SET trade_description = trade_description || ' (revised)' WHERE trade_name = 'Quality tech pair'"
                        )
                    )
            for schedule in schedules:
                when = tick_time(schedule, day)
                if when is not None:
                    production.tick_schedule(schedule.name, when)
            production.tick_trade_sensor()
            with db.connect() as conn:
                line, analyzed_since = assert_day_reflected(conn, day, analyzed_since)
            log.append(line)
            day += timedelta(days=1)

    print("\n".join(log))
    days = (LAST_DAY - FIRST_DAY).days + 1
    sessions = [
        d
        for d in (FIRST_DAY + timedelta(n) for n in range(days))
        if d.weekday() < 5 and d != THANKSGIVING
    ]
    assert len(sessions) >= 20

    with db.connect() as conn:
        nflx_split = conn.execute(
            text(
                "SELECT count(*) FROM corporate_actions c JOIN securities s ON s.id = c.security_id "
                "WHERE s.ticker = 'NFLX' AND c.action = 'split' AND c.date = :d"
            ),
            {"d": SPLIT_DAY},
        ).scalar_one()
        assert nflx_split == 1

    # Exactly one alert: the outage day's failed tickers, named.
    assert len(webhook.received) == 1, webhook.received
    assert (
        f"{OUTAGE_DAY}" in webhook.received[0]["text"] and "HTTP 503" in webhook.received[0]["text"]
    )

    # A clean one-shot load of the same range, on the same clock, in a fresh database.
    clean_url = make_database()
    migrate.upgrade(clean_url)
    clean = {"warehouse": WarehouseResource(database_url=clean_url)}
    materialize([securities], provider=provider, resources=clean)
    materialize(
        [price_history, fx_rates],
        provider=provider,
        resources=clean,
        tags=range_tags(HISTORY_START.isoformat(), LAST_DAY.isoformat()),
    )
    materialize([security_market_stats], provider=provider, resources=clean)
    assert_same_rows(db, WarehouseResource(database_url=clean_url).engine())


COMPARED = {
    "price_history": "SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume, p.data_source "
    "FROM price_history p JOIN securities s ON s.id = p.security_id ORDER BY 1, 2",
    "corporate_actions": "SELECT s.ticker, c.date, c.action, c.value FROM corporate_actions c "
    "JOIN securities s ON s.id = c.security_id ORDER BY 1, 2, 3",
    "fx_rates": "SELECT base_currency, quote_currency, date, rate, data_source FROM fx_rates "
    "ORDER BY 1, 2, 3",
    "market stats": "SELECT ticker, current_price, volume, avg_volume, fifty_two_week_low, "
    "fifty_two_week_high, is_active FROM securities ORDER BY ticker",
}


def assert_same_rows(simulated: Engine, clean: Engine) -> None:
    for name, query in COMPARED.items():
        with simulated.connect() as a, clean.connect() as b:
            left = pd.read_sql_query(text(query), a)
            right = pd.read_sql_query(text(query), b)
        assert len(left) > 0, name
        pd.testing.assert_frame_equal(left, right, obj=name)
        print(f"{name}: {len(left):,} rows, identical to the one-shot load")
