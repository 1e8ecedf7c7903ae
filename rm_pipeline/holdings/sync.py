"""Write what a broker account holds to `portfolio_holdings` and `portfolios`.

A sync makes the portfolio's holdings exactly the broker's: holdings are upserted on
(portfolio_id, security_id, side), holdings the broker no longer reports are deleted, and every held
row and the portfolio get `last_synced_at` = the transaction's timestamp; the portfolio's
`cash_balance` becomes the broker's. Every security is resolved before anything is written, so a
portfolio naming an unknown security is left exactly as it was. Re-running a sync with unchanged
holdings changes nothing but the sync timestamps. Valuation columns are `value_portfolios`' job.

Holdings are matched to active securities only (`match_securities`): a security the universe
dropped is unknown to a sync, and a security that moved exchange is one row, found on its new
exchange. A holding naming an exchange matches the active listing on that exchange, or failing
that one whose exchange is unknown (a price-files universe without one). A holding naming no
exchange matches its ticker's active listing; when the ticker is listed on several exchanges
that is ambiguous, and stays so only until the broker's data names the exchange: the warehouse
never guesses between listings, whose prices and currencies differ. An unknown or ambiguous
holding fails its portfolio's sync with a message naming it.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, text

from rm_pipeline.holdings.base import (
    BrokerAccount,
    BrokerAdapter,
    BrokerHolding,
    HoldingsError,
    UnknownSecuritiesError,
)

log = logging.getLogger(__name__)

LOCK_PORTFOLIO = text(
    "SELECT broker, broker_account_id FROM portfolios WHERE id = :portfolio_id FOR UPDATE"
)

BROKER_PORTFOLIOS = text(
    "SELECT id FROM portfolios WHERE broker = :broker AND is_active IS NOT FALSE ORDER BY id"
)

# The candidates of each holding among active securities (see the module docstring); `exact` when
# the holding's exchange is the security's.
MATCH_SECURITIES = text(
    """
    SELECT wanted.position, s.id, coalesce(s.exchange = wanted.exchange, false) AS exact
    FROM unnest(CAST(:tickers AS text[]), CAST(:exchanges AS text[]))
        WITH ORDINALITY AS wanted(ticker, exchange, position)
    JOIN securities AS s
        ON s.ticker = wanted.ticker
        AND s.is_active
        AND (wanted.exchange IS NULL OR s.exchange IS NULL OR s.exchange = wanted.exchange)
    """
)

# The `before` CTE reads the holdings as they were when the statement started, so comparing it
# with what the upsert wrote tells changed rows from rewritten ones (PostgreSQL 15 and later).
HOLDINGS_COLUMNS = (
    "portfolio_id",
    "security_id",
    "side",
    "quantity",
    "average_entry_price",
    "last_synced_at",
)
"""The columns of `portfolio_holdings` that `UPSERT_HOLDINGS` writes."""

UPSERT_HOLDINGS = text(
    """
    WITH before AS (
        SELECT security_id, side, quantity, average_entry_price
        FROM portfolio_holdings WHERE portfolio_id = :portfolio_id
    ),
    written AS (
        INSERT INTO portfolio_holdings AS h
            (portfolio_id, security_id, side, quantity, average_entry_price, last_synced_at)
        SELECT :portfolio_id, held.security_id, held.side, held.quantity,
               held.average_entry_price, CURRENT_TIMESTAMP
        FROM unnest(CAST(:security_ids AS uuid[]), CAST(:sides AS text[]),
                    CAST(:quantities AS numeric[]), CAST(:prices AS numeric[]))
            AS held(security_id, side, quantity, average_entry_price)
        ON CONFLICT (portfolio_id, security_id, side) DO UPDATE
        SET quantity = EXCLUDED.quantity,
            average_entry_price = EXCLUDED.average_entry_price,
            last_synced_at = EXCLUDED.last_synced_at
        RETURNING security_id, side, quantity, average_entry_price
    )
    SELECT b.security_id IS NULL AS inserted,
           (b.quantity, b.average_entry_price)
               IS DISTINCT FROM (w.quantity, w.average_entry_price) AS changed
    FROM written AS w LEFT JOIN before AS b USING (security_id, side)
    """
)

DELETE_UNHELD = text(
    """
    DELETE FROM portfolio_holdings AS h
    WHERE h.portfolio_id = :portfolio_id
      AND NOT EXISTS (
          SELECT 1
          FROM unnest(CAST(:security_ids AS uuid[]), CAST(:sides AS text[])) AS held(security_id, side)
          WHERE held.security_id = h.security_id AND held.side = h.side
      )
    """
)

STAMP_PORTFOLIO = text(
    "UPDATE portfolios SET cash_balance = :cash_balance, last_synced_at = CURRENT_TIMESTAMP "
    "WHERE id = :portfolio_id"
)


@dataclass(frozen=True)
class PortfolioSyncResult:
    """`updated`: holdings whose quantity or entry price changed; `unchanged`: the others kept."""

    portfolio_id: uuid.UUID
    inserted: int
    updated: int
    unchanged: int
    removed: int
    cash_balance: Decimal


@dataclass(frozen=True)
class PortfolioSyncFailure:
    portfolio_id: uuid.UUID
    error: str


@dataclass(frozen=True)
class BrokerSyncResult:
    synced: tuple[PortfolioSyncResult, ...]
    failed: tuple[PortfolioSyncFailure, ...]


def sync_broker(conn: Connection, adapter: BrokerAdapter) -> BrokerSyncResult:
    """Sync every active portfolio of the adapter's broker.

    A portfolio whose data is unusable (`HoldingsError`) is reported in `failed` and left as it
    was; the others are synced.
    """
    synced: list[PortfolioSyncResult] = []
    failed: list[PortfolioSyncFailure] = []
    for portfolio_id in conn.execute(BROKER_PORTFOLIOS, {"broker": adapter.broker}).scalars():
        try:
            synced.append(sync_portfolio(conn, portfolio_id, adapter))
        except HoldingsError as error:
            log.warning("holdings of portfolio %s not synced: %s", portfolio_id, error)
            failed.append(PortfolioSyncFailure(portfolio_id, str(error)))
    return BrokerSyncResult(synced=tuple(synced), failed=tuple(failed))


def sync_portfolio(
    conn: Connection, portfolio_id: uuid.UUID, adapter: BrokerAdapter
) -> PortfolioSyncResult:
    """Make one portfolio's holdings and cash the broker's (locks the portfolio row meanwhile).

    Raises `HoldingsError` (nothing written) when the portfolio is not the adapter's broker's, the
    adapter cannot read the account or a holding names an unknown or ambiguous security.
    """
    account = _lock_account(conn, portfolio_id, adapter.broker)
    snapshot = adapter.fetch(account)
    security_ids = resolve_securities(conn, snapshot.holdings)
    _refuse_repeated_holdings(snapshot.holdings, security_ids)
    held = {
        "portfolio_id": portfolio_id,
        "security_ids": security_ids,
        "sides": [holding.side for holding in snapshot.holdings],
    }
    written = conn.execute(
        UPSERT_HOLDINGS,
        held
        | {
            "quantities": [holding.quantity for holding in snapshot.holdings],
            "prices": [holding.average_entry_price for holding in snapshot.holdings],
        },
    ).all()
    removed = conn.execute(DELETE_UNHELD, held).rowcount
    conn.execute(
        STAMP_PORTFOLIO, {"portfolio_id": portfolio_id, "cash_balance": snapshot.cash_balance}
    )
    inserted = sum(row.inserted for row in written)
    updated = sum(row.changed and not row.inserted for row in written)
    return PortfolioSyncResult(
        portfolio_id=portfolio_id,
        inserted=inserted,
        updated=updated,
        unchanged=len(written) - inserted - updated,
        removed=removed,
        cash_balance=snapshot.cash_balance,
    )


def _lock_account(conn: Connection, portfolio_id: uuid.UUID, broker: str) -> BrokerAccount:
    row = conn.execute(LOCK_PORTFOLIO, {"portfolio_id": portfolio_id}).one_or_none()
    if row is None:
        raise HoldingsError(f"portfolio {portfolio_id} does not exist")
    if row.broker != broker:
        raise HoldingsError(
            f"portfolio {portfolio_id} is with broker {row.broker!r}, not {broker!r}"
        )
    return BrokerAccount(portfolio_id=portfolio_id, broker_account_id=row.broker_account_id)


@dataclass(frozen=True)
class SecurityMatches:
    """Each holding's security id (None when it matches none or several), and the labels of the
    holdings that match none (`unknown`) or several (`ambiguous`)."""

    security_ids: tuple[uuid.UUID | None, ...]
    unknown: tuple[str, ...]
    ambiguous: tuple[str, ...]


def match_securities(conn: Connection, holdings: Sequence[BrokerHolding]) -> SecurityMatches:
    """Match each holding to an active security: on its ticker and exchange, or its ticker alone
    when the holding names no exchange or only a security with an unknown exchange has the
    ticker (the module docstring has the rules)."""
    exact: dict[int, list[uuid.UUID]] = defaultdict(list)
    loose: dict[int, list[uuid.UUID]] = defaultdict(list)
    rows = conn.execute(
        MATCH_SECURITIES,
        {
            "tickers": [holding.ticker for holding in holdings],
            "exchanges": [holding.exchange for holding in holdings],
        },
    )
    for position, security_id, is_exact in rows:
        (exact if is_exact else loose)[position - 1].append(security_id)
    candidates = [exact[i] or loose[i] for i in range(len(holdings))]
    return SecurityMatches(
        security_ids=tuple(found[0] if len(found) == 1 else None for found in candidates),
        unknown=tuple(h.label for h, found in zip(holdings, candidates, strict=True) if not found),
        ambiguous=tuple(
            h.label for h, found in zip(holdings, candidates, strict=True) if len(found) > 1
        ),
    )


def resolve_securities(conn: Connection, holdings: Sequence[BrokerHolding]) -> list[uuid.UUID]:
    """The security id of each holding, in order; raises `UnknownSecuritiesError` naming the
    holdings that match no security or several."""
    matches = match_securities(conn, holdings)
    if matches.unknown or matches.ambiguous:
        raise UnknownSecuritiesError(matches.unknown, matches.ambiguous)
    return [security_id for security_id in matches.security_ids if security_id is not None]


def _refuse_repeated_holdings(
    holdings: Sequence[BrokerHolding], security_ids: Sequence[uuid.UUID]
) -> None:
    """Two holdings of one security on one side (say, with and without its exchange) are one too
    many: the broker data is contradictory."""
    first: dict[tuple[uuid.UUID, str], BrokerHolding] = {}
    for holding, security_id in zip(holdings, security_ids, strict=True):
        earlier = first.setdefault((security_id, holding.side), holding)
        if earlier is not holding:
            raise HoldingsError(
                f"{earlier.label} and {holding.label} are the same {holding.side} holding"
            )
