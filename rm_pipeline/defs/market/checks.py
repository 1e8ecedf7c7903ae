"""Checks of `price_history` and `fx_rates`, each a declared `Check` (name, description, whether
it blocks, the function that finds its offenders), evaluated together after each materialization
(one step, one database connection, calendars built once) and each runnable on its own from the UI
or the `check_prices` job.

What a bar must satisfy (positive prices, open and close within [low, high], a volume of at least
0) and that a security has one bar a day are the database's to enforce (CHECK constraints of
revision 0017, the table's unique key), so no check scans the table for them. The price checks
left ask what a constraint cannot: whether the latest bars are fresh (each security's exchange
calendar), whether a load left sessions missing (`price_gaps`, kept by every load: the check
costs the same whatever the history's length) and whether the latest day holds as many bars as its
sessions call for. Each reads each security's latest bars through the (security_id, date) index or
the stored gaps, never the whole table.

None of them blocks downstream: their failures are absences the analytics already state
themselves (a valuation says how many sessions its price is behind; a return across missing
sessions is NULL), and a catch-up load fills them on the next night; held back, the analytics of
every security would go stale for a few securities' missing bars.

The checks of `fx_rates` are warnings too (the table's key and constraints already refuse
duplicate and non-positive rates): every needed currency has a recent rate, and no rate jumps
implausibly from one stored day to the next."""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import Connection

from rm_pipeline.core.calendars import calendar_for, sessions
from rm_pipeline.defs.market.assets import fx_rates, price_history
from rm_pipeline.defs.partitions import last_partition_day, nearest_weekday, partitions_today
from rm_pipeline.defs.resources import PriceChecksResource, WarehouseResource
from rm_pipeline.ingest.fx import last_rate_dates, needed_currencies, rate_jumps
from rm_pipeline.warehouse.freshness import (
    active_listings,
    any_active_bar,
    last_bar_dates,
    latest_day_bars,
)
from rm_pipeline.warehouse.gaps import Gap, gap_lines, open_gaps, unchecked_securities

RECENT_DAYS = 90
"""The recent sessions built once per calendar and run for the freshness and row-count checks, in
calendar days back from today."""
GAPS_NAMED = 20
"""Gaps named in the missing-sessions check's description; the rest are counted."""


@dataclass(frozen=True)
class CheckRun:
    """What the checks of one evaluation share: the connection, today, the run's last partition
    day (today when it has none, never later) and the lag allowed (RM_FRESHNESS_LAG_DAYS)."""

    conn: Connection
    today: date
    day: date
    lag: int


@dataclass(frozen=True)
class Findings:
    """What a check found: its offending rows (none: it passes), and what its result adds."""

    offenders: pd.DataFrame
    description: str | None = None
    metadata: Mapping[str, dg.MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One check as the UI shows it, and the function that finds its offenders."""

    name: str
    description: str
    blocking: bool
    find: Callable[[CheckRun], Findings]

    def spec(self, asset: dg.AssetsDefinition) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name, asset=asset, description=self.description, blocking=self.blocking
        )

    def result(self, run: CheckRun) -> dg.AssetCheckResult:
        found = self.find(run)
        return dg.AssetCheckResult(
            check_name=self.name,
            passed=found.offenders.empty,
            description=found.description,
            metadata={**_offenders_metadata(found.offenders), **found.metadata},
        )


def _offenders_metadata(offenders: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """How many rows offend, and the first 20 as a markdown table."""
    return {
        "offending_rows": dg.MetadataValue.int(len(offenders)),
        "sample": dg.MetadataValue.md(
            offenders.head(20).to_markdown(index=False) if len(offenders) else "_none_"
        ),
    }


def check_run(context: dg.AssetCheckExecutionContext, conn: Connection, lag_days: int) -> CheckRun:
    today = partitions_today()
    day = min(last_partition_day(context.run.tags) or today, today)
    return CheckRun(conn, today, day, lag_days)


def selected_checks(
    context: dg.AssetCheckExecutionContext, checks: tuple[Check, ...]
) -> list[Check]:
    """The checks of `checks` the run selected, in their declared order."""
    selected = {key.name for key in context.selected_asset_check_keys}
    return [check for check in checks if check.name in selected]


def recent_sessions(calendar: str, today: date) -> tuple[date, ...]:
    """The calendar's sessions over the last RECENT_DAYS up to today, oldest first; built once
    per calendar for both the freshness and the row-count check."""
    return sessions(calendar, today - timedelta(days=RECENT_DAYS), today)


def expected_last_session(calendar: str, today: date, lag: int) -> date:
    """The session `lag` sessions before the latest one on or before today."""
    days = recent_sessions(calendar, today)
    return days[-1 - lag] if len(days) > lag else days[0]


def _nothing_to_check(name: str) -> dg.AssetCheckResult:
    """A check of a table holding no bar of any active security fails: an empty warehouse (a
    load that stored nothing, a provider that answered nothing) is not a healthy one."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=False,
        metadata={"reason": dg.MetadataValue.text("no active security has any bar stored")},
        description="price_history holds no bar of any active security: nothing was loaded",
    )


