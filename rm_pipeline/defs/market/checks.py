"""Checks of `price_history`, evaluated together after each materialization (one step, one
database connection, calendars built once), and each runnable on its own from the UI or the
`check_prices` job. OHLC consistency and duplicates are blocking: a bad batch must not flow into
the stats and valuations computed from it. Freshness follows each security's exchange calendar.
Missing sessions are read from `price_gaps`, which every load keeps over the whole stored history
(`rm_pipeline.warehouse.gaps`), so the check costs the same whatever the history's length.

Checks of `fx_rates` sit beside them, both warnings (the table's key and constraints already
refuse duplicate and non-positive rates): every needed currency has a recent rate, and no rate
jumps implausibly from one stored day to the next."""

from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.defs.market.assets import fx_rates, price_history
from rm_pipeline.defs.partitions import last_partition_day, nearest_weekday, partitions_today
from rm_pipeline.defs.resources import WarehouseResource
from rm_pipeline.ingest.fx import needed_currencies
from rm_pipeline.providers.calendars import ticker_sessions
from rm_pipeline.settings import get_settings
from rm_pipeline.warehouse.gaps import Gap, gap_lines, open_gaps, unchecked_securities

INCONSISTENT_BARS = text(
    """
    SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume
    FROM price_history p JOIN securities s ON s.id = p.security_id
    WHERE p.close <= 0 OR p.high < p.low
       OR p.open NOT BETWEEN p.low AND p.high OR p.close NOT BETWEEN p.low AND p.high
       OR p.volume < 0
    ORDER BY p.date DESC
    """
)
DUPLICATE_BARS = text(
    """
    SELECT CAST(security_id AS text) AS security_id, date, count(*) AS copies
    FROM price_history GROUP BY security_id, date HAVING count(*) > 1
    """
)
# The freshness and row-count checks read each security's latest bars through the
# (security_id, date) index, one lookup per security, so a night's checks cost the same with 2 or
# 15 years stored; a scan of price_history grows with every day loaded.
LAST_DATES = text(
    """
    SELECT s.ticker,
           (SELECT max(p.date) FROM price_history p WHERE p.security_id = s.id) AS last_date
    FROM securities s WHERE s.is_active ORDER BY s.ticker
    """
)
LATEST_DAY_ROWS = text(
    """
    WITH latest AS (
        SELECT max((SELECT max(p.date) FROM price_history p WHERE p.security_id = s.id)) AS day
        FROM securities s
    )
    SELECT latest.day AS date, count(*) AS rows FROM latest CROSS JOIN securities s
    WHERE EXISTS (SELECT 1 FROM price_history p WHERE p.security_id = s.id AND p.date = latest.day)
    GROUP BY latest.day
    """
)
ACTIVE_TICKERS = text("SELECT ticker FROM securities WHERE is_active")
RECENT_DAYS = 90
"""The recent sessions built once per calendar and run for the freshness and row-count checks, in
calendar days back from today."""
GAPS_NAMED = 20
"""Gaps named in the missing-sessions check's description; the rest are counted."""

CHECKS = {
    "ohlc_consistent": "Every bar has a positive close, high >= low, open and close within "
    "[low, high] and volume >= 0.",
    "no_duplicate_bars": "At most one bar per security and date.",
    "prices_fresh": "Every active security has a bar for its exchange's latest session, allowing "
    "RM_FRESHNESS_LAG_DAYS sessions of lag.",
    "no_missing_sessions": "No session of an active security's exchange is missing between its "
    "first and last bar, over its whole history (the gaps every load keeps in price_gaps).",
    "row_count_steady": "The latest day has bars for at least half the active securities whose "
    "exchange held a session that day (a holiday of one market is no shrinking).",
}
BLOCKING = {"ohlc_consistent", "no_duplicate_bars"}


def recent_sessions(ticker: str, today: date) -> tuple[date, ...]:
    """The ticker's exchange sessions over the last RECENT_DAYS up to today, oldest first;
    built once per calendar for both the freshness and the row-count check."""
    return ticker_sessions(ticker, today - timedelta(days=RECENT_DAYS), today)


def expected_last_session(ticker: str, today: date, lag: int) -> date:
    """The session `lag` sessions before the latest one on or before today."""
    days = recent_sessions(ticker, today)
    return days[-1 - lag] if len(days) > lag else days[0]


