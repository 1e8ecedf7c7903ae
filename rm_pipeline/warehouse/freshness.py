"""How current the stored bars are, for the price checks: each active security's last bar date,
and the bars of the latest day.

Both read each security's latest bar through the (security_id, date) index (`latest_bar()` and
`valuation_date()`, migration 0018), one lookup per security, so they cost the same with 2 or 15
years stored; a scan of price_history grows with every day loaded.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

LAST_BAR_DATES = text(
    """
    SELECT s.ticker, s.exchange, s.security_type, bar.date AS last_date
    FROM securities AS s LEFT JOIN LATERAL latest_bar(s.id) AS bar ON true
    WHERE s.is_active ORDER BY s.ticker
    """
)
LATEST_DAY_BARS = text(
    """
    WITH latest AS MATERIALIZED (SELECT valuation_date() AS day)
    SELECT latest.day AS date, count(*) AS rows FROM latest CROSS JOIN securities s
    WHERE EXISTS (SELECT 1 FROM price_history p WHERE p.security_id = s.id AND p.date = latest.day)
    GROUP BY latest.day
    """
)
ACTIVE_LISTINGS = text("SELECT exchange, security_type, ticker FROM securities WHERE is_active")
ANY_ACTIVE_BAR = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM securities s
        WHERE s.is_active AND EXISTS (SELECT 1 FROM price_history p WHERE p.security_id = s.id)
    )
    """
)


def last_bar_dates(conn: Connection) -> pd.DataFrame:
    """Each active security's ticker, exchange, type and `last_date` (empty without bars), by
    ticker."""
    return pd.read_sql_query(LAST_BAR_DATES, conn)


def latest_day_bars(conn: Connection) -> pd.DataFrame:
    """The latest day with bars (`date`) and how many securities have one that day (`rows`); no
    row for an empty history."""
    return pd.read_sql_query(LATEST_DAY_BARS, conn)


def active_listings(conn: Connection) -> list[tuple[str | None, str | None, str]]:
    """Each active security's exchange, type and ticker: what its trading calendar follows."""
    return [(exchange, kind, ticker) for exchange, kind, ticker in conn.execute(ACTIVE_LISTINGS)]


def any_active_bar(conn: Connection) -> bool:
    """Whether any active security has a bar stored."""
    return bool(conn.execute(ANY_ACTIVE_BAR).scalar())
