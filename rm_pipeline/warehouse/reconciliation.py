"""Stored closes against a second source's, on the sessions both have.

A close disagrees when the second source's differs from the stored one by more than the
tolerance, a fraction of the stored close (RM_SECOND_PROVIDER_TOLERANCE, 1% by default: two
sources of the same split-adjusted, dividend-unadjusted close agree to rounding; a wrong scale, a
stale quote or a bad print is far beyond it). Sessions only one source has are not compared, and
tickers the second source failed on are named apart: a missing answer is not an agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.providers.base import MarketDataProvider, TickerOutcome

STORED_CLOSES = text(
    """
    SELECT s.ticker, p.date, CAST(p.close AS double precision) AS close
    FROM securities AS s JOIN price_history AS p ON p.security_id = s.id
    WHERE s.is_active AND p.date BETWEEN :start AND :end
    """
)
DISAGREEMENT_COLUMNS = ["ticker", "date", "stored", "second", "difference"]


@dataclass
class Reconciliation:
    """What comparing with a second source found."""

    source: str
    compared: int = 0
    disagreements: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=DISAGREEMENT_COLUMNS)
    )
    failed: list[TickerOutcome] = field(default_factory=list)


def disagreements(stored: pd.DataFrame, second: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """The (ticker, date) pairs both frames (ticker, date, close) have whose closes differ by
    more than `tolerance` of the stored one: ticker, date, stored, second, difference (a
    signed fraction), by ticker and date."""
    both = stored[["ticker", "date", "close"]].merge(
        second[["ticker", "date", "close"]], on=["ticker", "date"], suffixes=("", "_second")
    )
    difference = both["close_second"] / both["close"] - 1
    apart = both.assign(difference=difference)[difference.abs() > tolerance]
    apart = apart.rename(columns={"close": "stored", "close_second": "second"})
    return apart.sort_values(["ticker", "date"]).reset_index(drop=True)[DISAGREEMENT_COLUMNS]


def reconcile(
    conn: Connection, provider: MarketDataProvider, start: date, end: date, tolerance: float
) -> Reconciliation:
    """Compare the active securities' stored closes over [start, end] with `provider`'s."""
    stored = pd.read_sql_query(STORED_CLOSES, conn, params={"start": start, "end": end})
    stored["date"] = pd.to_datetime(stored["date"])
    result = Reconciliation(provider.name)
    if stored.empty:
        return result
    fetched = provider.daily_bars(sorted(stored["ticker"].unique()), start, end)
    on_both = stored.merge(fetched.frame[["ticker", "date"]], on=["ticker", "date"])
    result.compared = len(on_both)
    result.disagreements = disagreements(stored, fetched.frame, tolerance)
    result.failed = fetched.failed()
    return result


def describe(apart: pd.DataFrame) -> list[str]:
    """One phrase per disagreement: `AAPL 2024-05-02: 173.03 vs 169.3 (-2.16%)`."""
    return [
        f"{ticker} {pd.Timestamp(day).date()}: {stored:g} vs {second:g} ({difference:+.2%})"
        for ticker, day, stored, second, difference in zip(
            apart["ticker"], apart["date"], apart["stored"], apart["second"],
            apart["difference"], strict=True,
        )
    ]  # fmt: skip
