"""Typed SQLAlchemy models of the warehouse.

They mirror `migrations/` exactly (`alembic check` is clean): the seed schema of revision 0001 and
every later revision. Constraint names follow PostgreSQL's own defaults through the naming
convention, so the migrated catalog matches the seed SQL name for name. Relationships raise on lazy
loads: an accidental N+1 fails loudly instead of running slowly.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ck": "%(constraint_name)s",
    "ix": "idx_%(table_name)s_%(column_0_N_name)s",
}

NOW = text("CURRENT_TIMESTAMP")
TRUE = text("true")
FALSE = text("false")

Money = Numeric(20, 2)
Price = Numeric(20, 6)
Ratio = Numeric(10, 4)
FxRateNumeric = Numeric(20, 10)
Multiple = Numeric(10, 2)
Timestamp = TIMESTAMP(timezone=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def _created_at() -> Mapped[datetime | None]:
    return mapped_column(Timestamp, server_default=NOW)


def _updated_at() -> Mapped[datetime | None]:
    return mapped_column(Timestamp, server_default=NOW)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = _id()
    phone_number: Mapped[str] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    last_login: Mapped[datetime | None] = mapped_column(Timestamp)
    is_active: Mapped[bool | None] = mapped_column(server_default=TRUE)
    is_verified: Mapped[bool | None] = mapped_column(server_default=FALSE)
    verification_code: Mapped[str | None] = mapped_column(String(64))
    verification_expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    verification_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    preferences: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )

    trades: Mapped[list[Trade]] = relationship(back_populates="user", passive_deletes=True)
    portfolios: Mapped[list[Portfolio]] = relationship(back_populates="user", passive_deletes=True)
    broker_connections: Mapped[list[BrokerConnection]] = relationship(
        back_populates="user", passive_deletes=True
    )

    __table_args__ = (
        Index("idx_users_phone", "phone_number"),
        Index("idx_users_email", "email"),
    )


class Security(Base):
    __tablename__ = "securities"

    id: Mapped[uuid.UUID] = _id()
    ticker: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255))
    security_type: Mapped[str] = mapped_column(String(50))
    exchange: Mapped[str | None] = mapped_column(String(50))
    trading_calendar: Mapped[str | None] = mapped_column(String(20))
    """The `exchange_calendars` name of its exchange, `24/7` for crypto (revision 0014)."""
    currency: Mapped[str | None] = mapped_column(String(10), server_default=text("'USD'"))
    country: Mapped[str | None] = mapped_column(String(50))
    sector: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    current_price: Mapped[Decimal | None] = mapped_column(Price)
    market_cap: Mapped[int | None] = mapped_column(BigInteger)
    volume: Mapped[int | None] = mapped_column(BigInteger)
    avg_volume: Mapped[int | None] = mapped_column(BigInteger)

    pe_ratio: Mapped[Decimal | None] = mapped_column(Multiple)
    ps_ratio: Mapped[Decimal | None] = mapped_column(Multiple)
    pb_ratio: Mapped[Decimal | None] = mapped_column(Multiple)
    ev_ebitda: Mapped[Decimal | None] = mapped_column(Multiple)
    dividend_yield: Mapped[Decimal | None] = mapped_column(Ratio)

    fifty_two_week_high: Mapped[Decimal | None] = mapped_column(Price)
    fifty_two_week_low: Mapped[Decimal | None] = mapped_column(Price)

    is_active: Mapped[bool | None] = mapped_column(server_default=TRUE)
    last_updated: Mapped[datetime | None] = mapped_column(Timestamp, server_default=NOW)
    data_source: Mapped[str | None] = mapped_column(String(50))

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()

    prices: Mapped[list[PriceHistory]] = relationship(
        back_populates="security", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("ticker", "exchange", postgresql_nulls_not_distinct=True),
        Index("idx_securities_ticker", "ticker"),
        Index("idx_securities_type", "security_type"),
        Index("idx_securities_sector", "sector"),
    )


class Trade(Base):
    __tablename__ = "trades"

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    trade_name: Mapped[str] = mapped_column(String(255))
    trade_description: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'draft'"))

    ai_rationale: Mapped[str | None] = mapped_column(Text)
    recommendation: Mapped[str | None] = mapped_column(String(50))
    risk_level: Mapped[str | None] = mapped_column(String(50))

    return_1m: Mapped[Decimal | None] = mapped_column(Ratio)
    return_3m: Mapped[Decimal | None] = mapped_column(Ratio)
    return_6m: Mapped[Decimal | None] = mapped_column(Ratio)
    return_1y: Mapped[Decimal | None] = mapped_column(Ratio)
    return_3y: Mapped[Decimal | None] = mapped_column(Ratio)

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    analyzed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    activated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    analysis_fingerprint: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(10), server_default=text("'USD'"))
    notional: Mapped[Decimal | None] = mapped_column(Money)

    user: Mapped[User] = relationship(back_populates="trades")
    positions: Mapped[list[Position]] = relationship(
        back_populates="trade", passive_deletes=True, order_by="Position.created_at"
    )

    __table_args__ = (
        CheckConstraint("notional > 0", name="valid_notional"),
        Index("idx_trades_user", "user_id"),
        Index("idx_trades_status", "status"),
        Index("idx_trades_created", text("created_at DESC")),
    )


class Position(Base):
    __tablename__ = "positions"

    id: Mapped[uuid.UUID] = _id()
    trade_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"))
    security_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("securities.id"))

    position_type: Mapped[str] = mapped_column(String(50))
    security_type: Mapped[str] = mapped_column(String(50))
    allocation_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))

    rationale: Mapped[str | None] = mapped_column(Text)

    quantity: Mapped[Decimal | None] = mapped_column(Price)
    entry_price: Mapped[Decimal | None] = mapped_column(Price)
    current_price: Mapped[Decimal | None] = mapped_column(Price)
    market_value: Mapped[Decimal | None] = mapped_column(Money)
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(Money)

    status: Mapped[str | None] = mapped_column(String(50), server_default=text("'recommended'"))

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    opened_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    entry_fx_rate: Mapped[Decimal | None] = mapped_column(FxRateNumeric)
    exit_price: Mapped[Decimal | None] = mapped_column(Price)
    realized_pnl: Mapped[Decimal | None] = mapped_column(Money)
    split_factor: Mapped[Decimal] = mapped_column(FxRateNumeric, server_default=text("1"))
    entry_price_date: Mapped[date | None] = mapped_column(Date)
    price_date: Mapped[date | None] = mapped_column(Date)
    """The date of `current_price`'s close; with `is_stale` and `sessions_behind`, whether its
    exchange held sessions after it up to the valuation date, NULL when unknown (revision 0016)."""
    is_stale: Mapped[bool | None] = mapped_column()
    sessions_behind: Mapped[int | None] = mapped_column(Integer)

    trade: Mapped[Trade] = relationship(back_populates="positions")
    security: Mapped[Security] = relationship()

    __table_args__ = (
        CheckConstraint(
            "allocation_percent > 0 AND allocation_percent <= 100", name="valid_allocation"
        ),
        CheckConstraint("split_factor > 0", name="valid_split_factor"),
        Index("idx_positions_trade", "trade_id"),
        Index("idx_positions_security", "security_id"),
        Index("idx_positions_type", "position_type"),
    )


class Portfolio(Base):
    __tablename__ = "portfolios"

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    name: Mapped[str] = mapped_column(String(255))
    broker: Mapped[str | None] = mapped_column(String(50))
    broker_account_id: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(10), server_default=text("'USD'"))

    total_value: Mapped[Decimal | None] = mapped_column(Money)
    cash_balance: Mapped[Decimal | None] = mapped_column(Money)
    equity_value: Mapped[Decimal | None] = mapped_column(Money)

    total_return: Mapped[Decimal | None] = mapped_column(Ratio)
    day_return: Mapped[Decimal | None] = mapped_column(Ratio)

    is_active: Mapped[bool | None] = mapped_column(server_default=TRUE)
    is_connected: Mapped[bool | None] = mapped_column(server_default=FALSE)
    last_synced_at: Mapped[datetime | None] = mapped_column(Timestamp)

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()

    user: Mapped[User] = relationship(back_populates="portfolios")
    holdings: Mapped[list[PortfolioHolding]] = relationship(
        back_populates="portfolio", passive_deletes=True
    )

    __table_args__ = (
        Index("idx_portfolios_user", "user_id"),
        Index("idx_portfolios_broker", "broker"),
    )


class PortfolioHolding(Base):
    __tablename__ = "portfolio_holdings"

    id: Mapped[uuid.UUID] = _id()
    portfolio_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    security_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("securities.id"))

    quantity: Mapped[Decimal] = mapped_column(Price)
    average_entry_price: Mapped[Decimal] = mapped_column(Price)
    current_price: Mapped[Decimal | None] = mapped_column(Price)
    market_value: Mapped[Decimal | None] = mapped_column(Money)

    cost_basis: Mapped[Decimal | None] = mapped_column(Money)
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(Money)
    unrealized_pnl_percent: Mapped[Decimal | None] = mapped_column(Ratio)

    side: Mapped[str] = mapped_column(String(10))

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    last_synced_at: Mapped[datetime | None] = mapped_column(Timestamp)
    price_date: Mapped[date | None] = mapped_column(Date)
    """As for `Position.price_date`, with `is_stale` and `sessions_behind` (revision 0016)."""
    is_stale: Mapped[bool | None] = mapped_column()
    sessions_behind: Mapped[int | None] = mapped_column(Integer)

    portfolio: Mapped[Portfolio] = relationship(back_populates="holdings")
    security: Mapped[Security] = relationship()

    __table_args__ = (
        UniqueConstraint("portfolio_id", "security_id", "side"),
        Index("idx_holdings_portfolio", "portfolio_id"),
        Index("idx_holdings_security", "security_id"),
    )


class PriceHistory(Base):
    """A daily bar. What every bar satisfies is enforced by the CHECK constraints of revision
    0017; a NULL open, high, low or volume passes the rules that read it."""

    __tablename__ = "price_history"

    id: Mapped[uuid.UUID] = _id()
    security_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("securities.id", ondelete="CASCADE"))

    date: Mapped[date] = mapped_column(Date)
    open: Mapped[Decimal | None] = mapped_column(Price)
    high: Mapped[Decimal | None] = mapped_column(Price)
    low: Mapped[Decimal | None] = mapped_column(Price)
    close: Mapped[Decimal] = mapped_column(Price)
    volume: Mapped[int | None] = mapped_column(BigInteger)

    data_source: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    repair: Mapped[str | None] = mapped_column(Text)
    """What the loader repaired in this bar; NULL when stored as sent (revision 0014)."""

    security: Mapped[Security] = relationship(back_populates="prices")

    __table_args__ = (
        UniqueConstraint("security_id", "date"),
        Index("idx_price_history_security_date", "security_id", text("date DESC")),
        CheckConstraint("high >= low", name="bar_high_not_below_low"),
        CheckConstraint("volume >= 0", name="bar_nonnegative_volume"),
        CheckConstraint("close > 0", name="bar_positive_close"),
        CheckConstraint("open > 0 AND high > 0 AND low > 0", name="bar_positive_prices"),
        CheckConstraint("close BETWEEN low AND high", name="bar_range_holds_close"),
        CheckConstraint("open BETWEEN low AND high", name="bar_range_holds_open"),
    )


class BrokerConnection(Base):
    __tablename__ = "broker_connections"

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    portfolio_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portfolios.id", ondelete="SET NULL")
    )

    broker: Mapped[str] = mapped_column(String(50))
    broker_account_id: Mapped[str | None] = mapped_column(String(255))

    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    api_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)

    is_active: Mapped[bool | None] = mapped_column(server_default=TRUE)
    is_connected: Mapped[bool | None] = mapped_column(server_default=FALSE)
    last_connected_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_sync_at: Mapped[datetime | None] = mapped_column(Timestamp)

    can_read: Mapped[bool | None] = mapped_column(server_default=TRUE)
    can_trade: Mapped[bool | None] = mapped_column(server_default=FALSE)

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()

    user: Mapped[User] = relationship(back_populates="broker_connections")

    __table_args__ = (
        UniqueConstraint("user_id", "broker", "broker_account_id"),
        Index("idx_broker_connections_user", "user_id"),
    )


class CorporateAction(Base):
    """A split or dividend (revision 0004)."""

    __tablename__ = "corporate_actions"

    id: Mapped[uuid.UUID] = _id()
    security_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("securities.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 8))
    data_source: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    basis: Mapped[str] = mapped_column(String(10), server_default=text("'reported'"))
    """'reported' by a provider, or 'inferred' from a restated history (revision 0014)."""
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("action IN ('split', 'dividend')", name="valid_corporate_action"),
        CheckConstraint("value > 0", name="positive_corporate_action_value"),
        CheckConstraint("basis IN ('reported', 'inferred')", name="valid_corporate_action_basis"),
        UniqueConstraint("security_id", "date", "action"),
    )


class Quarantine(Base):
    """A row a load set aside, with the reason and the values the source sent (revision 0007)."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(50))
    ticker: Mapped[str] = mapped_column(Text)
    date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    raw_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    data_source: Mapped[str] = mapped_column(String(50))
    run_id: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp, server_default=NOW)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, server_default=NOW)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        UniqueConstraint(
            "table_name", "ticker", "date", "reason", "data_source",
            postgresql_nulls_not_distinct=True,
        ),
        Index("idx_quarantine_ticker_date", "ticker", "date"),
    )  # fmt: skip