def _offenders_metadata(offenders: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """How many rows offend, and the first 20 as a markdown table."""
    return {
        "offending_rows": dg.MetadataValue.int(len(offenders)),
        "sample": dg.MetadataValue.md(
            offenders.head(20).to_markdown(index=False) if len(offenders) else "_none_"
        ),
    }


def _result(
    name: str, offenders: pd.DataFrame, **metadata: dg.MetadataValue
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=offenders.empty,
        metadata={**_offenders_metadata(offenders), **metadata},
    )


ANY_ACTIVE_BAR = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM securities s
        WHERE s.is_active AND EXISTS (SELECT 1 FROM price_history p WHERE p.security_id = s.id)
    )
    """
)


def _nothing_to_check(name: str) -> dg.AssetCheckResult:
    """A check of a table holding no bar of any active security fails: an empty warehouse (a
    load that stored nothing, a provider that answered nothing) is not a healthy one."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=False,
        metadata={"reason": dg.MetadataValue.text("no active security has any bar stored")},
        description="price_history holds no bar of any active security: nothing was loaded",
    )


def stale_securities(conn: Connection, today: date, lag: int) -> pd.DataFrame:
    last = pd.read_sql_query(LAST_DATES, conn)
    last["expected_by"] = [expected_last_session(t, today, lag) for t in last["ticker"]]
    return last[last["last_date"].isna() | (last["last_date"] < last["expected_by"])]


def describe_gaps(gaps: list[Gap], unchecked: list[str]) -> str:
    """A line per gap (the first GAPS_NAMED), then the securities whose gaps are unknown."""
    lines = gap_lines(gaps, GAPS_NAMED)
    if unchecked:
        named = ", ".join(unchecked[:GAPS_NAMED])
        more = f" and {len(unchecked) - GAPS_NAMED:,} more" if len(unchecked) > GAPS_NAMED else ""
        lines.append(f"missing sessions unknown (no calendar or sessions stored) for {named}{more}")
    return "\n".join(lines) or "no session missing from any active security's history"


def missing_sessions(conn: Connection) -> dg.AssetCheckResult:
    """Every stored gap of an active security, named in the description with its sessions; the
    securities whose gaps are not known (yet) are named too, without failing the check."""
    gaps, unchecked = open_gaps(conn), unchecked_securities(conn)
    offenders = pd.DataFrame(
        [asdict(gap) for gap in gaps],
        columns=["ticker", "first_missing", "last_missing", "sessions"],
    )
    return dg.AssetCheckResult(
        check_name="no_missing_sessions",
        passed=offenders.empty,
        description=describe_gaps(gaps, unchecked),
        metadata={
            **_offenders_metadata(offenders),
            "missing_sessions": dg.MetadataValue.int(int(offenders["sessions"].sum())),
            "securities_with_gaps": dg.MetadataValue.int(offenders["ticker"].nunique()),
            "securities_unchecked": dg.MetadataValue.int(len(unchecked)),
        },
    )


def trades_on(ticker: str, day: date, today: date) -> bool:
    """Whether the ticker's exchange held a session on `day`: from the recent sessions the other
    checks use when the day is among them (a calendar is built once per exchange and run), else
    from the calendar around that day."""
    if today - timedelta(days=RECENT_DAYS) <= day <= today:
        return day in recent_sessions(ticker, today)
    return day in ticker_sessions(ticker, day, day)


