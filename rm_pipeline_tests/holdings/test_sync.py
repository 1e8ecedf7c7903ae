"""Syncing holdings: add, change, remove, idempotence, and failures that write nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.holdings import (
    BrokerSyncResult,
    HoldingsError,
    ManualCsvAdapter,
    PortfolioSyncFailure,
    PortfolioSyncResult,
    UnknownSecuritiesError,
    sync_broker,
    sync_portfolio,
)
from rm_pipeline_tests.warehouse.factories import add_portfolio, add_security, add_user, row

HEADER = "ticker,exchange,side,quantity,average_entry_price\n"


@pytest.fixture
def portfolio(db: Engine) -> uuid.UUID:
    with db.begin() as conn:
        for ticker in ("AAPL", "MSFT", "TSLA"):
            add_security(conn, ticker)
        return add_portfolio(conn, add_user(conn), broker_account_id="acct-1")


def write_holdings(directory: Path, body: str, account: str = "acct-1") -> None:
    (directory / f"{account}.csv").write_text(HEADER + body, encoding="utf-8")


def holdings(conn: Connection, portfolio_id: uuid.UUID) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            text(
                "SELECT s.ticker, h.side, h.quantity, h.average_entry_price "
                "FROM portfolio_holdings h JOIN securities s ON s.id = h.security_id "
                "WHERE h.portfolio_id = :id ORDER BY s.ticker, h.side"
            ),
            {"id": portfolio_id},
        )
    ]


def everything(conn: Connection) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            text(
                "SELECT p.id, p.cash_balance, p.last_synced_at, p.updated_at, h.security_id, "
                "h.side, h.quantity, h.average_entry_price, h.last_synced_at, h.updated_at "
                "FROM portfolios p LEFT JOIN portfolio_holdings h ON h.portfolio_id = p.id "
                "ORDER BY p.id, h.id"
            )
        )
    ]


def test_add_change_remove_and_resync(db: Engine, portfolio: uuid.UUID, tmp_path: Path) -> None:
    adapter = ManualCsvAdapter(tmp_path)

    write_holdings(tmp_path, "AAPL,NASDAQ,long,10,150\nTSLA,,short,5,250\n,,cash,1000.50,\n")
    with db.begin() as conn:
        assert sync_portfolio(conn, portfolio, adapter) == PortfolioSyncResult(
            portfolio,
            inserted=2,
            updated=0,
            unchanged=0,
            removed=0,
            cash_balance=Decimal("1000.50"),
        )
        assert holdings(conn, portfolio) == [
            ("AAPL", "long", Decimal("10.000000"), Decimal("150.000000")),
            ("TSLA", "short", Decimal("5.000000"), Decimal("250.000000")),
        ]
        synced_at = conn.execute(text("SELECT CURRENT_TIMESTAMP::timestamp")).scalar_one()
        assert row(conn, "portfolios", portfolio, "cash_balance, last_synced_at") == (
            Decimal("1000.50"),
            synced_at,
        )
        assert conn.execute(
            text("SELECT array_agg(DISTINCT last_synced_at) FROM portfolio_holdings")
        ).scalar_one() == [synced_at]

    write_holdings(tmp_path, "AAPL,NASDAQ,long,12,151\nMSFT,NASDAQ,long,3,400\n,,cash,20,\n")
    with db.begin() as conn:
        assert sync_portfolio(conn, portfolio, adapter) == PortfolioSyncResult(
            portfolio, inserted=1, updated=1, unchanged=0, removed=1, cash_balance=Decimal("20")
        )
        assert holdings(conn, portfolio) == [
            ("AAPL", "long", Decimal("12.000000"), Decimal("151.000000")),
            ("MSFT", "long", Decimal("3.000000"), Decimal("400.000000")),
        ]

    with db.begin() as conn:
        assert sync_portfolio(conn, portfolio, adapter) == PortfolioSyncResult(
            portfolio, inserted=0, updated=0, unchanged=2, removed=0, cash_balance=Decimal("20")
        )
        assert len(holdings(conn, portfolio)) == 2


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("AAPL,NASDAQ,long,1,1\nNOPE,NYSE,long,1,1\nZZZ,,short,1,1\n", UnknownSecuritiesError,
         r"unknown securities: NOPE \(NYSE\), ZZZ$"),
        ("AAPL,NYSE,long,1,1\n", UnknownSecuritiesError, r"unknown securities: AAPL \(NYSE\)"),
        ("AAPL,NASDAQ,long,1,1\nAAPL,,long,2,2\n", HoldingsError,
         r"AAPL \(NASDAQ\) and AAPL are the same long holding"),
        ("AAPL,NASDAQ,long,x,1\n", HoldingsError, "line 2, field quantity"),
    ],
)  # fmt: skip
def test_a_failed_sync_leaves_the_portfolio_as_it_was(
    db: Engine,
    portfolio: uuid.UUID,
    tmp_path: Path,
    body: str,
    error: type[Exception],
    message: str,
) -> None:
    adapter = ManualCsvAdapter(tmp_path)
    write_holdings(tmp_path, "MSFT,NASDAQ,long,3,400\n,,cash,20,\n")
    with db.begin() as conn:
        sync_portfolio(conn, portfolio, adapter)
    with db.connect() as conn:
        before = everything(conn)

    write_holdings(tmp_path, body)
    with db.begin() as conn:
        with pytest.raises(error, match=message):
            sync_portfolio(conn, portfolio, adapter)
        assert everything(conn) == before


def test_an_ambiguous_ticker_needs_its_exchange(
    db: Engine, portfolio: uuid.UUID, tmp_path: Path
) -> None:
    with db.begin() as conn:
        add_security(conn, "AAPL", "XETRA")
    write_holdings(tmp_path, "AAPL,,long,1,1\n")
    with db.begin() as conn, pytest.raises(UnknownSecuritiesError, match=r"ambiguous.*: AAPL$"):
        sync_portfolio(conn, portfolio, ManualCsvAdapter(tmp_path))

    write_holdings(tmp_path, "AAPL,XETRA,long,1,1\n")
    with db.begin() as conn:
        assert sync_portfolio(conn, portfolio, ManualCsvAdapter(tmp_path)).inserted == 1


def test_only_active_securities_match(db: Engine, portfolio: uuid.UUID, tmp_path: Path) -> None:
    with db.begin() as conn:
        inactive = add_security(conn, "AAPL", "NYSE")
        conn.execute(
            text("UPDATE securities SET is_active = false WHERE id = :id"), {"id": inactive}
        )
    write_holdings(tmp_path, "AAPL,NYSE,long,1,1\n")
    with (
        db.begin() as conn,
        pytest.raises(UnknownSecuritiesError, match=r"unknown.*: AAPL \(NYSE\)$"),
    ):
        sync_portfolio(conn, portfolio, ManualCsvAdapter(tmp_path))

    # Without its inactive twin in the way, a bare ticker is its active listing's.
    write_holdings(tmp_path, "AAPL,,long,1,1\n")
    with db.begin() as conn:
        assert sync_portfolio(conn, portfolio, ManualCsvAdapter(tmp_path)).inserted == 1
        assert [
            exchange
            for (exchange,) in conn.execute(
                text(
                    "SELECT s.exchange FROM portfolio_holdings h "
                    "JOIN securities s ON s.id = h.security_id WHERE h.portfolio_id = :id"
                ),
                {"id": portfolio},
            )
        ] == ["NASDAQ"]


def test_an_exchange_matches_its_listing_first_then_a_security_of_unknown_exchange(
    db: Engine, portfolio: uuid.UUID, tmp_path: Path
) -> None:
    with db.begin() as conn:
        unknown_exchange = add_security(conn, "SHEL.L", None)
        add_security(conn, "AAPL", None)
    write_holdings(tmp_path, "SHEL.L,LSE,long,1,1\nAAPL,NASDAQ,long,2,1\n")
    with db.begin() as conn:
        sync_portfolio(conn, portfolio, ManualCsvAdapter(tmp_path))
        held = dict(
            conn.execute(
                text(
                    "SELECT s.id, s.exchange FROM portfolio_holdings h "
                    "JOIN securities s ON s.id = h.security_id WHERE h.portfolio_id = :id"
                ),
                {"id": portfolio},
            ).all()
        )
    assert held[unknown_exchange] is None
    assert sorted(held.values(), key=str) == ["NASDAQ", None]


def test_a_portfolio_of_another_broker_is_refused(db: Engine, tmp_path: Path) -> None:
    with db.begin() as conn:
        other = add_portfolio(conn, add_user(conn), broker="alpaca", broker_account_id="acct-1")
    write_holdings(tmp_path, "")
    with db.begin() as conn, pytest.raises(HoldingsError, match="with broker 'alpaca'"):
        sync_portfolio(conn, other, ManualCsvAdapter(tmp_path))


def test_sync_broker_syncs_the_good_portfolios_and_reports_the_others(
    db: Engine, portfolio: uuid.UUID, tmp_path: Path
) -> None:
    with db.begin() as conn:
        user = add_user(conn, "+14155550198")
        broken = add_portfolio(conn, user, broker_account_id="acct-2")
        add_portfolio(conn, user, broker="alpaca", broker_account_id="acct-3")
    write_holdings(tmp_path, "AAPL,NASDAQ,long,1,1\n")
    write_holdings(tmp_path, "UNKNOWN,,long,1,1\n", account="acct-2")

    with db.begin() as conn:
        result = sync_broker(conn, ManualCsvAdapter(tmp_path))
        assert result == BrokerSyncResult(
            synced=(PortfolioSyncResult(portfolio, 1, 0, 0, 0, Decimal(0)),),
            failed=(PortfolioSyncFailure(broken, "unknown securities: UNKNOWN"),),
        )
        assert len(holdings(conn, portfolio)) == 1
        assert row(conn, "portfolios", broken, "last_synced_at") == (None,)
