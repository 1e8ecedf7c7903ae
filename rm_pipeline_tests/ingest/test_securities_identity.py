"""One identity per security: an exchange move keeps the row; a dual listing is two securities."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.ingest.securities import (
    REFERENCE_COLUMNS,
    ExchangeMove,
    SecuritiesSync,
    read_universe,
    select_universe,
    sync_securities,
)
from rm_pipeline_tests.warehouse.factories import (
    add_bar,
    add_holding,
    add_portfolio,
    add_user,
)


def reference(*listings: tuple[str, str | None]) -> pd.DataFrame:
    """Provider reference rows for (ticker, exchange) pairs."""
    rows = [
        {
            "ticker": ticker,
            "exchange": exchange,
            "name": f"{ticker} Inc.",
            "security_type": "equity",
        }
        for ticker, exchange in listings
    ]
    return pd.DataFrame(rows).reindex(columns=list(REFERENCE_COLUMNS))


def sync(conn: Connection, *listings: tuple[str, str | None]) -> SecuritiesSync:
    return sync_securities(conn, reference(*listings), "test")


def listings(conn: Connection, ticker: str) -> list[tuple[uuid.UUID, str | None, bool]]:
    return [
        (r.id, r.exchange, r.is_active)
        for r in conn.execute(
            text(
                "SELECT id, exchange, is_active FROM securities WHERE ticker = :ticker "
                "ORDER BY exchange"
            ),
            {"ticker": ticker},
        )
    ]


def add_open_position(conn: Connection, user_id: uuid.UUID, security_id: uuid.UUID) -> None:
    trade = conn.execute(
        text(
            "INSERT INTO trades (user_id, trade_name, trade_description) "
            "VALUES (:user_id, 'idea', 'an idea') RETURNING id"
        ),
        {"user_id": user_id},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
            "allocation_percent) VALUES (:trade_id, :security_id, 'long', 'equity', 100)"
        ),
        {"trade_id": trade, "security_id": security_id},
    )


def attached(conn: Connection, security_id: uuid.UUID) -> tuple[object, ...]:
    """How many bars, holdings and positions point at the security."""
    counts = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM price_history WHERE security_id = :id), "
            "(SELECT count(*) FROM portfolio_holdings WHERE security_id = :id), "
            "(SELECT count(*) FROM positions WHERE security_id = :id)"
        ),
        {"id": security_id},
    ).one()
    return tuple(counts)


def test_a_move_keeps_the_id_history_holdings_and_positions(db: Engine) -> None:
    with db.begin() as conn:
        sync(conn, ("MOVER", "NYSE"), ("STAY", "NYSE"))
        [(mover, _, _)] = listings(conn, "MOVER")
        add_bar(conn, mover, date(2024, 6, 3), 10)
        add_bar(conn, mover, date(2024, 6, 4), 11)
        user = add_user(conn)
        add_holding(conn, add_portfolio(conn, user), mover, "long", 5, 10)
        add_open_position(conn, user, mover)

    with db.begin() as conn:
        result = sync(conn, ("MOVER", "NASDAQ"), ("STAY", "NYSE"))
        assert result.moved == (ExchangeMove(mover, "MOVER", "NYSE", "NASDAQ"),)
        assert (result.load.inserted, result.deactivated) == (0, 0)
        assert listings(conn, "MOVER") == [(mover, "NASDAQ", True)]
        assert attached(conn, mover) == (2, 1, 1)


def test_a_move_back_is_the_same_row_again(db: Engine) -> None:
    with db.begin() as conn:
        sync(conn, ("MOVER", "NYSE"))
        [(mover, _, _)] = listings(conn, "MOVER")
        add_bar(conn, mover, date(2024, 6, 3), 10)
    for exchange, back_from in (("NASDAQ", "NYSE"), ("NYSE", "NASDAQ")):
        with db.begin() as conn:
            moved = sync(conn, ("MOVER", exchange)).moved
            assert moved == (ExchangeMove(mover, "MOVER", back_from, exchange),)
    with db.connect() as conn:
        assert listings(conn, "MOVER") == [(mover, "NYSE", True)]
        assert attached(conn, mover) == (1, 0, 0)


def test_a_ticker_on_two_exchanges_is_two_securities(db: Engine) -> None:
    with db.begin() as conn:
        sync(conn, ("SAP", "XETRA"))
        [(xetra, _, _)] = listings(conn, "SAP")
    with db.begin() as conn:
        result = sync(conn, ("SAP", "XETRA"), ("SAP", "NYSE"))
        assert (result.moved, result.load.inserted) == ((), 1)
        [(nyse, _, _), listed_on_xetra] = listings(conn, "SAP")
        assert nyse != xetra and listed_on_xetra == (xetra, "XETRA", True)

    # One of the two listings delisted: it is deactivated, not moved onto the other.
    with db.begin() as conn:
        result = sync(conn, ("SAP", "XETRA"))
        assert (result.moved, result.deactivated) == ((), 1)
        assert listings(conn, "SAP") == [(nyse, "NYSE", False), (xetra, "XETRA", True)]


def test_which_of_two_active_listings_moved_is_unknown(db: Engine) -> None:
    with db.begin() as conn:
        sync(conn, ("SAP", "XETRA"), ("SAP", "NYSE"))
    with db.begin() as conn:
        result = sync(conn, ("SAP", "NASDAQ"))
        assert (result.moved, result.load.inserted, result.deactivated) == ((), 1, 2)
        assert [(exchange, active) for _, exchange, active in listings(conn, "SAP")] == [
            ("NASDAQ", True),
            ("NYSE", False),
            ("XETRA", False),
        ]


def test_a_former_listing_on_the_new_exchange_is_reactivated_not_merged(
    db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with db.begin() as conn:
        sync(conn, ("OLD", "NYSE"))
        [(former, _, _)] = listings(conn, "OLD")
        conn.execute(text("UPDATE securities SET is_active = false WHERE id = :id"), {"id": former})
        sync(conn, ("OLD", "NASDAQ"))
        [(current, _, _)] = [r for r in listings(conn, "OLD") if r[1] == "NASDAQ"]

    with db.begin() as conn, caplog.at_level(logging.WARNING):
        result = sync(conn, ("OLD", "NYSE"))
        assert (result.moved, result.deactivated) == ((), 1)
        assert listings(conn, "OLD") == [(current, "NASDAQ", False), (former, "NYSE", True)]
    assert "OLD is now named on NYSE, where a former listing of it is stored" in caplog.text


def test_a_universe_entry_pins_the_exchange_against_the_providers_move(
    db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "universe.yaml"
    path.write_text("securities:\n  - {ticker: PINNED, exchange: NYSE}\n", encoding="utf-8")
    with db.begin() as conn:
        sync(conn, ("PINNED", "NYSE"))
        [(pinned, _, _)] = listings(conn, "PINNED")

    provider_moved = reference(("PINNED", "NASDAQ"))
    with db.begin() as conn:
        result = sync_securities(conn, select_universe(provider_moved, read_universe(path)), "t")
        assert result.moved == ()
        assert listings(conn, "PINNED") == [(pinned, "NYSE", True)]

    path.write_text("securities:\n  - {ticker: PINNED, exchange: NASDAQ}\n", encoding="utf-8")
    with db.begin() as conn:
        result = sync_securities(conn, select_universe(provider_moved, read_universe(path)), "t")
        assert result.moved == (ExchangeMove(pinned, "PINNED", "NYSE", "NASDAQ"),)


def test_setting_an_unknown_exchange_is_a_move(db: Engine) -> None:
    with db.begin() as conn:
        sync(conn, ("FILE", None))
        [(security, _, _)] = listings(conn, "FILE")
        result = sync(conn, ("FILE", "LSE"))
        assert result.moved == (ExchangeMove(security, "FILE", None, "LSE"),)
        assert str(result.moved[0]) == "FILE: no exchange -> LSE"
        assert listings(conn, "FILE") == [(security, "LSE", True)]