def shrinking_day(conn: Connection, today: date) -> pd.DataFrame:
    """The latest day with its bars and the bars its sessions call for, when it has fewer than
    half of them; empty otherwise."""
    latest = pd.read_sql_query(LATEST_DAY_ROWS, conn)
    if latest.empty:
        return latest.assign(expected=[])
    day = pd.Timestamp(latest["date"].iloc[0]).date()
    tickers = conn.execute(ACTIVE_TICKERS).scalars()
    expected = sum(trades_on(ticker, day, today) for ticker in tickers)
    latest = latest.assign(expected=expected)
    return latest if latest["rows"].iloc[0] * 2 < expected else latest.iloc[0:0]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=price_history, description=text_, blocking=name in BLOCKING)
        for name, text_ in CHECKS.items()
    ],
    can_subset=True,
)
def price_history_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Evaluate the selected checks of `price_history` against the whole table."""
    selected = {key.name for key in context.selected_asset_check_keys}
    today = partitions_today()
    lag = get_settings().freshness_lag_days
    with warehouse.engine().connect() as conn:
        if not conn.execute(ANY_ACTIVE_BAR).scalar():
            yield from (_nothing_to_check(name) for name in CHECKS if name in selected)
            return
        lag_metadata = {"lag_sessions": dg.MetadataValue.int(lag)}
        results: dict[str, Callable[[], dg.AssetCheckResult]] = {
            "ohlc_consistent": lambda: _result(
                "ohlc_consistent", pd.read_sql_query(INCONSISTENT_BARS, conn)
            ),
            "no_duplicate_bars": lambda: _result(
                "no_duplicate_bars", pd.read_sql_query(DUPLICATE_BARS, conn)
            ),
            "prices_fresh": lambda: _result(
                "prices_fresh", stale_securities(conn, today, lag), **lag_metadata
            ),
            "no_missing_sessions": lambda: missing_sessions(conn),
            "row_count_steady": lambda: _result("row_count_steady", shrinking_day(conn, today)),
        }
        for name in CHECKS:
            if name in selected:
                yield results[name]()


LAST_RATES = text(
    """
    SELECT base_currency AS currency, max(date) AS last_date FROM fx_rates
    WHERE quote_currency = 'USD' AND date <= :day GROUP BY base_currency
    """
)
RATE_JUMPS = text(
    """
    SELECT base_currency, quote_currency, previous_date, previous_rate, date, rate
    FROM (
        SELECT base_currency, quote_currency, date, rate,
               lag(date) OVER pair AS previous_date, lag(rate) OVER pair AS previous_rate
        FROM fx_rates WINDOW pair AS (PARTITION BY base_currency, quote_currency ORDER BY date)
    ) AS moves
    WHERE abs(rate / previous_rate - 1) > :limit
    ORDER BY date DESC
    """
)
MAX_DAILY_MOVE = 0.20
"""A day-over-day move of a major currency beyond 20 % is far more likely bad data than news."""

FX_CHECKS = {
    "rates_fresh": "Every currency that active securities, portfolios and trades need has a "
    "rate for the latest weekday on or before the run's last partition (today when the run has "
    "none), allowing RM_FRESHNESS_LAG_DAYS weekdays of lag.",
    "no_implausible_rate_jumps": "No rate moves by more than 20 % from one stored day to the next.",
}


def expected_rate_day(day: date, lag: int) -> date:
    """The weekday `lag` weekdays before the latest weekday on or before `day`."""
    expected = nearest_weekday(day, step=-1)
    for _ in range(lag):
        expected = nearest_weekday(expected - timedelta(days=1), step=-1)
    return expected


def stale_rates(conn: Connection, day: date, lag: int) -> pd.DataFrame:
    """Each needed currency whose last rate on or before `day` is older than expected, or which
    has none (last_date empty)."""
    last = pd.read_sql_query(LAST_RATES, conn, params={"day": day}).set_index("currency")
    needed = pd.DataFrame({"currency": needed_currencies(conn)})
    last_date = pd.to_datetime(needed["currency"].map(last["last_date"]))  # NaT: none at all
    expected = pd.Timestamp(expected_rate_day(day, lag))
    needed["last_date"] = last_date.dt.date
    needed["expected_by"] = expected.date()
    return needed[last_date.isna() | (last_date < expected)]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=fx_rates, description=text_, blocking=False)
        for name, text_ in FX_CHECKS.items()
    ],
    can_subset=True,
)
def fx_rates_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Evaluate the selected checks of `fx_rates` against the whole table."""
    selected = {key.name for key in context.selected_asset_check_keys}
    today = partitions_today()
    day = min(last_partition_day(context.run.tags) or today, today)
    lag = get_settings().freshness_lag_days
    with warehouse.engine().connect() as conn:
        offenders: dict[str, Callable[[], pd.DataFrame]] = {
            "rates_fresh": lambda: stale_rates(conn, day, lag),
            "no_implausible_rate_jumps": lambda: pd.read_sql_query(
                RATE_JUMPS, conn, params={"limit": MAX_DAILY_MOVE}
            ),
        }
        extra = {
            "rates_fresh": {
                "as_of": dg.MetadataValue.text(day.isoformat()),
                "lag_weekdays": dg.MetadataValue.int(lag),
            }
        }
        for name in FX_CHECKS:
            if name in selected:
                yield _result(name, offenders[name](), **extra.get(name, {}))
