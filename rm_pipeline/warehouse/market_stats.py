"""The market data cached on `securities`, derived from `price_history` in one SQL statement.

Every statistic is taken relative to the security's own latest bar, so a security whose history
stops early keeps the figures of its last trading days instead of going blank:

- `current_price`: the close of the latest bar.
- `volume`: the volume of the latest bar.
- `avg_volume`: the mean daily volume of the bars dated after (latest date - 3 calendar months), up
  to and including the latest bar, rounded half away from zero to whole shares; bars without a
  volume are left out. Calendar months rather than a count of 63 bars: a gap in the history then
  shortens the sample instead of reaching further back in time.
- `fifty_two_week_high` / `fifty_two_week_low`: the highest high and lowest low of the bars dated
  after (latest date - 52 weeks), i.e. 364 days, up to and including the latest bar; a bar's close
  stands in for its missing high or low.
- `last_updated`: the transaction's timestamp, set only when one of the values above changed.

Securities without any price history are left alone. Each security's trailing year is read through
the (security_id, date) index, so the cost follows the number of securities, not the length of the
stored history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

REFRESH_MARKET_STATS = text(
    """
    WITH latest AS (
        SELECT s.id AS security_id, bar.date, bar.close, bar.volume
        FROM securities AS s
        CROSS JOIN LATERAL (
            SELECT p.date, p.close, p.volume
            FROM price_history AS p
            WHERE p.security_id = s.id
            ORDER BY p.date DESC
            LIMIT 1
        ) AS bar
    ),
    stats AS (
        SELECT latest.security_id, latest.close AS current_price, latest.volume, trailing_year.*
        FROM latest
        CROSS JOIN LATERAL (
            SELECT
                round(avg(p.volume) FILTER (WHERE p.date > latest.date - interval '3 months'))
                    ::bigint AS avg_volume,
                max(coalesce(p.high, p.close)) AS fifty_two_week_high,
                min(coalesce(p.low, p.close)) AS fifty_two_week_low
            FROM price_history AS p
            WHERE p.security_id = latest.security_id
              AND p.date > latest.date - interval '52 weeks'
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


@dataclass(frozen=True)
class MarketStatsResult:
    """`priced`: securities with price history; `updated`: those whose statistics changed."""

    priced: int
    updated: int


def refresh_market_stats(conn: Connection) -> MarketStatsResult:
    """Recompute every security's cached market statistics from its price history."""
    priced, updated = conn.execute(REFRESH_MARKET_STATS).one()
    return MarketStatsResult(priced=priced, updated=updated)
