"""Trades and their positions, owned by the user who wrote them.

Lifecycle: draft → active → closed → archived, and draft → archived for an idea dropped before it
went live; nothing else. Activating stamps `activated_at` and needs at least one position; closing
stamps `closed_at`. Positions are added and removed only while the trade is a draft.

Trades are executed on paper, in the trade's currency (`currency`, USD unless given, an ISO 4217
code) with its `notional` (positive, at most 2 decimals; none given: `DEFAULT_NOTIONAL` of that
currency). Activating opens every position at its security's latest close, converted at that
close's rate; closing closes them at the latest closes and records their realized P&L. Either
refuses, naming every position without a close or a rate, and then changes nothing: a trade is
never half-opened or half-closed. The formulas are in `rm_pipeline.warehouse.valuations`.

A position names an active security by ticker (matched upper-case), and by exchange too when the
ticker is listed on several; its security type is the security's. Each allocation is in (0, 100]
with at most 2 decimals, a trade's allocations add up to at most 100 (the rest is cash), and a trade
holds at most one long and one short position per security.

Every call is one transaction; the trade row is locked while its positions or status change, so
concurrent calls cannot together break the rules.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from rm_pipeline.app.clock import Clock, utc_now
from rm_pipeline.app.errors import Conflict, InvalidInput, NotFound
from rm_pipeline.core.analysis import HORIZONS, Side
from rm_pipeline.db.models import Position, Security, Trade
from rm_pipeline.providers.currencies import is_currency
from rm_pipeline.warehouse.valuations import (
    MissingQuote,
    close_trade_positions,
    open_trade_positions,
)

MAX_TOTAL_ALLOCATION = Decimal(100)
MAX_NAME_LENGTH = 255
DEFAULT_CURRENCY = "USD"
DEFAULT_NOTIONAL = Decimal(100_000)
"""What activating a trade without a notional invests, in the trade's currency."""
MAX_NOTIONAL = Decimal(10) ** 18  # trades.notional is NUMERIC(20,2)


class TradeStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"
    ARCHIVED = "archived"


TRANSITIONS: Mapping[TradeStatus, frozenset[TradeStatus]] = {
    TradeStatus.DRAFT: frozenset({TradeStatus.ACTIVE, TradeStatus.ARCHIVED}),
    TradeStatus.ACTIVE: frozenset({TradeStatus.CLOSED}),
    TradeStatus.CLOSED: frozenset({TradeStatus.ARCHIVED}),
    TradeStatus.ARCHIVED: frozenset(),
}


POSITION_SYNTAX = "TICKER[@EXCHANGE]:long|short:PERCENT"
POSITION_PARTS = 3


@dataclass(frozen=True)
class PositionSpec:
    """A position as a user asks for it."""

    ticker: str
    side: Side
    allocation_percent: Decimal
    exchange: str | None = None

    def __str__(self) -> str:
        where = f"@{self.exchange}" if self.exchange else ""
        return f"{self.ticker}{where} {self.side} {self.allocation_percent}%"

    @classmethod
    def parse(cls, value: str) -> PositionSpec:
        """Read `TICKER[@EXCHANGE]:long|short:PERCENT`, e.g. `AAPL:long:60`; ValueError if not."""
        parts = value.split(":")
        if len(parts) != POSITION_PARTS:
            raise ValueError(f"{value!r} is not {POSITION_SYNTAX}")
        security, side, percent = (part.strip() for part in parts)
        ticker, _, exchange = security.partition("@")
        if side.lower() not in {s.value for s in Side}:
            raise ValueError(f"{value!r}: the side must be long or short, not {side!r}")
        try:
            allocation = Decimal(percent)
        except InvalidOperation:
            raise ValueError(f"{value!r}: {percent!r} is not a number") from None
        return cls(ticker, Side(side.lower()), allocation, exchange or None)


