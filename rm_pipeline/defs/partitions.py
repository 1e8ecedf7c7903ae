"""Trading-day partitions and their keys: one key per weekday, New York time, from a declared
history start (RM_HISTORY_START, a fixed date: `rm_pipeline.defs.market.partitions`) to today's key; holidays are empty partitions. A Friday's
partition runs to Monday, so it holds the weekend's bars of 24/7 markets. The first key never
depends on the day the definitions load; what `make run` loads is its own choice
(`rm_pipeline.pipeline.history_range`).

A range of partitions is loaded as one run (`price_history`'s single-run backfill policy); the run
names its range with Dagster's two range tags, which `range_tags` builds.
"""

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

SATURDAY = 5
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
PARTITION_TIMEZONE = ZoneInfo("America/New_York")


def trading_days(start: date) -> dg.TimeWindowPartitionsDefinition:
    """Weekday partitions from `start` (moved to the next weekday) to today's key included, so
    the evening schedule can load the day just closed."""
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * 1-5",
        start=first_partition_key(start),
        fmt="%Y-%m-%d",
        timezone=PARTITION_TIMEZONE.key,
        end_offset=1,
    )


def partitions_today() -> date:
    """Today in New York, where the partitions' days turn: the day of the newest partition key.
    Past 7 p.m. New York time the UTC date is already tomorrow's, which has no partition yet."""
    return datetime.now(PARTITION_TIMEZONE).date()


def nearest_weekday(day: date, step: int) -> date:
    """`day` if it is a weekday, else the next (`step` 1) or previous (`step` -1) weekday."""
    while day.weekday() >= SATURDAY:
        day += timedelta(days=step)
    return day


def first_partition_key(start: date) -> str:
    """The first key of partitions starting at `start`: the weekday it is or next comes."""
    return nearest_weekday(start, step=1).isoformat()


def partition_key_of(day: date) -> str:
    """The key of the partition holding `day`: the day itself, or Friday for a weekend day."""
    return nearest_weekday(day, step=-1).isoformat()


def range_tags(first: str, last: str) -> dict[str, str]:
    """Tags making a run of the price job load the partitions `first` to `last` as one range."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def last_partition_day(tags: Mapping[str, str]) -> date | None:
    """The day of a run's last partition (its range's end, or its one partition), from its tags;
    None for a run of no partition."""
    key = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    return date.fromisoformat(key) if key else None
