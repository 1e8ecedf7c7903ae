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


ID_DOC = "The row's identifier: a random UUID assigned on insert."
CREATED_AT_DOC = (
    "When the row was inserted: the inserting transaction's timestamp, in the database "
    "server's time zone."
)
UPDATED_AT_DOC = (
    "When the row last changed: a trigger stamps the transaction's timestamp on every UPDATE "
    "that changes a value (revision 0002); the insertion time until then."
)


def _id(doc: str = ID_DOC) -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"), doc=doc
    )


def _created_at(doc: str = CREATED_AT_DOC) -> Mapped[datetime | None]:
    return mapped_column(Timestamp, server_default=NOW, doc=doc)


def _updated_at(doc: str = UPDATED_AT_DOC) -> Mapped[datetime | None]:
    return mapped_column(Timestamp, server_default=NOW, doc=doc)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = _id()
    phone_number: Mapped[str] = mapped_column(
        String(20),
        unique=True,
        doc=(
            "The user's phone number in E.164 form (+14155550100), the identity they sign in "
            "with. Hidden from rm_analyst."
        ),
    )
    email: Mapped[str | None] = mapped_column(
        String(255),
        unique=True,
        doc="The user's email address, lower-cased; NULL when not given. Hidden from rm_analyst.",
    )
    full_name: Mapped[str | None] = mapped_column(
        String(255),
        doc="The user's name as registered; NULL when not given. Hidden from rm_analyst.",
    )
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    last_login: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the user last verified a code and got an access token (UTC); NULL: never.",
    )
    is_active: Mapped[bool | None] = mapped_column(
        server_default=TRUE,
        doc="False once the user is deactivated: their tokens and codes are refused, data kept.",
    )
    is_verified: Mapped[bool | None] = mapped_column(
        server_default=FALSE,
        doc="True once the user has verified a code sent to their phone number.",
    )
    verification_code: Mapped[str | None] = mapped_column(
        String(64),
        doc=(
            "HMAC-SHA256 hex digest of the pending verification code, never the code itself "
            "(revision 0003); NULL when no code is pending. Hidden from rm_analyst."
        ),
    )
    verification_expires_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the pending code's 10-minute window ends (UTC); NULL when no code is pending.",
    )
    verification_attempts: Mapped[int] = mapped_column(
        server_default=text("0"),
        doc="Wrong guesses in the current code's window; the fifth burns the code (revision 0003).",
    )
    preferences: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB,
        server_default=text("'{}'::jsonb"),
        doc="The user's preferences as JSON, per the seed schema; the pipeline does not use them.",
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
    ticker: Mapped[str] = mapped_column(
        String(50),
        doc=(
            "The provider's ticker symbol, upper-case, with the suffix of a listing outside the "
            "US (SHEL.L, 7203.T); with `exchange`, the security's key."
        ),
    )
    name: Mapped[str] = mapped_column(
        String(255),
        doc="The security's name, from the provider's reference data or the universe file.",
    )
    security_type: Mapped[str] = mapped_column(
        String(50),
        doc="One of equity, bond, option, future, index, etf, crypto.",
    )
    exchange: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "Short code of the listing's exchange (NASDAQ, NYSE, LSE, TSE...); NULL for indices "
            "and crypto, and when unknown."
        ),
    )
    trading_calendar: Mapped[str | None] = mapped_column(
        String(20),
        doc=(
            "The exchange_calendars name of its market (XNYS, XLON...), 24/7 for crypto; set by "
            "the price load (revision 0014). NULL: unknown, so are its gaps and staleness."
        ),
    )
    """The `exchange_calendars` name of its exchange, `24/7` for crypto (revision 0014)."""
    currency: Mapped[str | None] = mapped_column(
        String(10),
        server_default=text("'USD'"),
        doc=(
            "The currency its prices are quoted in, minor units included (GBp: pence); "
            "NULL counts as USD."
        ),
    )
    country: Mapped[str | None] = mapped_column(
        String(50),
        doc="Country, from the provider's reference data; NULL when not sent.",
    )
    sector: Mapped[str | None] = mapped_column(
        String(100),
        doc="Sector, from the provider's reference data or the universe file; NULL when not sent.",
    )
    industry: Mapped[str | None] = mapped_column(
        String(100),
        doc="Industry, from the provider's reference data or the universe file; NULL: not sent.",
    )
    description: Mapped[str | None] = mapped_column(
        Text,
        doc="The provider's business summary of the security; NULL when not sent.",
    )

    current_price: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Close of its latest bar, in `currency` (`security_market_stats`); without history, "
            "the fundamentals snapshot's price. NULL: unknown."
        ),
    )
    market_cap: Mapped[int | None] = mapped_column(
        BigInteger,
        doc=(
            "Market capitalisation as the provider's fundamentals snapshot reports it "
            "(`fundamentals`); NULL when not sent or rejected."
        ),
    )
    volume: Mapped[int | None] = mapped_column(
        BigInteger,
        doc=(
            "Shares traded on its latest bar (`security_market_stats`); NULL when that bar has "
            "no volume."
        ),
    )
    avg_volume: Mapped[int | None] = mapped_column(
        BigInteger,
        doc=(
            "Mean daily volume in shares over the 13 weeks to its latest bar, rounded; bars "
            "without a volume left out. NULL: none known."
        ),
    )

    pe_ratio: Mapped[Decimal | None] = mapped_column(
        Multiple,
        doc=(
            "Price-to-earnings multiple from the provider's fundamentals snapshot "
            "(`fundamentals`); NULL when not sent or rejected."
        ),
    )
    ps_ratio: Mapped[Decimal | None] = mapped_column(
        Multiple,
        doc=(
            "Price-to-sales multiple from the provider's fundamentals snapshot (`fundamentals`); "
            "NULL when not sent or rejected."
        ),
    )
    pb_ratio: Mapped[Decimal | None] = mapped_column(
        Multiple,
        doc=(
            "Price-to-book multiple from the provider's fundamentals snapshot (`fundamentals`); "
            "NULL when not sent or rejected."
        ),
    )
    ev_ebitda: Mapped[Decimal | None] = mapped_column(
        Multiple,
        doc=(
            "Enterprise value over EBITDA from the provider's fundamentals snapshot "
            "(`fundamentals`); NULL when not sent or rejected."
        ),
    )
    dividend_yield: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Dividend yield as a fraction (0.0052 = 0.52%), from the fundamentals snapshot "
            "(`fundamentals`); NULL when not sent or rejected."
        ),
    )

    fifty_two_week_high: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Highest high (the close where a bar has none) over the 52 weeks to its latest bar, "
            "in `currency`; NULL: no history and none in the snapshot."
        ),
    )
    fifty_two_week_low: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Lowest low (the close where a bar has none) over the 52 weeks to its latest bar, "
            "in `currency`; NULL: no history and none in the snapshot."
        ),
    )

    is_active: Mapped[bool | None] = mapped_column(
        server_default=TRUE,
        doc=(
            "False once the universe no longer names it (`securities` asset): it is no longer "
            "loaded, and never deleted."
        ),
    )
    last_updated: Mapped[datetime | None] = mapped_column(
        Timestamp,
        server_default=NOW,
        doc="When its reference data, market statistics or fundamentals last changed.",
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "The provider that last wrote its reference data or fundamentals: synthetic, "
            "yfinance or files."
        ),
    )

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
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        doc="The user who wrote the trade idea (users.id).",
    )

    trade_name: Mapped[str] = mapped_column(
        String(255),
        doc="The trade idea's name, as its user wrote it.",
    )
    trade_description: Mapped[str] = mapped_column(
        Text,
        doc="The trade idea as its user describes it; an input of the analysis.",
    )
    status: Mapped[str | None] = mapped_column(
        String(50),
        server_default=text("'draft'"),
        doc=(
            "draft, active, closed or archived: draft to active to closed to archived, or a "
            "draft dropped straight to archived."
        ),
    )

    ai_rationale: Mapped[str | None] = mapped_column(
        Text,
        doc=(
            "The analyzer's explanation of its estimates and grades (`trade_analysis`); NULL "
            "until the first analysis."
        ),
    )
    recommendation: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "RECOMMENDED, CONDITIONAL or NOT_RECOMMENDED, from the analysis (`trade_analysis`); "
            "NULL until the first analysis."
        ),
    )
    risk_level: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "LOW, MODERATE or HIGH, from the analysis (`trade_analysis`); NULL until the first "
            "analysis, or when the history is too short to judge."
        ),
    )

    return_1m: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Projected 1-month return, a fraction (0.0523 = 5.23%): the drift extrapolated "
            "forward. NULL: not analyzed yet, or too little history."
        ),
    )
    return_3m: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Projected 3-month return, a fraction (0.0523 = 5.23%): the drift extrapolated "
            "forward. NULL: not analyzed yet, or too little history."
        ),
    )
    return_6m: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Projected 6-month return, a fraction (0.0523 = 5.23%): the drift extrapolated "
            "forward. NULL: not analyzed yet, or too little history."
        ),
    )
    return_1y: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Projected 1-year return, a fraction (0.0523 = 5.23%): the drift extrapolated "
            "forward. NULL: not analyzed yet, or too little history."
        ),
    )
    return_3y: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Projected 3-year return, a fraction (0.0523 = 5.23%): the drift extrapolated "
            "forward. NULL: not analyzed yet, or too little history."
        ),
    )

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    analyzed_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc=(
            "When the stored analysis was written (the transaction's timestamp); NULL: never "
            "analyzed. Setting it to NULL forces a new analysis."
        ),
    )
    activated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the trade was activated, its positions opened on paper (UTC); NULL until then.",
    )
    closed_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the trade was closed and its positions settled on paper (UTC); NULL until then.",
    )
    analysis_fingerprint: Mapped[str | None] = mapped_column(
        String(64),
        doc=(
            "SHA-256 of the inputs the stored analysis used (view trade_input_fingerprints, "
            "revision 0003); NULL until the first analysis."
        ),
    )
    currency: Mapped[str] = mapped_column(
        String(10),
        server_default=text("'USD'"),
        doc=(
            "ISO 4217 code of the currency of the trade's notional and of its positions' values "
            "and P&L (revision 0008)."
        ),
    )
    notional: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "The amount activating the trade invests, in `currency`; NULL: the default, "
            "100,000 of it."
        ),
    )

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
    trade_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trades.id", ondelete="CASCADE"),
        doc="The trade the position belongs to (trades.id).",
    )
    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id"),
        doc="The security the position holds (securities.id).",
    )

    position_type: Mapped[str] = mapped_column(
        String(50),
        doc="long or short.",
    )
    security_type: Mapped[str] = mapped_column(
        String(50),
        doc="The security's type when the position was added (equity, etf, crypto...).",
    )
    allocation_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2),
        doc="Share of the trade's notional it takes, in percent (25.00 = 25%), in (0, 100].",
    )

    rationale: Mapped[str | None] = mapped_column(
        Text,
        doc="The analyzer's note on this position (`trade_analysis`); NULL until first analyzed.",
    )

    quantity: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Shares held on paper (6 decimals), multiplied by later splits; NULL until the trade "
            "is activated."
        ),
    )
    entry_price: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "The close it opened at, in the security's currency, divided by later splits; NULL "
            "until opened."
        ),
    )
    current_price: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "The price last valued at, in the security's currency: the latest close, the exit "
            "price once closed (`trade_position_valuations`). NULL until valued."
        ),
    )
    market_value: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "Signed value (negative for a short), in the trade's currency; 0 once closed. NULL: "
            "not valued yet, or no exchange rate."
        ),
    )
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "P&L of the open position at current_price, in the trade's currency; 0 once closed. "
            "NULL: not valued yet, or no exchange rate."
        ),
    )

    status: Mapped[str | None] = mapped_column(
        String(50),
        server_default=text("'recommended'"),
        doc="recommended (not opened), open (trade activated) or closed (trade closed).",
    )

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    opened_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When activating the trade opened it on paper (UTC); NULL until then.",
    )
    closed_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When closing the trade settled it (UTC); NULL until then.",
    )
    entry_fx_rate: Mapped[Decimal | None] = mapped_column(
        FxRateNumeric,
        doc=(
            "Rate from the security's to the trade's currency on the entry close's date, fixed "
            "at opening (revision 0008); NULL until opened."
        ),
    )
    exit_price: Mapped[Decimal | None] = mapped_column(
        Price,
        doc="The close it closed at, in the security's currency; NULL until closed.",
    )
    realized_pnl: Mapped[Decimal | None] = mapped_column(
        Money,
        doc="P&L realized on closing, in the trade's currency; NULL until closed.",
    )
    split_factor: Mapped[Decimal] = mapped_column(
        FxRateNumeric,
        server_default=text("1"),
        doc=(
            "Product of the ratios of the splits dated after its entry close that its quantity "
            "and prices reflect; 1 without a split."
        ),
    )
    entry_price_date: Mapped[date | None] = mapped_column(
        Date,
        doc=(
            "The date of the close it opened at (revision 0012); NULL until opened, and for "
            "positions opened before that revision."
        ),
    )
    price_date: Mapped[date | None] = mapped_column(
        Date,
        doc=(
            "The date of the close current_price is (revision 0016); NULL until valued, and for "
            "a cached price without history."
        ),
    )
    """The date of `current_price`'s close; with `is_stale` and `sessions_behind`, whether its
    exchange held sessions after it up to the valuation date, NULL when unknown (revision 0016)."""
    is_stale: Mapped[bool | None] = mapped_column(
        doc=(
            "Whether its exchange held a session after price_date up to the valuation date; "
            "NULL: unknown, never false by default."
        ),
    )
    sessions_behind: Mapped[int | None] = mapped_column(
        Integer,
        doc=(
            "How many sessions its exchange held after price_date up to the valuation date; "
            "NULL: unknown."
        ),
    )

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
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        doc="The user who owns the portfolio (users.id).",
    )

    name: Mapped[str] = mapped_column(
        String(255),
        doc="The portfolio's name.",
    )
    broker: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "The broker holding the account: manual (holdings CSV files, the only one "
            "`broker_holdings` syncs), alpaca, ibkr...; NULL: none."
        ),
    )
    broker_account_id: Mapped[str | None] = mapped_column(
        String(255),
        doc=(
            "The account at the broker; for `manual`, the name of its holdings file "
            "(<id>.csv). Hidden from rm_analyst."
        ),
    )
    currency: Mapped[str | None] = mapped_column(
        String(10),
        server_default=text("'USD'"),
        doc="Currency of the portfolio's values and its holdings' values; NULL counts as USD.",
    )

    total_value: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "cash_balance + equity_value, in the portfolio's currency (`portfolio_valuations`); "
            "NULL while a holding has no price or rate."
        ),
    )
    cash_balance: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "Cash as the broker last reported it (`broker_holdings`), in the portfolio's "
            "currency; NULL: unknown, counted as 0 by the valuation."
        ),
    )
    equity_value: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "Sum of the holdings' signed market values, in the portfolio's currency; 0 without "
            "holdings, NULL while a holding has no price or rate."
        ),
    )

    total_return: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "Unrealized P&L over cost basis of the current holdings, a fraction (0.18 = 18%); "
            "NULL without holdings or while one is unvalued."
        ),
    )
    day_return: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "The holdings' change over the valuation date's session over the previous total "
            "value, a fraction (0.0395 = 3.95%); NULL: unknown."
        ),
    )

    is_active: Mapped[bool | None] = mapped_column(
        server_default=TRUE,
        doc="False for a retired portfolio, which `broker_holdings` no longer syncs.",
    )
    is_connected: Mapped[bool | None] = mapped_column(
        server_default=FALSE,
        doc="Whether a live broker connection backs it (seed schema); the code never sets it.",
    )
    last_synced_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc=(
            "When `broker_holdings` last synced its holdings and cash (the transaction's "
            "timestamp); NULL: never synced."
        ),
    )

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
    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"),
        doc="The portfolio that holds it (portfolios.id).",
    )
    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id"),
        doc="The security held (securities.id).",
    )

    quantity: Mapped[Decimal] = mapped_column(
        Price,
        doc="Shares held, as the broker reports them (`broker_holdings`); always positive.",
    )
    average_entry_price: Mapped[Decimal] = mapped_column(
        Price,
        doc=(
            "Average price paid (received, for a short), in the security's currency, as the "
            "broker reports it (`broker_holdings`)."
        ),
    )
    current_price: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Its latest close, else the security's cached price, in the security's currency "
            "(`portfolio_valuations`); NULL: no price, or not valued yet."
        ),
    )
    market_value: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "Quantity x price x rate in the portfolio's currency, negative for a short; NULL: "
            "no price or exchange rate, or not valued yet."
        ),
    )

    cost_basis: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "Quantity x average_entry_price x the market value's rate, in the portfolio's "
            "currency, positive for both sides; NULL: unvalued."
        ),
    )
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(
        Money,
        doc=(
            "market_value - cost_basis for a long, cost_basis + market_value for a short, in the "
            "portfolio's currency; NULL: unvalued."
        ),
    )
    unrealized_pnl_percent: Mapped[Decimal | None] = mapped_column(
        Ratio,
        doc=(
            "unrealized_pnl / cost_basis as a fraction despite the name (0.1 = 10%); NULL: "
            "unvalued, or a zero cost basis."
        ),
    )

    side: Mapped[str] = mapped_column(
        String(10),
        doc="long or short: the direction of the holding.",
    )

    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at()
    last_synced_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the broker last reported the holding (`broker_holdings`); NULL: never synced.",
    )
    price_date: Mapped[date | None] = mapped_column(
        Date,
        doc=(
            "The date of the close current_price is (revision 0016); NULL until valued, and for "
            "a cached price without history."
        ),
    )
    """As for `Position.price_date`, with `is_stale` and `sessions_behind` (revision 0016)."""
    is_stale: Mapped[bool | None] = mapped_column(
        doc=(
            "Whether its exchange held a session after price_date up to the valuation date; "
            "NULL: unknown, never false by default."
        ),
    )
    sessions_behind: Mapped[int | None] = mapped_column(
        Integer,
        doc=(
            "How many sessions its exchange held after price_date up to the valuation date; "
            "NULL: unknown."
        ),
    )

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

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        server_default=text("time_ordered_uuid()"),
        doc=(
            "The row's identifier: a version 7 UUID assigned on insert, its first 48 bits the "
            "insertion time in milliseconds (revision 0022), so new bars' ids sort last."
        ),
    )
    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"),
        doc="The security the bar is of (securities.id).",
    )

    date: Mapped[date] = mapped_column(
        Date,
        doc="The trading date at the security's exchange.",
    )
    open: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Opening price in the security's currency, as traded, restated for later splits "
            "but not dividends; NULL: unknown."
        ),
    )
    high: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Highest price of the day in the security's currency, restated for later splits "
            "but not dividends; NULL: unknown."
        ),
    )
    low: Mapped[Decimal | None] = mapped_column(
        Price,
        doc=(
            "Lowest price of the day in the security's currency, restated for later splits "
            "but not dividends; NULL: unknown."
        ),
    )
    close: Mapped[Decimal] = mapped_column(
        Price,
        doc=(
            "Closing price in the security's currency (GBp: pence), restated for later splits "
            "but not dividends."
        ),
    )
    volume: Mapped[int | None] = mapped_column(
        BigInteger,
        doc="Shares traded, restated for later splits; NULL: the source did not say.",
    )

    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc="The provider that sent the bar (`price_history` asset): synthetic, yfinance or files.",
    )
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc=(
            "When the bar last changed, stamped by a trigger (revision 0014); NULL while it is "
            "as first stored."
        ),
    )
    repair: Mapped[str | None] = mapped_column(
        Text,
        doc=(
            "What the loader repaired in this bar (a block quoted 100x too high, a split applied "
            "to the prices before it); NULL when stored as sent."
        ),
    )
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
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        doc="The user whose credentials these are (users.id).",
    )
    portfolio_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portfolios.id", ondelete="SET NULL"),
        doc="The portfolio it feeds, per the seed schema; `brokers add` does not set it (NULL).",
    )

    broker: Mapped[str] = mapped_column(
        String(50),
        doc="alpaca, ibkr, swissquote or tradier.",
    )
    broker_account_id: Mapped[str | None] = mapped_column(
        String(255),
        doc="The account at the broker; required by `rm-pipeline brokers add`.",
    )

    api_key_encrypted: Mapped[str | None] = mapped_column(
        Text,
        doc="The API key as a Fernet ciphertext, never in plaintext; NULL: none stored.",
    )
    api_secret_encrypted: Mapped[str | None] = mapped_column(
        Text,
        doc="The API secret as a Fernet ciphertext, never in plaintext; NULL: none stored.",
    )
    access_token_encrypted: Mapped[str | None] = mapped_column(
        Text,
        doc="The access token as a Fernet ciphertext, never in plaintext; NULL: none given.",
    )

    is_active: Mapped[bool | None] = mapped_column(
        server_default=TRUE,
        doc="Whether the connection is in use, per the seed schema; the code never clears it.",
    )
    is_connected: Mapped[bool | None] = mapped_column(
        server_default=FALSE,
        doc="Whether a live session is open, per the seed schema; never set by the code.",
    )
    last_connected_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the broker was last reached, per the seed schema; the code never fills it.",
    )
    last_sync_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the account was last synced through it, per the seed schema; never filled.",
    )

    can_read: Mapped[bool | None] = mapped_column(
        server_default=TRUE,
        doc="Whether it may read the account; true by default, the code never changes it.",
    )
    can_trade: Mapped[bool | None] = mapped_column(
        server_default=FALSE,
        doc="Whether it may place orders; false unless added with `brokers add --can-trade`.",
    )

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
    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"),
        doc="The security it concerns (securities.id).",
    )
    date: Mapped[date] = mapped_column(
        Date,
        doc=(
            "A dividend's ex-date; a split's date, the first session at the new scale when "
            "moved to its price drop or inferred."
        ),
    )
    action: Mapped[str] = mapped_column(
        String(20),
        doc="split or dividend.",
    )
    value: Mapped[Decimal] = mapped_column(
        Numeric(20, 8),
        doc=(
            "A split's new shares per old share (4 for 4-for-1, 0.1 for 1-for-10), or a "
            "dividend's cash per share in the security's currency."
        ),
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc=(
            "The provider that reported it, or whose restated history it was inferred from: "
            "synthetic, yfinance or files."
        ),
    )
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc=(
            "When the row last changed, stamped by a trigger (revision 0014); NULL while it is "
            "as first stored."
        ),
    )
    basis: Mapped[str] = mapped_column(
        String(10),
        server_default=text("'reported'"),
        doc=(
            "reported (by a provider) or inferred (by the warehouse, from a history restated at "
            "a split's ratio; revision 0014)."
        ),
    )
    """'reported' by a provider, or 'inferred' from a restated history (revision 0014)."""
    note: Mapped[str | None] = mapped_column(
        Text,
        doc=(
            "What an inferred split rests on, or the date a reported split was moved from; "
            "NULL otherwise."
        ),
    )

    __table_args__ = (
        CheckConstraint("action IN ('split', 'dividend')", name="valid_corporate_action"),
        CheckConstraint("value > 0", name="positive_corporate_action_value"),
        CheckConstraint("basis IN ('reported', 'inferred')", name="valid_corporate_action_basis"),
        UniqueConstraint("security_id", "date", "action"),
    )