@dataclass(frozen=True)
class PositionView:
    """A position; prices in `currency` (its security's), amounts in its trade's currency."""

    id: uuid.UUID
    ticker: str
    exchange: str | None
    side: str
    security_type: str
    allocation_percent: Decimal
    rationale: str | None
    status: str | None
    currency: str
    quantity: Decimal | None
    entry_price: Decimal | None
    entry_fx_rate: Decimal | None
    current_price: Decimal | None
    price_date: date | None
    is_stale: bool | None
    sessions_behind: int | None
    exit_price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    split_factor: Decimal

    @classmethod
    def of(cls, position: Position) -> PositionView:
        security = position.security
        return cls(
            id=position.id,
            ticker=security.ticker,
            exchange=security.exchange,
            side=position.position_type,
            security_type=position.security_type,
            allocation_percent=position.allocation_percent,
            rationale=position.rationale,
            status=position.status,
            currency=security.currency or DEFAULT_CURRENCY,
            quantity=position.quantity,
            entry_price=position.entry_price,
            entry_fx_rate=position.entry_fx_rate,
            current_price=position.current_price,
            price_date=position.price_date,
            is_stale=position.is_stale,
            sessions_behind=position.sessions_behind,
            exit_price=position.exit_price,
            market_value=position.market_value,
            unrealized_pnl=position.unrealized_pnl,
            realized_pnl=position.realized_pnl,
            split_factor=position.split_factor,
        )


@dataclass(frozen=True)
class TradeView:
    id: uuid.UUID
    name: str
    description: str
    status: str
    currency: str
    notional: Decimal | None
    positions: tuple[PositionView, ...]
    created_at: datetime | None
    activated_at: datetime | None
    closed_at: datetime | None
    analyzed_at: datetime | None
    recommendation: str | None
    risk_level: str | None
    returns: Mapping[str, Decimal | None]
    ai_rationale: str | None

    @property
    def total_allocation(self) -> Decimal:
        return sum((p.allocation_percent for p in self.positions), Decimal(0))

    @classmethod
    def of(cls, trade: Trade) -> TradeView:
        positions = sorted(
            trade.positions,
            key=lambda p: (p.created_at or datetime.min, -p.allocation_percent, p.security.ticker),
        )
        return cls(
            id=trade.id,
            name=trade.trade_name,
            description=trade.trade_description,
            status=trade.status or TradeStatus.DRAFT,
            currency=trade.currency,
            notional=trade.notional,
            positions=tuple(PositionView.of(p) for p in positions),
            created_at=trade.created_at,
            activated_at=trade.activated_at,
            closed_at=trade.closed_at,
            analyzed_at=trade.analyzed_at,
            recommendation=trade.recommendation,
            risk_level=trade.risk_level,
            returns={name: getattr(trade, f"return_{name}") for name in HORIZONS},
            ai_rationale=trade.ai_rationale,
        )


def normalized(spec: PositionSpec) -> PositionSpec:
    """The spec with ticker and exchange upper-cased and trimmed."""
    exchange = (spec.exchange or "").strip().upper() or None
    return PositionSpec(
        spec.ticker.strip().upper(), Side(spec.side), spec.allocation_percent, exchange
    )


def allocation_problem(allocation: Decimal) -> str | None:
    """Why the allocation is not acceptable, or None."""
    if not allocation.is_finite() or not Decimal(0) < allocation <= MAX_TOTAL_ALLOCATION:
        return f"allocation {allocation} must be more than 0 and at most 100"
    if allocation != allocation.quantize(Decimal("0.01")):
        return f"allocation {allocation} has more than 2 decimals"
    return None


REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""Control and format characters (among them the bidirectional overrides and isolates that make
text display in another order than it is stored) and the line and paragraph separators U+2028 and
U+2029, which some programs show as line breaks."""
ALLOWED_IN_TEXT = frozenset("\n\t")
"""The line breaks and tabs a multi-line text may hold."""


def refused_character(text: str, multiline: bool) -> str | None:
    """The first character of REFUSED_CATEGORIES in `text` not ALLOWED_IN_TEXT, described."""
    for position, char in enumerate(text):
        if multiline and char in ALLOWED_IN_TEXT:
            continue
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"U+{ord(char):04X} {unicodedata.name(char, 'control')} at position {position}"
    return None


def notional_problem(notional: Decimal | None) -> str | None:
    """What is wrong with the notional, or None."""
    if notional is None:
        return None
    if not notional.is_finite() or not Decimal(0) < notional < MAX_NOTIONAL:
        return f"the trade's notional {notional} must be more than 0 and below 10^18"
    if notional != notional.quantize(Decimal("0.01")):
        return f"the trade's notional {notional} has more than 2 decimals"
    return None


def currency_problem(currency: str) -> str | None:
    """What is wrong with the currency (trimmed), or None when it is an ISO 4217 code."""
    if not is_currency(currency.strip()):
        return (
            f"the trade's currency {currency!r} must be a 3-letter code of an ISO 4217 currency, "
            "in capitals, e.g. USD, EUR or JPY"
        )
    return None


def text_problem(value: str, label: str, max_length: int | None = None) -> str | None:
    """What is wrong with the trade's text field `label` (trimmed), or None; a field with a
    `max_length` is a single line."""
    cleaned = value.strip()
    if not cleaned:
        return f"the trade's {label} must not be empty"
    refused = refused_character(cleaned, multiline=max_length is None)
    if refused is not None:
        return f"the trade's {label} contains a control or separator character: {refused}"
    if max_length is not None and len(cleaned) > max_length:
        return f"the trade's {label} is longer than {max_length} characters"
    return None


class TradeService:
    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def create(
        self,
        user_id: uuid.UUID,
        name: str,
        description: str,
        positions: Sequence[PositionSpec | str] = (),
        *,
        notional: Decimal | None = None,
        currency: str = DEFAULT_CURRENCY,
    ) -> TradeView:
        """A new draft trade with the given positions (specs, or their text form
        `TICKER[@EXCHANGE]:long|short:PERCENT`; all of them valid, or none stored), in
        `currency`, investing `notional` once active (None: `DEFAULT_NOTIONAL`). Every problem
        of the request, its fields' and its positions' (an unreadable one included), is reported
        at once."""
        problems = [
            problem
            for problem in (
                text_problem(name, "name", MAX_NAME_LENGTH),
                text_problem(description, "description"),
                currency_problem(currency),
                notional_problem(notional),
            )
            if problem
        ]
        trade = Trade(
            id=uuid.uuid4(),
            user_id=user_id,
            trade_name=name.strip(),
            trade_description=description.strip(),
            status=TradeStatus.DRAFT.value,
            currency=currency.strip(),
            notional=notional,
        )
        labelled: list[tuple[str, PositionSpec]] = []
        for number, position in enumerate(positions, 1):
            try:
                spec = (
                    position if isinstance(position, PositionSpec) else PositionSpec.parse(position)
                )
            except ValueError as error:
                problems.append(f"position {number}: {error}")
            else:
                labelled.append((f"position {number} ({spec})", spec))
        with Session(self._engine) as session, session.begin():
            checked = self._checked_positions(session, trade.id, [], labelled, problems)
            session.add_all([trade, *checked])
            return self._view(session, trade.id)

    def get(self, user_id: uuid.UUID, trade_id: uuid.UUID) -> TradeView:
        with Session(self._engine) as session:
            return self._view(session, self._owned(session, user_id, trade_id).id)

    def list_trades(self, user_id: uuid.UUID, status: TradeStatus | None = None) -> list[TradeView]:
        """The user's trades, newest first."""
        query = (
            select(Trade)
            .where(Trade.user_id == user_id)
            .options(selectinload(Trade.positions).selectinload(Position.security))
            .order_by(Trade.created_at.desc(), Trade.id)
        )
        if status is not None:
            query = query.where(Trade.status == status.value)
        with Session(self._engine) as session:
            return [TradeView.of(trade) for trade in session.scalars(query)]

    def add_position(
        self, user_id: uuid.UUID, trade_id: uuid.UUID, spec: PositionSpec
    ) -> TradeView:
        with Session(self._engine) as session, session.begin():
            trade = self._editable(session, user_id, trade_id)
            existing = self._positions_of(session, trade.id)
            labelled = [(f"new position ({spec})", spec)]
            session.add_all(self._checked_positions(session, trade.id, existing, labelled))
            return self._view(session, trade.id)

    def remove_position(
        self, user_id: uuid.UUID, trade_id: uuid.UUID, position_id: uuid.UUID
    ) -> TradeView:
        with Session(self._engine) as session, session.begin():
            trade = self._editable(session, user_id, trade_id)
            position = session.get(Position, position_id)
            if position is None or position.trade_id != trade.id:
                raise NotFound(f"trade {trade_id} has no position {position_id}")
            session.delete(position)
            session.flush()
            return self._view(session, trade.id)

    def activate(self, user_id: uuid.UUID, trade_id: uuid.UUID) -> TradeView:
        return self._transition(user_id, trade_id, TradeStatus.ACTIVE)

    def close(self, user_id: uuid.UUID, trade_id: uuid.UUID) -> TradeView:
        return self._transition(user_id, trade_id, TradeStatus.CLOSED)

    def archive(self, user_id: uuid.UUID, trade_id: uuid.UUID) -> TradeView:
        return self._transition(user_id, trade_id, TradeStatus.ARCHIVED)

    def _transition(
        self, user_id: uuid.UUID, trade_id: uuid.UUID, target: TradeStatus
    ) -> TradeView:
        with Session(self._engine) as session, session.begin():
            trade = self._owned(session, user_id, trade_id, lock=True)
            current = TradeStatus(trade.status or TradeStatus.DRAFT)
            if target not in TRANSITIONS[current]:
                allowed = ", ".join(sorted(TRANSITIONS[current])) or "none, it is final"
                raise Conflict(
                    f"trade {trade_id} is {current} and cannot become {target} "
                    f"(allowed from {current}: {allowed})"
                )
            if target is TradeStatus.ACTIVE and not self._positions_of(session, trade.id):
                raise Conflict(f"trade {trade_id} has no positions; add one before activating")
            now = self._clock()
            if target is TradeStatus.ACTIVE:
                conn = session.connection()
                raise_unexecuted(
                    trade_id,
                    "activated",
                    open_trade_positions(conn, trade.id, now, DEFAULT_NOTIONAL),
                )
                trade.activated_at = now
            if target is TradeStatus.CLOSED:
                conn = session.connection()
                raise_unexecuted(trade_id, "closed", close_trade_positions(conn, trade.id, now))
                trade.closed_at = now
            trade.status = target.value
            session.flush()
            return self._view(session, trade.id)

    @staticmethod
    def _owned(
        session: Session, user_id: uuid.UUID, trade_id: uuid.UUID, *, lock: bool = False
    ) -> Trade:
        query = select(Trade).where(Trade.id == trade_id, Trade.user_id == user_id)
        trade = session.scalars(query.with_for_update() if lock else query).one_or_none()
        if trade is None:
            raise NotFound(f"no trade {trade_id}")
        return trade

    def _editable(self, session: Session, user_id: uuid.UUID, trade_id: uuid.UUID) -> Trade:
        trade = self._owned(session, user_id, trade_id, lock=True)
        if trade.status != TradeStatus.DRAFT:
            raise Conflict(f"trade {trade_id} is {trade.status}; only drafts change positions")
        return trade

    @staticmethod
    def _positions_of(session: Session, trade_id: uuid.UUID) -> list[Position]:
        return list(session.scalars(select(Position).where(Position.trade_id == trade_id)))

    @staticmethod
    def _view(session: Session, trade_id: uuid.UUID) -> TradeView:
        session.flush()
        query = (
            select(Trade)
            .where(Trade.id == trade_id)
            .options(selectinload(Trade.positions).selectinload(Position.security))
            .execution_options(populate_existing=True)
        )
        return TradeView.of(session.scalars(query).one())

    @staticmethod
    def _checked_positions(
        session: Session,
        trade_id: uuid.UUID,
        existing: Sequence[Position],
        labelled_specs: Sequence[tuple[str, PositionSpec]],
        problems: Sequence[str] = (),
    ) -> list[Position]:
        """The trade's new positions, validated against each other and `existing`; or
        InvalidInput naming their problems after the request's other `problems`.

        Each spec comes with the label its errors name ("position 2 (MSFT short 40%)").
        """
        labelled = [(label, normalized(spec)) for label, spec in labelled_specs]
        securities, unresolved = resolve_securities(session, labelled)
        raise_if_any(
            [
                *problems,
                *unresolved,
                *(
                    f"{label}: {problem}"
                    for label, spec in labelled
                    if (problem := allocation_problem(spec.allocation_percent))
                ),
            ]
        )
        raise_if_any(overlap_problems(existing, labelled, securities))
        return [
            Position(
                trade_id=trade_id,
                security_id=securities[label].id,
                position_type=spec.side.value,
                security_type=securities[label].security_type,
                allocation_percent=spec.allocation_percent,
            )
            for label, spec in labelled
        ]


