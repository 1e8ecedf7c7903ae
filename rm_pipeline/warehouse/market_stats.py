"""The market data cached on `securities`, derived from `price_history` in one SQL statement.

`current_price`, `volume`, `avg_volume`, `fifty_two_week_high` and `fifty_two_week_low` are the
statistics defined in `rm_pipeline.core.market_statistics`, whose window constants the statement
is built from; the offline providers' snapshot computes the same figures from the same bars.
`last_updated` is the transaction's timestamp, set only when one of them changed.

Securities without any price history are left alone. Each security's trailing year is read through
the (security_id, date) index, so the cost follows the number of securities, not the length of the
stored history.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.core.market_statistics import AVERAGE_VOLUME_WINDOW, TRAILING_YEAR

MARKET_STATS_COLUMNS = (
    "current_price",
    "volume",
    "avg_volume",
    "fifty_two_week_high",
    "fifty_two_week_low",
    "last_updated",
)
"""The columns of `securities` that `REFRESH_MARKET_STATS` sets."""

REFRESH_MARKET_STATS = text(
    """
    WITH latest AS (
        SELECT s.id AS security_id, bar.date, bar.close, bar.volume
        FROM securities AS s
        CROSS JOIN LATERAL latest_bar(s.id) AS bar
    ),
    stats AS (
        SELECT latest.security_id, latest.close AS current_price, latest.volume, trailing_year.*
        FROM latest
        CROSS JOIN LATERAL (
            SELECT
                round(avg(p.volume) FILTER (
                    WHERE p.date > latest.date - CAST(:average_volume_days AS integer)
                ))::bigint AS avg_volume,
                max(coalesce(p.high, p.close)) AS fifty_two_week_high,
                min(coalesce(p.low, p.close)) AS fifty_two_week_low
            FROM price_history AS p
            WHERE p.security_id = latest.security_id
              AND p.date > latest.date - CAST(:trailing_year_days AS integer)
        ) AS trailing_year
    ),
    changed AS (
        UPDATE securities AS s
        SET current_price = stats.current_price,
            volume = stats.volume,
            avg_volume = stats.avg_volume,
            fifty_two_week_high = stats.fifty_two_week_high,
            fifty_two_week_low = stats.fifty_two_week_low,
            last_updated = CURRENT_TIMESTAMP
        FROM stats
        WHERE s.id = stats.security_id
          AND (s.current_price, s.volume, s.avg_volume, s.fifty_two_week_high, s.fifty_two_week_low)
              IS DISTINCT FROM
              (stats.current_price, stats.volume, stats.avg_volume,
               stats.fifty_two_week_high, stats.fifty_two_week_low)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stats), (SELECT count(*) FROM changed)
    """
)

SECURITIES_PREVIEW = text(
    """
    SELECT ticker, current_price, volume, avg_volume, fifty_two_week_low, fifty_two_week_high,
           market_cap, pe_ratio, dividend_yield
    FROM securities WHERE is_active ORDER BY ticker LIMIT 10
    """
)

WINDOW_DAYS = {
    "average_volume_days": AVERAGE_VOLUME_WINDOW.days,
    "trailing_year_days": TRAILING_YEAR.days,
}
"""The statement's windows, in days: those of `rm_pipeline.core.market_statistics`."""


@dataclass(frozen=True)
class MarketStatsResult:
    """`priced`: securities with price history; `updated`: those whose statistics changed."""

    priced: int
    updated: int


def refresh_market_stats(conn: Connection) -> MarketStatsResult:
    """Recompute every security's cached market statistics from its price history."""
    priced, updated = conn.execute(REFRESH_MARKET_STATS, WINDOW_DAYS).one()
    return MarketStatsResult(priced=priced, updated=updated)


def securities_preview(conn: Connection) -> pd.DataFrame:
    """The first ten active securities by ticker, with their market statistics and
    fundamentals."""
    return pd.read_sql_query(SECURITIES_PREVIEW, conn)