class Quarantine(Base):
    """A row a load set aside, with the reason and the values the source sent (revision 0007),
    and how it was resolved (revision 0020)."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(
        BigInteger, Identity(), primary_key=True, doc="The row's number, used to resolve it."
    )
    table_name: Mapped[str] = mapped_column(
        String(50), doc="The table the row was meant for, e.g. price_history or fx_rates."
    )
    ticker: Mapped[str] = mapped_column(
        Text, doc="The ticker (or currency pair) the source sent the row for."
    )
    date: Mapped[date | None] = mapped_column(
        Date, doc="The date of the row; NULL when the source sent none that could be read."
    )
    reason: Mapped[str] = mapped_column(
        Text, doc="Why the row was set aside: a kind (before ':') and its detail."
    )
    raw_values: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, doc="The values the source sent, as it sent them; NULL when none were kept."
    )
    data_source: Mapped[str] = mapped_column(
        String(50), doc="The provider that sent the row ('unknown' when not recorded)."
    )
    run_id: Mapped[str | None] = mapped_column(
        String(64), doc="The run that last refused the row; NULL when no run did (a migration)."
    )
    first_seen_at: Mapped[datetime] = mapped_column(
        Timestamp, server_default=NOW, doc="When a load first refused the row."
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        Timestamp, server_default=NOW, doc="When a load last refused (or settled) the row."
    )
    resolved_at: Mapped[datetime | None] = mapped_column(
        Timestamp, doc="When the row was resolved; NULL while it is open."
    )
    resolution: Mapped[str | None] = mapped_column(
        String(20),
        doc="How it was resolved: accepted, rejected, settled or repaired; NULL while open "
        "(or resolved by hand before revision 0020 left no trace of how).",
    )
    resolved_by: Mapped[str | None] = mapped_column(
        Text, doc="The user name of the operator who resolved it; NULL for a load or unknown."
    )
    resolution_note: Mapped[str | None] = mapped_column(
        Text, doc="The operator's note on the resolution; NULL without one."
    )

    __table_args__ = (
        UniqueConstraint(
            "table_name", "ticker", "date", "reason", "data_source",
            postgresql_nulls_not_distinct=True,
        ),
        Index("idx_quarantine_ticker_date", "ticker", "date"),
        CheckConstraint(
            "resolution IN ('accepted', 'rejected', 'settled', 'repaired')",
            name="valid_quarantine_resolution",
        ),
    )  # fmt: skip


class CurrencyUnit(Base):
    """A minor currency unit and its major currency, e.g. GBp: 100 to the GBP (revision 0008)."""

    __tablename__ = "currency_units"

    code: Mapped[str] = mapped_column(
        String(10),
        primary_key=True,
        doc="A minor unit's code as exchanges quote it (GBp, GBX, ZAc, ILA); seeded by 0008.",
    )
    major_currency: Mapped[str] = mapped_column(
        String(10),
        doc="The ISO 4217 code of its major currency (GBP for GBp).",
    )
    units_per_major: Mapped[int] = mapped_column(
        Integer,
        doc="How many of the minor unit make one of the major currency (100 pence to the GBP).",
    )

    __table_args__ = (CheckConstraint("units_per_major > 0", name="valid_units_per_major"),)


class FxRate(Base):
    """One day's exchange rate: `rate` units of the quote currency per base unit (revision 0008)."""

    __tablename__ = "fx_rates"

    base_currency: Mapped[str] = mapped_column(
        String(10),
        primary_key=True,
        doc="ISO 4217 code of the major currency one unit of which the rate prices (EUR).",
    )
    quote_currency: Mapped[str] = mapped_column(
        String(10),
        primary_key=True,
        doc="ISO 4217 code of the currency the rate is in; USD for every rate the pipeline loads.",
    )
    date: Mapped[date] = mapped_column(
        Date,
        primary_key=True,
        doc="The day whose close the rate is.",
    )
    rate: Mapped[Decimal] = mapped_column(
        FxRateNumeric,
        doc=(
            "Units of quote_currency one unit of base_currency bought at the day's close "
            "(EUR, USD: 1.0855)."
        ),
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc="The provider that sent the rate (`fx_rates` asset): synthetic, yfinance or files.",
    )
    created_at: Mapped[datetime | None] = _created_at()
    updated_at: Mapped[datetime | None] = _updated_at(
        "When the rate last changed: a trigger stamps the transaction's timestamp on every "
        "UPDATE that changes a value (revision 0008); the insertion time until then."
    )

    __table_args__ = (
        CheckConstraint("rate > 0", name="valid_fx_rate"),
        CheckConstraint("base_currency <> quote_currency", name="distinct_fx_currencies"),
    )