def raise_unexecuted(trade_id: uuid.UUID, action: str, missing: Sequence[MissingQuote]) -> None:
    """Conflict naming every position the paper execution lacks a price or a rate for."""
    if missing:
        raise Conflict(
            f"trade {trade_id} cannot be {action}, nothing changed; positions lacking a price or "
            f"an exchange rate: {'; '.join(str(m) for m in missing)}"
        )


def raise_if_any(problems: Sequence[str]) -> None:
    if problems:
        raise InvalidInput("\n".join(problems))


def resolve_securities(
    session: Session, labelled: Sequence[tuple[str, PositionSpec]]
) -> tuple[dict[str, Security], list[str]]:
    """The active security each labelled spec names, by label, and why others name none."""
    tickers = {spec.ticker for _, spec in labelled}
    candidates: dict[str, list[Security]] = defaultdict(list)
    query = select(Security).where(Security.ticker.in_(tickers), Security.is_active.is_not(False))
    for security in session.scalars(query):
        candidates[security.ticker].append(security)
    resolved: dict[str, Security] = {}
    problems: list[str] = []
    for label, spec in labelled:
        matches = [
            s
            for s in candidates[spec.ticker]
            if spec.exchange is None or (s.exchange or "").upper() == spec.exchange
        ]
        if len(matches) == 1:
            resolved[label] = matches[0]
        elif not matches:
            where = f" on {spec.exchange}" if spec.exchange else ""
            problems.append(f"{label}: no active security {spec.ticker}{where}")
        else:
            exchanges = ", ".join(sorted(s.exchange or "no exchange" for s in matches))
            problems.append(
                f"{label}: {spec.ticker} is listed on several exchanges ({exchanges}); "
                f"name one, e.g. {spec.ticker}@{matches[0].exchange}"
            )
    return resolved, problems


def overlap_problems(
    existing: Sequence[Position],
    labelled: Sequence[tuple[str, PositionSpec]],
    securities: Mapping[str, Security],
) -> list[str]:
    """Allocations over 100 in total, and a security held twice on the same side."""
    problems = []
    held = {(p.security_id, p.position_type) for p in existing}
    for label, spec in labelled:
        key = (securities[label].id, spec.side.value)
        if key in held:
            problems.append(f"{label}: the trade already has a {spec.side} position in it")
        held.add(key)
    existing_total = sum((p.allocation_percent for p in existing), Decimal(0))
    total = existing_total + sum((spec.allocation_percent for _, spec in labelled), Decimal(0))
    if total > MAX_TOTAL_ALLOCATION:
        parts = [label for label, _ in labelled]
        if existing:
            parts.insert(0, f"the existing positions ({existing_total}%)")
        problems.append(f"allocations of {', '.join(parts)} add up to {total}%, more than 100%")
    return problems
