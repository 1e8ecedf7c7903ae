"""Small builders of warehouse rows for the warehouse, holdings and demo tests."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

from rm_pipeline.core.calendars import sessions

Number = Decimal | int | str | None


def add_security(
    conn: Connection,
    ticker: str,
    exchange: str | None = "NASDAQ",
    current_price: Number = None,
    *,
    currency: str | None = "USD",
    calendar: str | None = None,
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO securities (ticker, name, security_type, exchange, current_price, "
            "currency, trading_calendar) VALUES (:ticker, :ticker, 'equity', :exchange, "
            ":current_price, :currency, :calendar) RETURNING id"
        ),
        {
            "ticker": ticker,
            "exchange": exchange,
            "current_price": current_price,
            "currency": currency,
            "calendar": calendar,
        },
    ).scalar_one()


def add_sessions(conn: Connection, calendar: str, first: date, last: date) -> None:
    """The calendar's sessions from first to last, as the price loads store them."""
    conn.execute(
        text(
            "INSERT INTO market_sessions (calendar, date) VALUES (:calendar, :day) "
            "ON CONFLICT DO NOTHING"
        ),
        [{"calendar": calendar, "day": day} for day in sessions(calendar, first, last)],
    )


def add_fx_rate(conn: Connection, currency: str, day: date, usd_per_unit: Number) -> None:
    """The day's rate of `currency` against USD, stored as the pipeline stores it."""
    conn.execute(
        text(
            "INSERT INTO fx_rates (base_currency, quote_currency, date, rate) "
            "VALUES (:currency, 'USD', :day, :rate)"
        ),
        {"currency": currency, "day": day, "rate": usd_per_unit},
    )


def add_bar(
    conn: Connection,
    security_id: uuid.UUID,
    day: date,
    close: Number,
    *,
    high: Number = None,
    low: Number = None,
    volume: int | None = None,
) -> None:
    conn.execute(
        text(
            "INSERT INTO price_history (security_id, date, high, low, close, volume) "
            "VALUES (:security_id, :day, :high, :low, :close, :volume)"
        ),
        {
            "security_id": security_id,
            "day": day,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        },
    )


def add_user(conn: Connection, phone_number: str = "+14155550199") -> uuid.UUID:
    return conn.execute(
        text("INSERT INTO users (phone_number) VALUES (:phone_number) RETURNING id"),
        {"phone_number": phone_number},
    ).scalar_one()


def add_portfolio(
    conn: Connection,
    user_id: uuid.UUID,
    *,
    cash_balance: Number = None,
    broker: str = "manual",
    broker_account_id: str | None = None,
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO portfolios (user_id, name, broker, broker_account_id, cash_balance) "
            "VALUES (:user_id, 'test', :broker, :broker_account_id, :cash_balance) RETURNING id"
        ),
        {
            "user_id": user_id,
            "broker": broker,
            "broker_account_id": broker_account_id,
            "cash_balance": cash_balance,
        },
    ).scalar_one()


def add_holding(
    conn: Connection,
    portfolio_id: uuid.UUID,
    security_id: uuid.UUID,
    side: str,
    quantity: Number,
    average_entry_price: Number,
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO portfolio_holdings "
            "(portfolio_id, security_id, side, quantity, average_entry_price) "
            "VALUES (:portfolio_id, :security_id, :side, :quantity, :price) RETURNING id"
        ),
        {
            "portfolio_id": portfolio_id,
            "security_id": security_id,
            "side": side,
            "quantity": quantity,
            "price": average_entry_price,
        },
    ).scalar_one()


def row(conn: Connection, table: str, row_id: uuid.UUID, columns: str) -> tuple[object, ...]:
    """`columns` of one row of `table` (both written by the test itself, never user input)."""
    return tuple(
        conn.execute(text(f"SELECT {columns} FROM {table} WHERE id = :id"), {"id": row_id}).one()
    )