class MarketSession(Base):
    """A session of an exchange calendar (revision 0014)."""

    __tablename__ = "market_sessions"

    calendar: Mapped[str] = mapped_column(
        String(20),
        primary_key=True,
        doc="An exchange_calendars name (XNYS, XLON...), or 24/7 for markets that never close.",
    )
    date: Mapped[date] = mapped_column(
        Date,
        primary_key=True,
        doc=(
            "A day the calendar's exchange held a session, stored by the price load over the "
            "ranges loaded; holidays and weekends are absent."
        ),
    )


class _Superseded:
    """What a superseded row adds to the row it keeps (revision 0014)."""

    superseded_id: Mapped[int] = mapped_column(
        BigInteger,
        Identity(),
        primary_key=True,
        doc="The superseded version's identifier, increasing in the order they were kept.",
    )
    valid_from: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc=(
            "Since when this version held: its updated_at, else its created_at; NULL when it "
            "had neither."
        ),
    )
    superseded_at: Mapped[datetime] = mapped_column(
        Timestamp,
        server_default=NOW,
        doc="When an UPDATE or DELETE replaced it (the transaction's timestamp).",
    )
    change: Mapped[str] = mapped_column(
        String(10),
        doc="updated or deleted: what replaced this version.",
    )
    reason: Mapped[str | None] = mapped_column(
        Text,
        doc=(
            "Why, as the writer declared it (e.g. bars sent again by yfinance); NULL when it "
            "declared nothing, as a hand edit does."
        ),
    )
    run_id: Mapped[str | None] = mapped_column(
        String(64),
        doc="The Dagster run that replaced it, as the writer declared it; NULL when none.",
    )
    changed_by: Mapped[str] = mapped_column(
        Text,
        server_default=text("CURRENT_USER"),
        doc="The database role whose statement replaced it.",
    )