class CurrencyUnit(Base):
    """A minor currency unit and its major currency, e.g. GBp: 100 to the GBP (revision 0008)."""

    __tablename__ = "currency_units"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    major_currency: Mapped[str] = mapped_column(String(10))
    units_per_major: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("units_per_major > 0", name="valid_units_per_major"),)


class FxRate(Base):
    """One day's exchange rate: `rate` units of the quote currency per base unit (revision 0008)."""

    __tablename__ = "fx_rates"

    base_currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    quote_currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(FxRateNumeric)
    data_source: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()

    __table_args__ = (
        CheckConstraint("rate > 0", name="valid_fx_rate"),
        CheckConstraint("base_currency <> quote_currency", name="distinct_fx_currencies"),
    )


class MarketSession(Base):
    """A session of an exchange calendar (revision 0014)."""

    __tablename__ = "market_sessions"

    calendar: Mapped[str] = mapped_column(String(20), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)


class _Superseded:
    """What a superseded row adds to the row it keeps (revision 0014)."""

    superseded_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    valid_from: Mapped[datetime | None] = mapped_column(Timestamp)
    superseded_at: Mapped[datetime] = mapped_column(Timestamp, server_default=NOW)
    change: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(Text, server_default=text("CURRENT_USER"))


class PriceHistorySuperseded(_Superseded, Base):
    """A bar as it was before an update or a delete replaced it."""

    __tablename__ = "price_history_superseded"

    id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    security_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    date: Mapped[date | None] = mapped_column(Date)
    open: Mapped[Decimal | None] = mapped_column(Price)
    high: Mapped[Decimal | None] = mapped_column(Price)
    low: Mapped[Decimal | None] = mapped_column(Price)
    close: Mapped[Decimal | None] = mapped_column(Price)
    volume: Mapped[int | None] = mapped_column(BigInteger)
    data_source: Mapped[str | None] = mapped_column(String(50))
    repair: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        CheckConstraint("change IN ('updated', 'deleted')", name="valid_price_history_change"),
        Index("idx_price_history_superseded_key", "security_id", "date", "superseded_at"),
    )


