"""Daily exchange rates of the currencies the warehouse holds values in, stored against USD.

The currencies needed are the major currencies (through `currency_units`: GBp is GBP) of active
securities, portfolios and trades, except USD. They are fetched in one provider call for the
whole range, each as its Yahoo pair (`EURUSD=X`), and loaded in one transaction through the bulk
loader: a re-run rewrites only changed rates. A pair the provider failed on is reported and costs
only that pair; rows the provider set aside go to the quarantine with the run's id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, text

from rm_pipeline.db.changes import declare_change
from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.ingest.quarantine import quarantine
from rm_pipeline.providers.base import MarketDataProvider, TickerOutcome
from rm_pipeline.providers.frames import RejectedFrame, empty_frame

log = logging.getLogger(__name__)

FX_RATES = UpsertSpec(
    table="fx_rates",
    columns=("base_currency", "quote_currency", "date", "rate", "data_source"),
    key_columns=("base_currency", "quote_currency", "date"),
)

NEEDED_CURRENCIES = text(
    """
    WITH used(code) AS (
        SELECT currency FROM securities WHERE is_active
        UNION SELECT currency FROM portfolios
        UNION SELECT currency FROM trades
    )
    SELECT DISTINCT coalesce(u.major_currency, used.code) AS currency
    FROM used LEFT JOIN currency_units u ON u.code = used.code
    WHERE used.code IS NOT NULL AND coalesce(u.major_currency, used.code) <> 'USD'
    ORDER BY currency
    """
)


STORED_RATE_DAYS = text(
    "SELECT base_currency, date FROM fx_rates "
    "WHERE quote_currency = 'USD' AND date BETWEEN :since AND :day"
)

LATEST_RATES = text(
    """
    SELECT DISTINCT ON (base_currency) base_currency, quote_currency, date, rate
    FROM fx_rates WHERE date <= :end ORDER BY base_currency, date DESC
    """
)
STORED_RATES_PER_DAY = text(
    "SELECT date, count(*) FROM fx_rates WHERE date BETWEEN :start AND :end GROUP BY date"
)
LAST_RATE_DATES = text(
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


@dataclass
class FxLoadReport:
    """What one load of exchange rates did, for logs and asset metadata."""

    start: date
    end: date
    currencies: list[str] = field(default_factory=list)
    rates: LoadResult = field(default_factory=LoadResult)
    rejected: pd.DataFrame = field(default_factory=lambda: empty_frame(RejectedFrame))
    failed: list[TickerOutcome] = field(default_factory=list)
    quarantined: LoadResult = field(default_factory=LoadResult)


def needed_currencies(conn: Connection) -> list[str]:
    """The major currencies, other than USD, of active securities, portfolios and trades."""
    return list(conn.execute(NEEDED_CURRENCIES).scalars())


def latest_rates(conn: Connection, end: date) -> pd.DataFrame:
    """Each base currency's latest stored rate on or before `end`."""
    return pd.read_sql_query(LATEST_RATES, conn, params={"end": end})


def stored_rates_per_day(conn: Connection, start: date, end: date) -> dict[date, int]:
    """Rates stored per date over [start, end]."""
    params = {"start": start, "end": end}
    return {day: rows for day, rows in conn.execute(STORED_RATES_PER_DAY, params)}


def last_rate_dates(conn: Connection, day: date) -> pd.DataFrame:
    """The date of each currency's last rate in dollars on or before `day` (columns `currency`,
    `last_date`); a currency without any is absent."""
    return pd.read_sql_query(LAST_RATE_DATES, conn, params={"day": day})


def rate_jumps(conn: Connection, limit: float) -> pd.DataFrame:
    """Every stored rate that moved by more than `limit` (a fraction) from the pair's previous
    stored day, latest first."""
    return pd.read_sql_query(RATE_JUMPS, conn, params={"limit": limit})


def first_missing_rate(conn: Connection, day: date, lookback_weekdays: int) -> date | None:
    """The earliest of the last `lookback_weekdays` weekdays up to `day` on which a needed
    currency has no stored rate (a day the provider or one pair failed), or None."""
    weekdays = [d.date() for d in pd.bdate_range(end=day, periods=lookback_weekdays)]
    if not weekdays:
        return None
    params = {"since": weekdays[0], "day": day}
    stored = {
        (currency, stored_day) for currency, stored_day in conn.execute(STORED_RATE_DAYS, params)
    }
    needed = needed_currencies(conn)
    missing = (d for d in weekdays for c in needed if (c, d) not in stored)
    return min(missing, default=None)


def ingest_fx_rates(
    engine: Engine,
    provider: MarketDataProvider,
    start: date,
    end: date,
    run_id: str | None = None,
) -> FxLoadReport:
    """Load the rates of every needed currency over [start, end]; counts are kept per date."""
    with engine.connect() as conn:
        report = FxLoadReport(start=start, end=end, currencies=needed_currencies(conn))
    if not report.currencies:
        return report
    result = provider.fx_rates(report.currencies, start, end)
    for outcome in result.failed():
        log.warning("%s: %s: %s", outcome.ticker, outcome.status, outcome.reason)
    rows = result.frame.assign(
        date=result.frame["date"].astype("date32[pyarrow]"), data_source=provider.name
    )
    with engine.begin() as conn:
        report.quarantined = quarantine(conn, result.rejected, "fx_rates", provider.name, run_id)
        declare_change(conn, f"rates sent again by {provider.name}", run_id)
        report.rates = upsert_frame(
            conn, rows.loc[:, list(FX_RATES.columns)], FX_RATES, count_by="date"
        )
    report.rejected, report.failed = result.rejected, result.failed()
    log.info(
        "fx_rates %s to %s, %d currencies: %d inserted, %d updated, %d unchanged, %d rejected, "
        "%d failed pairs",
        start, end, len(report.currencies), report.rates.inserted, report.rates.updated,
        report.rates.unchanged, len(report.rejected), len(report.failed),
    )  # fmt: skip
    return report