class PriceHistorySuperseded(_Superseded, Base):
    """A bar as it was before an update or a delete replaced it."""

    __tablename__ = "price_history_superseded"

    id: Mapped[uuid.UUID | None] = mapped_column(
        UUID,
        doc="The bar's id in price_history.",
    )
    security_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID,
        doc="The bar's security (securities.id), as it was.",
    )
    date: Mapped[date | None] = mapped_column(
        Date,
        doc="The bar's trading date, as it was.",
    )
    open: Mapped[Decimal | None] = mapped_column(
        Price,
        doc="The bar's opening price in the security's currency, as it was; NULL: unknown.",
    )
    high: Mapped[Decimal | None] = mapped_column(
        Price,
        doc="The bar's high in the security's currency, as it was; NULL: unknown.",
    )
    low: Mapped[Decimal | None] = mapped_column(
        Price,
        doc="The bar's low in the security's currency, as it was; NULL: unknown.",
    )
    close: Mapped[Decimal | None] = mapped_column(
        Price,
        doc="The bar's close in the security's currency, as it was.",
    )
    volume: Mapped[int | None] = mapped_column(
        BigInteger,
        doc="The bar's volume in shares, as it was; NULL: unknown.",
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc="The provider that had sent the bar, as it was.",
    )
    repair: Mapped[str | None] = mapped_column(
        Text,
        doc="What the loader had repaired in the bar, as it was; NULL: stored as sent.",
    )
    created_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the bar was first inserted into price_history.",
    )
    updated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the bar had last changed before this version; NULL: never.",
    )

    __table_args__ = (
        CheckConstraint("change IN ('updated', 'deleted')", name="valid_price_history_change"),
        Index("idx_price_history_superseded_key", "security_id", "date", "superseded_at"),
    )