def _text(value: object) -> str | None:
    """A text cell of a frame read from SQL: None for NULL (which pandas may read as NaN)."""
    return value if isinstance(value, str) else None


def stale_securities(conn: Connection, today: date, lag: int) -> pd.DataFrame:
    last = last_bar_dates(conn)
    calendars = [
        calendar_for(_text(exchange), _text(kind), ticker)
        for exchange, kind, ticker in zip(
            last["exchange"], last["security_type"], last["ticker"], strict=True
        )
    ]
    last["expected_by"] = [expected_last_session(c, today, lag) for c in calendars]
    return last[last["last_date"].isna() | (last["last_date"] < last["expected_by"])]


def stale_prices(run: CheckRun) -> Findings:
    return Findings(
        stale_securities(run.conn, run.today, run.lag),
        metadata={"lag_sessions": dg.MetadataValue.int(run.lag)},
    )


def describe_gaps(gaps: list[Gap], unchecked: list[str]) -> str:
    """A line per gap (the first GAPS_NAMED), then the securities whose gaps are unknown."""
    lines = gap_lines(gaps, GAPS_NAMED)
    if unchecked:
        named = ", ".join(unchecked[:GAPS_NAMED])
        more = f" and {len(unchecked) - GAPS_NAMED:,} more" if len(unchecked) > GAPS_NAMED else ""
        lines.append(f"missing sessions unknown (no calendar or sessions stored) for {named}{more}")
    return "\n".join(lines) or "no session missing from any active security's history"


def missing_sessions(run: CheckRun) -> Findings:
    """Every stored gap of an active security, named in the description with its sessions; the
    securities whose gaps are not known (yet) are named too, without failing the check."""
    gaps, unchecked = open_gaps(run.conn), unchecked_securities(run.conn)
    offenders = pd.DataFrame(
        [asdict(gap) for gap in gaps],
        columns=["ticker", "first_missing", "last_missing", "sessions"],
    )
    return Findings(
        offenders,
        description=describe_gaps(gaps, unchecked),
        metadata={
            "missing_sessions": dg.MetadataValue.int(int(offenders["sessions"].sum())),
            "securities_with_gaps": dg.MetadataValue.int(offenders["ticker"].nunique()),
            "securities_unchecked": dg.MetadataValue.int(len(unchecked)),
        },
    )


def trades_on(calendar: str, day: date, today: date) -> bool:
    """Whether the calendar held a session on `day`: from the recent sessions the other checks
    use when the day is among them (a calendar is built once per exchange and run), else from the
    calendar around that day."""
    if today - timedelta(days=RECENT_DAYS) <= day <= today:
        return day in recent_sessions(calendar, today)
    return day in sessions(calendar, day, day)


def shrinking_day(conn: Connection, today: date) -> pd.DataFrame:
    """The latest day with its bars and the bars its sessions call for, when it has fewer than
    half of them; empty otherwise."""
    latest = latest_day_bars(conn)
    if latest.empty:
        return latest.assign(expected=[])
    day = pd.Timestamp(latest["date"].iloc[0]).date()
    calendars = [calendar_for(*listing) for listing in active_listings(conn)]
    expected = sum(trades_on(calendar, day, today) for calendar in calendars)
    latest = latest.assign(expected=expected)
    return latest if latest["rows"].iloc[0] * 2 < expected else latest.iloc[0:0]


