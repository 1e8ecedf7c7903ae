"""The securities master: the universe, upserted on (ticker, exchange); dropped ones deactivated.

It changes only on evidence: a security is created or refreshed from reference data the provider
sent, and deactivated only when the universe no longer names it. A ticker the provider failed on
or had nothing for is left as it is: neither created nor deactivated.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.providers.tickers import normalize_ticker

REFERENCE_COLUMNS = (
    "ticker",
    "exchange",
    "name",
    "security_type",
    "currency",
    "country",
    "sector",
    "industry",
    "description",
)

SECURITIES = UpsertSpec(
    table="securities",
    columns=(*REFERENCE_COLUMNS, "data_source", "is_active"),
    key_columns=("ticker", "exchange"),
    on_change={"last_updated": "CURRENT_TIMESTAMP"},
)

DEACTIVATE_DROPPED = text(
    """
    UPDATE securities AS s SET is_active = false
    WHERE s.is_active AND s.ticker <> ALL(CAST(:unanswered AS text[])) AND NOT EXISTS (
        SELECT 1 FROM unnest(CAST(:tickers AS text[]), CAST(:exchanges AS text[])) AS u(ticker, exchange)
        WHERE u.ticker = s.ticker AND u.exchange IS NOT DISTINCT FROM s.exchange
    )
    """
)


@dataclass(frozen=True)
class UniverseEntry:
    ticker: str
    exchange: str | None = None


@dataclass(frozen=True)
class SecuritiesSync:
    load: LoadResult
    deactivated: int


class UniverseFileError(ValueError):
    """The universe file is malformed; the message names the file and entry."""


def read_universe(path: Path) -> list[UniverseEntry]:
    """Read a universe file: YAML `securities: [{ticker: AAPL, exchange: NASDAQ}, ...]`."""
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("securities") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UniverseFileError(f"{path}: expected a top-level 'securities:' list")
    universe = []
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            entry = {"ticker": entry}
        if not isinstance(entry, dict) or "ticker" not in entry:
            raise UniverseFileError(f"{path}: securities entry {number} has no 'ticker'")
        try:
            ticker = normalize_ticker(str(entry["ticker"]))
        except ValueError as error:
            raise UniverseFileError(f"{path}: securities entry {number}: {error}") from error
        universe.append(UniverseEntry(ticker, entry.get("exchange")))
    return universe


def select_universe(reference: pd.DataFrame, universe: list[UniverseEntry]) -> pd.DataFrame:
    """Keep the reference rows the universe names, honouring an entry's exchange when given."""
    wanted = pd.DataFrame([(e.ticker, e.exchange) for e in universe], columns=["ticker", "want"])
    merged = reference.merge(wanted, on="ticker")
    keep = merged["want"].isna() | (merged["want"] == merged["exchange"])
    return merged.loc[keep, list(reference.columns)].reset_index(drop=True)


def sync_securities(
    conn: Connection,
    reference: pd.DataFrame,
    data_source: str,
    unanswered: Collection[str] = (),
) -> SecuritiesSync:
    """Upsert the reference rows as active and deactivate every active security that is neither
    among them nor `unanswered` (tickers the universe names but the provider failed on or sent
    nothing for: no evidence either way)."""
    frame = reference.loc[:, list(REFERENCE_COLUMNS)].assign(
        data_source=data_source, is_active=True
    )
    frame = frame.astype(object).where(frame.notna(), None)
    load = upsert_frame(conn, frame, SECURITIES)
    deactivated = conn.execute(
        DEACTIVATE_DROPPED,
        {
            "tickers": list(frame["ticker"]),
            "exchanges": list(frame["exchange"]),
            "unanswered": list(unanswered),
        },
    ).rowcount
    return SecuritiesSync(load, deactivated)