class FxRateSuperseded(_Superseded, Base):
    """An exchange rate as it was before an update or a delete replaced it."""

    __tablename__ = "fx_rates_superseded"

    base_currency: Mapped[str | None] = mapped_column(
        String(10),
        doc="The rate's base currency (one unit of it priced), as it was.",
    )
    quote_currency: Mapped[str | None] = mapped_column(
        String(10),
        doc="The currency the rate was in, as it was.",
    )
    date: Mapped[date | None] = mapped_column(
        Date,
        doc="The rate's date, as it was.",
    )
    rate: Mapped[Decimal | None] = mapped_column(
        FxRateNumeric,
        doc="Units of quote_currency per unit of base_currency, as it was.",
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc="The provider that had sent the rate, as it was.",
    )
    created_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the rate was first inserted into fx_rates.",
    )
    updated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the rate had last changed before this version (its insertion time if never).",
    )

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

    id: Mapped[uuid.UUID | None] = mapped_column(
        UUID,
        doc="The action's id in corporate_actions.",
    )
    security_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID,
        doc="The action's security (securities.id), as it was.",
    )
    date: Mapped[date | None] = mapped_column(
        Date,
        doc="The action's date, as it was.",
    )
    action: Mapped[str | None] = mapped_column(
        String(20),
        doc="split or dividend, as it was.",
    )
    value: Mapped[Decimal | None] = mapped_column(
        Numeric(20, 8),
        doc=(
            "The split's new shares per old share, or the dividend's cash per share in the "
            "security's currency, as it was."
        ),
    )
    data_source: Mapped[str | None] = mapped_column(
        String(50),
        doc="The provider it came from, as it was.",
    )
    basis: Mapped[str | None] = mapped_column(
        String(10),
        doc="reported or inferred, as it was.",
    )
    note: Mapped[str | None] = mapped_column(
        Text,
        doc="What an inferred split rested on, or a moved split's reported date, as it was.",
    )
    created_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the action was first inserted into corporate_actions.",
    )
    updated_at: Mapped[datetime | None] = mapped_column(
        Timestamp,
        doc="When the action had last changed before this version; NULL: never.",
    )

    __table_args__ = (
        CheckConstraint("change IN ('updated', 'deleted')", name="valid_corporate_actions_change"),
        Index("idx_corporate_actions_superseded_key", "security_id", "date", "superseded_at"),
    )


