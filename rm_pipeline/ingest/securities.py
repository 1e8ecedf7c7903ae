"""The securities master: the universe, upserted on (ticker, exchange); dropped ones deactivated.

It changes only on evidence: a security is created or refreshed from reference data the provider
sent, and deactivated only when the universe no longer names it. A ticker the provider failed on
or had nothing for is left as it is: neither created nor deactivated.

One identity per security. A listing that moves exchange (the provider now reports the ticker on
NASDAQ instead of NYSE) keeps its row, its `id`, and so its price history, holdings and positions:
its `exchange` is updated in place. A ticker moves when all of these hold:

- the universe names the ticker on exactly one exchange, and not on its stored one: a ticker the
  universe names on two exchanges is a dual listing, each listing its own security;
- the ticker has exactly one active stored listing: with two or more, which one moved is unknown,
  so the one named is inserted and the others are deactivated as usual;
- no stored row, active or not, already holds the ticker on the new exchange. Such a row is a
  former listing there with a history of its own: it is reactivated and the moving one
  deactivated, as before, and a warning says so; histories are never merged.

A move back (NASDAQ to NYSE again) is just another move of the same row. An exchange a universe
file entry sets is the one stored (`select_universe`), so a move the provider reports does not move
a security the file pins; editing the entry's exchange does. Every move is logged and reported in
`SecuritiesSync.moved`.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.providers.currencies import is_currency
from rm_pipeline.providers.frames import SECURITY_TYPES
from rm_pipeline.providers.tickers import normalize_ticker

log = logging.getLogger(__name__)

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

SECURITIES_COLUMNS = (*SECURITIES.columns, *SECURITIES.on_change)
"""The columns of `securities` the master's sync writes."""

DEACTIVATE_DROPPED = text(
    """
    UPDATE securities AS s SET is_active = false
    WHERE s.is_active AND s.ticker <> ALL(CAST(:unanswered AS text[])) AND NOT EXISTS (
        SELECT 1 FROM unnest(CAST(:tickers AS text[]), CAST(:exchanges AS text[])) AS u(ticker, exchange)
        WHERE u.ticker = s.ticker AND u.exchange IS NOT DISTINCT FROM s.exchange
    )
    """
)

STORED_LISTINGS = text(
    """
    SELECT id, ticker, exchange, is_active IS TRUE AS active
    FROM securities WHERE ticker = ANY(CAST(:tickers AS text[]))
    """
)

MOVE_EXCHANGE = text(
    "UPDATE securities SET exchange = :exchange, last_updated = CURRENT_TIMESTAMP WHERE id = :id"
)


UNIVERSE_FIELDS = ("exchange", "currency", "name", "security_type", "country", "sector", "industry")
"""What a universe entry may set besides its ticker; each replaces the provider's value."""


@dataclass(frozen=True)
class UniverseEntry:
    """One security of the universe file: its ticker and the reference values it sets."""

    ticker: str
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredListing:
    """One stored row of a ticker."""

    security_id: uuid.UUID
    ticker: str
    exchange: str | None
    active: bool


@dataclass(frozen=True)
class ExchangeMove:
    """A security now listed on another exchange: its row, and so its id, moves with it."""

    security_id: uuid.UUID
    ticker: str
    old_exchange: str | None
    new_exchange: str | None

    def __str__(self) -> str:
        return (
            f"{self.ticker}: {self.old_exchange or 'no exchange'} -> "
            f"{self.new_exchange or 'no exchange'}"
        )


@dataclass(frozen=True)
class SecuritiesSync:
    load: LoadResult
    deactivated: int
    moved: tuple[ExchangeMove, ...] = ()


class UniverseFileError(ValueError):
    """The universe file is malformed; the message names the file, and the line or entry."""


class _UniverseLoader(yaml.SafeLoader):
    """YAML whose plain scalars are all strings but null (`~`, `null`, nothing): YAML 1.1 would
    read the ticker `ON` as a boolean and `0700` as the octal number 448."""


_UniverseLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_universe(path: Path) -> list[UniverseEntry]:
    """Read a universe file: YAML `securities: [AAPL, {ticker: SHEL.L, exchange: LSE}, ...]`.

    An entry may set any of UNIVERSE_FIELDS (a price file gives no exchange, say); the values
    it sets replace what the provider reports. Every value is read as written, as text."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UniverseFileError(f"{path}, line {line}: not UTF-8 text") from None
    try:
        document = yaml.load(text, Loader=_UniverseLoader) or {}
    except yaml.YAMLError as error:
        raise UniverseFileError(f"{path}, {_yaml_problem(text, error)}") from None
    entries = document.get("securities") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UniverseFileError(f"{path}: expected a top-level 'securities:' list")
    if not entries:  # it would deactivate every security
        raise UniverseFileError(f"{path}: the 'securities:' list is empty")
    return [_universe_entry(path, number, entry) for number, entry in enumerate(entries, start=1)]


def _yaml_problem(text: str, error: yaml.YAMLError) -> str:
    """Where in `text` and what YAML found wrong, in one line: `line 3: not valid YAML: ...`."""
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        return f"line {line}: not text: character U+{error.character:04X} ({error.reason})"
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        return f"line {error.problem_mark.line + 1}: not valid YAML: {error.problem}"
    return f"not valid YAML: {' '.join(str(error).split())}"


def _universe_entry(path: Path, number: int, entry: object) -> UniverseEntry:
    where = f"{path}: securities entry {number}"
    if entry is None or isinstance(entry, str):
        entry = {"ticker": entry}
    if not isinstance(entry, dict) or "ticker" not in entry:
        raise UniverseFileError(f"{where} has no 'ticker'")
    if unknown := sorted(map(str, set(entry) - {"ticker", *UNIVERSE_FIELDS})):
        raise UniverseFileError(
            f"{where}: unknown field(s) {', '.join(unknown)} "
            f"(allowed: ticker, {', '.join(UNIVERSE_FIELDS)})"
        )
    if entry["ticker"] is None:
        raise UniverseFileError(f"{where}: the ticker is empty")
    try:
        ticker = normalize_ticker(entry["ticker"])
    except ValueError as error:
        raise UniverseFileError(f"{where}: {error}") from error
    overrides = {
        name: _override(f"{where} ({ticker}), field {name}", value)
        for name, value in entry.items()
        if name != "ticker"
    }
    if overrides.get("security_type", SECURITY_TYPES[0]) not in SECURITY_TYPES:
        raise UniverseFileError(
            f"{where} ({ticker}), field security_type: "
            f"{overrides['security_type']!r} is not one of {', '.join(SECURITY_TYPES)}"
        )
    if not is_currency(overrides.get("currency", "USD"), minor_units=True):
        raise UniverseFileError(
            f"{where} ({ticker}), field currency: {overrides['currency']!r} is neither an "
            "ISO 4217 currency code nor a minor unit such as GBp"
        )
    return UniverseEntry(ticker, overrides)


def _override(where: str, value: object) -> str:
    """A reference value an entry sets, trimmed; a UniverseFileError naming `where` when it is
    empty or not text (a list, a mapping)."""
    if value is not None and not isinstance(value, str):
        raise UniverseFileError(f"{where}: expected a single text value")
    if not value or not value.strip():
        raise UniverseFileError(f"{where}: empty")
    return value.strip()


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
    """Move the securities listed on a new exchange (see the module docstring), upsert the
    reference rows as active and deactivate every active security that is neither among them nor
    `unanswered` (tickers the universe names but the provider failed on or sent nothing for: no
    evidence either way)."""
    frame = reference.loc[:, list(REFERENCE_COLUMNS)].assign(
        data_source=data_source, is_active=True
    )
    frame = frame.astype(object).where(frame.notna(), None)
    moved = move_exchanges(conn, zip(frame["ticker"], frame["exchange"], strict=True))
    load = upsert_frame(conn, frame, SECURITIES)
    deactivated = conn.execute(
        DEACTIVATE_DROPPED,
        {
            "tickers": list(frame["ticker"]),
            "exchanges": list(frame["exchange"]),
            "unanswered": list(unanswered),
        },
    ).rowcount
    return SecuritiesSync(load, deactivated, moved)


def move_exchanges(
    conn: Connection, listings: Iterable[tuple[str, str | None]]
) -> tuple[ExchangeMove, ...]:
    """Update in place the exchange of every security the universe now names elsewhere."""
    named: dict[str, set[str | None]] = defaultdict(set)
    for ticker, exchange in listings:
        named[ticker].add(exchange)
    stored = [
        StoredListing(*row) for row in conn.execute(STORED_LISTINGS, {"tickers": list(named)})
    ]
    moves = plan_exchange_moves(stored, named)
    if moves:
        conn.execute(
            MOVE_EXCHANGE, [{"id": m.security_id, "exchange": m.new_exchange} for m in moves]
        )
    for move in moves:
        log.info("security %s moved exchange, keeping its id %s", move, move.security_id)
    return moves


def plan_exchange_moves(
    stored: Iterable[StoredListing], named: Mapping[str, Collection[str | None]]
) -> tuple[ExchangeMove, ...]:
    """The moves the universe's listings (`named`: ticker to the exchanges it is named on) imply
    for the stored rows, by the rules of the module docstring; logs a move that a former listing
    on the new exchange prevents."""
    rows: dict[str, list[StoredListing]] = defaultdict(list)
    for listing in stored:
        rows[listing.ticker].append(listing)
    moves = []
    for ticker, exchanges in named.items():
        active = [listing for listing in rows[ticker] if listing.active]
        if len(exchanges) != 1 or len(active) != 1:
            continue
        [new_exchange], [current] = exchanges, active
        if current.exchange == new_exchange:
            continue
        if any(listing.exchange == new_exchange for listing in rows[ticker]):
            log.warning(
                "%s is now named on %s, where a former listing of it is stored: that listing is "
                "reactivated and the one on %s deactivated; their histories stay apart",
                ticker,
                new_exchange or "no exchange",
                current.exchange or "no exchange",
            )
            continue
        moves.append(ExchangeMove(current.security_id, ticker, current.exchange, new_exchange))
    return tuple(moves)