PRICE_CHECKS = (
    Check(
        "prices_fresh",
        "Every active security has a bar for its exchange's latest session, allowing "
        "RM_FRESHNESS_LAG_DAYS sessions of lag.",
        blocking=False,
        find=stale_prices,
    ),
    Check(
        "no_missing_sessions",
        "No session of an active security's exchange is missing between its first and last bar, "
        "over its whole history (the gaps every load keeps in price_gaps).",
        blocking=False,
        find=missing_sessions,
    ),
    Check(
        "row_count_steady",
        "The latest day has bars for at least half the active securities whose exchange held a "
        "session that day (a holiday of one market is no shrinking).",
        blocking=False,
        find=lambda run: Findings(shrinking_day(run.conn, run.today)),
    ),
)


@dg.multi_asset_check(
    specs=[check.spec(price_history) for check in PRICE_CHECKS],
    can_subset=True,
)
def price_history_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    price_checks: PriceChecksResource,
) -> Iterator[dg.AssetCheckResult]:
    """Evaluate the selected checks of `price_history`."""
    selected = selected_checks(context, PRICE_CHECKS)
    with warehouse.engine().connect() as conn:
        if not any_active_bar(conn):
            yield from (_nothing_to_check(check.name) for check in selected)
            return
        run = check_run(context, conn, price_checks.freshness_lag_days)
        yield from (check.result(run) for check in selected)


MAX_DAILY_MOVE = 0.20
"""A day-over-day move of a major currency beyond 20 % is far more likely bad data than news."""


def expected_rate_day(day: date, lag: int) -> date:
    """The weekday `lag` weekdays before the latest weekday on or before `day`."""
    expected = nearest_weekday(day, step=-1)
    for _ in range(lag):
        expected = nearest_weekday(expected - timedelta(days=1), step=-1)
    return expected


def stale_rates(conn: Connection, day: date, lag: int) -> pd.DataFrame:
    """Each needed currency whose last rate on or before `day` is older than expected, or which
    has none (last_date empty)."""
    last = last_rate_dates(conn, day).set_index("currency")
    needed = pd.DataFrame({"currency": needed_currencies(conn)})
    last_date = pd.to_datetime(needed["currency"].map(last["last_date"]))  # NaT: none at all
    expected = pd.Timestamp(expected_rate_day(day, lag))
    needed["last_date"] = last_date.dt.date
    needed["expected_by"] = expected.date()
    return needed[last_date.isna() | (last_date < expected)]


def rates_behind(run: CheckRun) -> Findings:
    return Findings(
        stale_rates(run.conn, run.day, run.lag),
        metadata={
            "as_of": dg.MetadataValue.text(run.day.isoformat()),
            "lag_weekdays": dg.MetadataValue.int(run.lag),
        },
    )


FX_CHECKS = (
    Check(
        "rates_fresh",
        "Every currency that active securities, portfolios and trades need has a rate for the "
        "latest weekday on or before the run's last partition (today when the run has none), "
        "allowing RM_FRESHNESS_LAG_DAYS weekdays of lag.",
        blocking=False,
        find=rates_behind,
    ),
    Check(
        "no_implausible_rate_jumps",
        "No rate moves by more than 20 % from one stored day to the next.",
        blocking=False,
        find=lambda run: Findings(rate_jumps(run.conn, MAX_DAILY_MOVE)),
    ),
)


@dg.multi_asset_check(
    specs=[check.spec(fx_rates) for check in FX_CHECKS],
    can_subset=True,
)
def fx_rates_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    price_checks: PriceChecksResource,
) -> Iterator[dg.AssetCheckResult]:
    """Evaluate the selected checks of `fx_rates` against the whole table."""
    selected = selected_checks(context, FX_CHECKS)
    with warehouse.engine().connect() as conn:
        run = check_run(context, conn, price_checks.freshness_lag_days)
        yield from (check.result(run) for check in selected)