class PriceGap(Base):
    """Consecutive sessions of a security's calendar without a bar, between its first and last
    bar (revision 0015)."""

    __tablename__ = "price_gaps"

    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"),
        primary_key=True,
        doc="The security whose history has the gap (securities.id).",
    )
    first_missing: Mapped[date] = mapped_column(
        Date,
        primary_key=True,
        doc="The first session of its calendar without a bar.",
    )
    last_missing: Mapped[date] = mapped_column(
        Date,
        doc="The last session of the run without a bar.",
    )
    sessions: Mapped[int] = mapped_column(
        Integer,
        doc="How many sessions of its calendar the gap spans.",
    )
    found_at: Mapped[datetime] = mapped_column(
        Timestamp,
        server_default=NOW,
        doc="When the gap was found with this extent (the load's transaction timestamp).",
    )
    run_id: Mapped[str | None] = mapped_column(
        String(64),
        doc="The Dagster run of the price load that found it; NULL when the load named none.",
    )

    __table_args__ = (
        CheckConstraint("sessions > 0 AND last_missing >= first_missing", name="valid_price_gap"),
    )


class PriceGapCoverage(Base):
    """The span of a security's history over which `price_gaps` is complete (revision 0015)."""

    __tablename__ = "price_gap_coverage"

    security_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("securities.id", ondelete="CASCADE"),
        primary_key=True,
        doc="The security (securities.id); a security without a row has unknown gaps, not none.",
    )
    first_date: Mapped[date] = mapped_column(
        Date,
        doc="The first bar's date of the span over which its price_gaps rows are complete.",
    )
    last_date: Mapped[date] = mapped_column(
        Date,
        doc="The last bar's date of that span; bars beyond it have unknown gaps.",
    )
    checked_at: Mapped[datetime] = mapped_column(
        Timestamp,
        server_default=NOW,
        doc="When the span was last checked (the load's transaction timestamp).",
    )
    run_id: Mapped[str | None] = mapped_column(
        String(64),
        doc="The Dagster run of the price load that checked it; NULL when the load named none.",
    )

    __table_args__ = (CheckConstraint("last_date >= first_date", name="valid_price_gap_coverage"),)
