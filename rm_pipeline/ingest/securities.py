"""The securities master: the universe, upserted on (ticker, exchange); dropped ones deactivated.

It changes only on evidence: a security is created or refreshed from reference data the provider
sent, and deactivated only when the universe no longer names it. A ticker the provider failed on
or had nothing for is left as it is: neither created nor deactivated.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.providers.frames import SECURITY_TYPES
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


UNIVERSE_FIELDS = ("exchange", "currency", "name", "security_type", "country", "sector", "industry")
"""What a universe entry may set besides its ticker; each replaces the provider's value."""


@dataclass(frozen=True)
class UniverseEntry:
    """One security of the universe file: its ticker and the reference values it sets."""

    ticker: str
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecuritiesSync:
    load: LoadResult
    deactivated: int


class UniverseFileError(ValueError):
    """The universe file is malformed; the message names the file and entry."""


def read_universe(path: Path) -> list[UniverseEntry]:
    """Read a universe file: YAML `securities: [AAPL, {ticker: SHEL.L, exchange: LSE}, ...]`.

    An entry may set any of UNIVERSE_FIELDS (a price file gives no exchange, say); the values
    it sets replace what the provider reports."""
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("securities") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UniverseFileError(f"{path}: expected a top-level 'securities:' list")
    return [_universe_entry(path, number, entry) for number, entry in enumerate(entries, start=1)]


def _universe_entry(path: Path, number: int, entry: object) -> UniverseEntry:
    if isinstance(entry, str):
        entry = {"ticker": entry}
    if not isinstance(entry, dict) or "ticker" not in entry:
        raise UniverseFileError(f"{path}: securities entry {number} has no 'ticker'")
    if unknown := sorted(set(entry) - {"ticker", *UNIVERSE_FIELDS}):
        raise UniverseFileError(
            f"{path}: securities entry {number}: unknown field(s) {', '.join(map(str, unknown))} "
            f"(allowed: ticker, {', '.join(UNIVERSE_FIELDS)})"
        )
    try:
        ticker = normalize_ticker(str(entry["ticker"]))
    except ValueError as error:
        raise UniverseFileError(f"{path}: securities entry {number}: {error}") from error
    overrides = {name: str(value).strip() for name, value in entry.items() if name != "ticker"}
    if overrides.get("security_type", SECURITY_TYPES[0]) not in SECURITY_TYPES:
        raise UniverseFileError(
            f"{path}: securities entry {number} ({ticker}), field security_type: "
            f"{overrides['security_type']!r} is not one of {', '.join(SECURITY_TYPES)}"
        )
    if empty := [name for name, value in overrides.items() if not value]:
        raise UniverseFileError(
            f"{path}: securities entry {number} ({ticker}), field {empty[0]}: empty"
        )
    return UniverseEntry(ticker, overrides)


def select_universe(reference: pd.DataFrame, universe: list[UniverseEntry]) -> pd.DataFrame:
    """The reference row of each universe entry, with the values the entry sets. An entry's
    exchange picks that listing when the provider reports the ticker on it, and sets the
    exchange otherwise."""
    selected = []
    for entry in universe:
        rows = reference[reference["ticker"] == entry.ticker]
        if "exchange" in entry.overrides:
            listed = rows[rows["exchange"] == entry.overrides["exchange"]]
            rows = listed if len(listed) else rows.head(1)
        selected.append(rows.assign(**entry.overrides))
    if not selected:
        return reference.head(0)
    return pd.concat(selected, ignore_index=True).drop_duplicates(["ticker", "exchange"])


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