class FxRateSuperseded(_Superseded, Base):
    """An exchange rate as it was before an update or a delete replaced it."""

    __tablename__ = "fx_rates_superseded"

    base_currency: Mapped[str | None] = mapped_column(String(10))
    quote_currency: Mapped[str | None] = mapped_column(String(10))
    date: Mapped[date | None] = mapped_column(Date)
    rate: Mapped[Decimal | None] = mapped_column(FxRateNumeric)
    data_source: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        CheckConstraint("change IN ('updated', 'deleted')", name="valid_fx_rates_change"),
        Index(
            "idx_fx_rates_superseded_key",
            "base_currency", "quote_currency", "date", "superseded_at",
        ),
    )  # fmt: skip


class CorporateActionSuperseded(_Superseded, Base):
    """A split or dividend as it was before an update or a delete replaced it."""

    __tablename__ = "corporate_actions_superseded"

    id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    security_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    date: Mapped[date | None] = mapped_column(Date)
    action: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 8))
    data_source: Mapped[str | None] = mapped_column(String(50))
    basis: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (
        CheckConstraint("change IN ('updated', 'deleted')", name="valid_corporate_actions_change"),
        Index("idx_corporate_actions_superseded_key", "security_id", "date", "superseded_at"),
    )


class PriceGap(Base):
    """Consecutive sessions of a security's calendar without a bar, between its first and last
    bar (revision 0015)."""

    __tablename__ = "price_gaps"

    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"), primary_key=True
    )
    first_missing: Mapped[date] = mapped_column(Date, primary_key=True)
    last_missing: Mapped[date] = mapped_column(Date)
    sessions: Mapped[int] = mapped_column(Integer)
    found_at: Mapped[datetime] = mapped_column(Timestamp, server_default=NOW)
    run_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("sessions > 0 AND last_missing >= first_missing", name="valid_price_gap"),
    )


class PriceGapCoverage(Base):
    """The span of a security's history over which `price_gaps` is complete (revision 0015)."""

    __tablename__ = "price_gap_coverage"

    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"), primary_key=True
    )
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date] = mapped_column(Date)
    checked_at: Mapped[datetime] = mapped_column(Timestamp, server_default=NOW)
    run_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("last_date >= first_date", name="valid_price_gap_coverage"),)
