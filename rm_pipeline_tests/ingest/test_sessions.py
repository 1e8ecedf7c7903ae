"""Each security's calendar in the warehouse and the nightly catch-up follow its stored exchange
and type, not its ticker alone."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Engine, text

from rm_pipeline.core.calendars import sessions
from rm_pipeline.ingest.catchup import first_missing_session
from rm_pipeline.ingest.sessions import assign_calendars

UK_BANK_HOLIDAY = date(2024, 8, 26)
"""London is closed, New York is open."""


def add_security(
    conn: Connection,
    ticker: str,
    exchange: str | None,
    security_type: str = "equity",
    calendar: str | None = None,
) -> None:
    conn.execute(
        text(
            "INSERT INTO securities (ticker, name, security_type, exchange, trading_calendar) "
            "VALUES (:ticker, :ticker, :type, :exchange, :calendar)"
        ),
        {"ticker": ticker, "type": security_type, "exchange": exchange, "calendar": calendar},
    )


def test_calendars_are_assigned_from_exchange_and_type_once(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "SHEL", "LSE")
        add_security(conn, "SAP", "XETRA")
        add_security(conn, "AAPL", "NASDAQ")
        add_security(conn, "BTC-USD", None, "crypto")
        add_security(conn, "7203.T", None)
        add_security(conn, "KEPT", "LSE", calendar="XNYS")
        assert assign_calendars(conn) == 5
        assert assign_calendars(conn) == 0
        rows = conn.execute(text("SELECT ticker, trading_calendar FROM securities")).all()
    calendars = {ticker: calendar for ticker, calendar in rows}
    assert calendars == {
        "SHEL": "XLON",
        "SAP": "XETR",
        "AAPL": "XNYS",
        "BTC-USD": "24/7",
        "7203.T": "XTKS",
        "KEPT": "XNYS",
    }


def test_catch_up_wants_the_sessions_of_the_stored_exchange(db: Engine) -> None:
    day = date(2024, 8, 28)
    london = sessions("XLON", date(2024, 8, 14), day)
    assert UK_BANK_HOLIDAY not in london
    with db.begin() as conn:
        add_security(conn, "SHEL", "LSE")
        conn.execute(
            text(
                "INSERT INTO price_history (security_id, date, close) "
                "SELECT id, :day, 1 FROM securities WHERE ticker = 'SHEL'"
            ),
            [{"day": session} for session in london],
        )
        assert first_missing_session(conn, day, 5) is None
        conn.execute(text("DELETE FROM price_history WHERE date = :day"), {"day": london[-3]})
        assert first_missing_session(conn, day, 5) == london[-3]
