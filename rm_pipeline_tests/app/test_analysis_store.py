"""Which trades need analysis (raw SQL writers included), and storing the analyzer's results."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.app.analysis_store import (
    PendingTrade,
    analyze_pending,
    load_closes,
    load_trade_inputs,
    trades_needing_analysis,
)
from rm_pipeline.app.trades import PositionSpec, TradeService
from rm_pipeline.core.analysis import Side, StatisticalAnalyzer, TradeAnalysis, TradeInput
from rm_pipeline.core.calendars import sessions
from rm_pipeline.providers.files_provider import FilesProvider
from rm_pipeline_tests.app.conftest import insert

HISTORY_DAYS = 300
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = FIRST_DAY + timedelta(days=HISTORY_DAYS - 1)
AS_OF = datetime(2024, 10, 28, 12)
"""The Monday after the last close (Saturday 2024-10-26): the prices are current."""


def as_of_last_close() -> datetime:
    return AS_OF


def pending(db: Engine) -> list[uuid.UUID]:
    with db.connect() as conn:
        return trades_needing_analysis(conn)


def execute(db: Engine, sql: str, **params: object) -> None:
    with db.begin() as conn:
        conn.execute(text(sql), params)


def trade_row(db: Engine, trade_id: uuid.UUID) -> dict[str, object]:
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM trades WHERE id = :id"), {"id": trade_id})
        return dict(row.mappings().one())


@pytest.fixture
def priced(db: Engine, securities: dict[str, uuid.UUID]) -> dict[str, uuid.UUID]:
    """300 daily closes: AAPL grows exactly 1% a day, MSFT and SPY stay at 100."""
    growth = {"AAPL": 0.01, "MSFT": 0.0, "SPY": 0.0}
    rows = [
        {
            "security_id": securities[ticker],
            "date": FIRST_DAY + timedelta(days=day),
            "close": round(100 * (1 + rate) ** day, 6),
        }
        for ticker, rate in growth.items()
        for day in range(HISTORY_DAYS)
    ]
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO price_history (security_id, date, close) "
                "VALUES (:security_id, :date, :close)"
            ),
            rows,
        )
    return securities


@pytest.fixture
def pair(trades: TradeService, alice: uuid.UUID, priced: dict[str, uuid.UUID]) -> uuid.UUID:
    """A draft: AAPL long 60%, MSFT short 40%."""
    positions = [
        PositionSpec("AAPL", Side.LONG, Decimal(60)),
        PositionSpec("MSFT", Side.SHORT, Decimal(40)),
    ]
    return trades.create(alice, "Pair", "Apple against Microsoft", positions).id


@pytest.fixture
def analyzed_pair(db: Engine, pair: uuid.UUID) -> uuid.UUID:
    assert analyze_pending(db, clock=as_of_last_close).analyzed == (pair,)
    return pair


def test_a_new_trade_is_pending_until_analyzed(db: Engine, pair: uuid.UUID) -> None:
    assert pending(db) == [pair]

    summary = analyze_pending(db)

    assert (summary.pending, summary.analyzed, summary.changed) == (1, (pair,), ())
    assert pending(db) == []
    assert analyze_pending(db).pending == 0


def test_the_results_are_stored_on_the_trade_and_its_positions(
    db: Engine, analyzed_pair: uuid.UUID
) -> None:
    row = trade_row(db, analyzed_pair)
    with db.connect() as conn:
        rationales = conn.execute(
            text("SELECT rationale FROM positions WHERE trade_id = :id ORDER BY position_type"),
            {"id": analyzed_pair},
        ).scalars()
        long_rationale, short_rationale = list(rationales)

    assert row["return_1m"] == Decimal("0.1394"), "0.6 * (1.01^21 - 1)"
    assert row["return_1y"] == Decimal(repr(0.6 * (1.01**252 - 1))).quantize(Decimal("0.0001"))
    assert row["return_3y"] is None, "300 closes are not 3 years"
    assert (row["risk_level"], row["recommendation"]) == ("LOW", "RECOMMENDED")
    assert row["ai_rationale"].startswith(
        "Period: the 300 dates on which every position's security has a close, 2024-01-01 to "
        f"{LAST_DAY} (299 daily returns, 252 a year). Newest common close {LAST_DAY}: current"
    )
    assert "Expected returns: 1m +13.94%" in row["ai_rationale"]
    assert long_rationale.startswith(
        f"AAPL long 60.00%: latest close {LAST_DAY}; over the 299 common daily returns"
    )
    assert short_rationale.startswith("MSFT short 40.00%")


def test_writing_the_results_does_not_look_like_a_change(
    db: Engine, analyzed_pair: uuid.UUID
) -> None:
    with db.connect() as conn:
        stamps = conn.execute(
            text(
                "SELECT t.analyzed_at, t.updated_at, max(p.updated_at) FROM trades t "
                "JOIN positions p ON p.trade_id = t.id WHERE t.id = :id "
                "GROUP BY t.analyzed_at, t.updated_at"
            ),
            {"id": analyzed_pair},
        ).one()
    analyzed_at, trade_updated_at, position_updated_at = stamps
    assert analyzed_at >= trade_updated_at
    assert analyzed_at >= position_updated_at
    assert pending(db) == []


def test_a_trade_written_by_raw_sql_is_noticed_and_analyzed(
    db: Engine, alice: uuid.UUID, priced: dict[str, uuid.UUID]
) -> None:
    with db.begin() as conn:
        trade = insert(conn, "trades", user_id=alice, trade_name="raw", trade_description="sql")
        insert(
            conn,
            "positions",
            trade_id=trade,
            security_id=priced["AAPL"],
            position_type="long",
            security_type="equity",
            allocation_percent=100,
        )
    assert pending(db) == [trade]

    analyze_pending(db)

    assert trade_row(db, trade)["return_1m"] == Decimal("0.2324")
    assert pending(db) == []


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE positions SET allocation_percent = 30 "
        "WHERE trade_id = :trade AND position_type = 'long'",
        "UPDATE positions SET security_id = :spy "
        "WHERE trade_id = :trade AND position_type = 'short'",
        "UPDATE positions SET position_type = 'long' WHERE trade_id = :trade",
        "DELETE FROM positions WHERE trade_id = :trade AND position_type = 'short'",
        "INSERT INTO positions (trade_id, security_id, position_type, security_type, "
        "allocation_percent) VALUES (:trade, :spy, 'long', 'etf', 1)",
        "UPDATE trades SET trade_description = 'rethought' WHERE id = :trade",
        "UPDATE trades SET analyzed_at = NULL WHERE id = :trade",
    ],
    ids=["allocation", "security", "side", "deleted", "inserted", "description", "forced"],
)
def test_raw_sql_changes_to_the_inputs_make_an_analyzed_trade_pending_again(
    db: Engine, analyzed_pair: uuid.UUID, priced: dict[str, uuid.UUID], change: str
) -> None:
    execute(db, change, trade=analyzed_pair, spy=priced["SPY"])
    assert pending(db) == [analyzed_pair]

    assert analyze_pending(db).analyzed == (analyzed_pair,)
    assert pending(db) == []


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE positions SET current_price = 123.45, market_value = 1000 WHERE trade_id = :trade",
        "UPDATE positions SET rationale = 'edited' WHERE trade_id = :trade",
        "UPDATE trades SET status = 'active', activated_at = now() WHERE id = :trade",
        "UPDATE trades SET trade_description = trade_description WHERE id = :trade",
    ],
    ids=["valuation", "rationale", "activation", "no-op"],
)
def test_writes_that_leave_the_inputs_alone_do_not(
    db: Engine, analyzed_pair: uuid.UUID, change: str
) -> None:
    execute(db, change, trade=analyzed_pair)
    assert pending(db) == []


@pytest.mark.parametrize("status", ["closed", "archived"])
def test_closed_and_archived_trades_are_never_analyzed(
    db: Engine, pair: uuid.UUID, status: str
) -> None:
    execute(db, "UPDATE trades SET status = :s WHERE id = :trade", s=status, trade=pair)
    assert pending(db) == []
    assert analyze_pending(db).pending == 0
    assert trade_row(db, pair)["analyzed_at"] is None


@dataclass(frozen=True)
class MeddlingAnalyzer:
    """The statistical analyzer, but the trade's description changes while it is at work."""

    db: Engine
    trade_id: uuid.UUID

    @property
    def history_days(self) -> int:
        return StatisticalAnalyzer().history_days

    def analyze(self, trade: TradeInput, closes: pd.DataFrame, as_of: date) -> TradeAnalysis:
        execute(
            self.db,
            "UPDATE trades SET trade_description = 'changed meanwhile' WHERE id = :trade",
            trade=self.trade_id,
        )
        return StatisticalAnalyzer().analyze(trade, closes, as_of)


def test_a_trade_changed_while_being_analyzed_keeps_no_stale_results(
    db: Engine, pair: uuid.UUID
) -> None:
    summary = analyze_pending(db, MeddlingAnalyzer(db, pair))

    assert (summary.analyzed, summary.changed) == ((), (pair,))
    assert trade_row(db, pair)["analyzed_at"] is None
    with db.connect() as conn:
        rationales = conn.execute(
            text("SELECT rationale FROM positions WHERE trade_id = :id"), {"id": pair}
        ).scalars()
        assert set(rationales) == {None}
    assert pending(db) == [pair]
    assert analyze_pending(db).analyzed == (pair,)


def test_a_trade_the_analyzer_cannot_take_is_reported_and_stays_pending(
    db: Engine, pair: uuid.UUID
) -> None:
    execute(
        db,
        "UPDATE positions SET position_type = 'sideways' WHERE trade_id = :trade "
        "AND position_type = 'short'",
        trade=pair,
    )
    summary = analyze_pending(db)
    assert summary.analyzed == ()
    assert "position_type 'sideways'" in summary.invalid[pair]
    assert pending(db) == [pair]


def test_pending_trades_are_analyzed_batch_by_batch(
    db: Engine, trades: TradeService, alice: uuid.UUID, pair: uuid.UUID
) -> None:
    spec = [PositionSpec("SPY", Side.LONG, Decimal(10))]
    others = [trades.create(alice, f"t{i}", "d", spec).id for i in range(2)]

    summary = analyze_pending(db, batch_size=1)

    assert set(summary.analyzed) == {pair, *others}
    assert pending(db) == []


def raw_trade(db: Engine, user: uuid.UUID, *legs: tuple[uuid.UUID, str, int]) -> uuid.UUID:
    """A draft written straight into the tables: (security, side, allocation) per position."""
    with db.begin() as conn:
        trade = insert(conn, "trades", user_id=user, trade_name="raw", trade_description="sql")
        for security, side, allocation in legs:
            insert(
                conn,
                "positions",
                trade_id=trade,
                security_id=security,
                position_type=side,
                security_type="equity",
                allocation_percent=allocation,
            )
    return trade


def add_security(db: Engine, ticker: str, exchange: str, security_type: str) -> uuid.UUID:
    with db.begin() as conn:
        return insert(
            conn,
            "securities",
            ticker=ticker,
            name=ticker,
            exchange=exchange,
            security_type=security_type,
        )


def add_closes(db: Engine, security: uuid.UUID, closes: dict[date, float]) -> None:
    with db.begin() as conn:
        conn.execute(
            text("INSERT INTO price_history (security_id, date, close) VALUES (:s, :d, :c)"),
            [{"s": security, "d": day, "c": close} for day, close in closes.items()],
        )


def loaded(db: Engine, trade_id: uuid.UUID, days: int) -> tuple[PendingTrade, pd.DataFrame]:
    with db.connect() as conn:
        [inputs], _ = load_trade_inputs(conn, [trade_id])
        return inputs, load_closes(conn, [inputs], days)[trade_id]


def test_closes_are_loaded_from_the_last_common_dates_on(
    db: Engine, alice: uuid.UUID, priced: dict[str, uuid.UUID]
) -> None:
    """SAP's 10 closes end 5 days after AAPL's last: the frame starts at the first of the last 5
    dates both share, and SAP's later closes come along, so the analyzer sees how far each
    reaches."""
    sap = priced["SAP@XETRA"]
    add_closes(db, sap, {LAST_DAY + timedelta(days=d): 10.0 for d in range(-4, 6)})
    trade = raw_trade(db, alice, (priced["AAPL"], "long", 50), (sap, "short", 50))

    _, frame = loaded(db, trade, days=3)

    assert list(frame.index) == list(pd.date_range(LAST_DAY - timedelta(days=2), periods=8))
    assert frame[str(priced["AAPL"])].count() == 3
    assert frame[str(sap)].tolist() == [10.0] * 8


def test_securities_without_a_common_date_bring_their_own_last_closes(
    db: Engine, alice: uuid.UUID, priced: dict[str, uuid.UUID]
) -> None:
    sap = priced["SAP@XETRA"]
    add_closes(db, sap, {LAST_DAY + timedelta(days=d): 10.0 for d in range(1, 11)})
    trade = raw_trade(db, alice, (priced["AAPL"], "long", 50), (sap, "short", 50))

    _, frame = loaded(db, trade, days=4)

    assert frame[str(priced["AAPL"])].dropna().index[0] == pd.Timestamp(LAST_DAY - timedelta(3))
    assert frame[str(sap)].count() == 4
    assert frame.dropna().empty


def test_each_position_carries_its_exchange_calendar(db: Engine, alice: uuid.UUID) -> None:
    """By the ticker's market, and every day for a security typed crypto whatever its ticker."""
    legs = {
        "7203.T": add_security(db, "7203.T", "TSE", "equity"),
        "TSLA": add_security(db, "TSLA", "NASDAQ", "equity"),
        "BTC-USD": add_security(db, "BTC-USD", "CCC", "crypto"),
        "WRAPPED": add_security(db, "WRAPPED", "CCC", "crypto"),
    }
    trade = raw_trade(db, alice, *((security, "long", 25) for security in legs.values()))

    inputs, _ = loaded(db, trade, days=5)

    calendars = {p.ticker: p.calendar for p in inputs.trade.positions}
    assert calendars == {"7203.T": "XTKS", "TSLA": "XNYS", "BTC-USD": "24/7", "WRAPPED": "24/7"}


def test_the_analysis_is_as_of_the_clock_s_date(db: Engine, pair: uuid.UUID) -> None:
    """A year after the last close the prices are stale: said, and the risk raised."""
    analyze_pending(db, clock=lambda: AS_OF + timedelta(days=365))

    row = trade_row(db, pair)
    assert f"Stale prices: the newest common close is {LAST_DAY}" in row["ai_rationale"]
    assert "before 2025-10-28, more than 5" in row["ai_rationale"]
    assert (row["risk_level"], row["recommendation"]) == ("MODERATE", "CONDITIONAL")


TOYOTA = sessions("XTKS", date(2021, 11, 25), date(2024, 12, 24))
TESLA = sessions("XNYS", date(2020, 12, 28), date(2023, 12, 29))


def write_price_file(directory: Path, ticker: str, days: tuple[date, ...], rate: float) -> None:
    """A Stooq-layout file: the close moves by exactly `rate` each session."""
    lines = ["Date,Open,High,Low,Close,Volume"]
    for i, day in enumerate(days):
        close = round(1000 * (1 + rate) ** i, 6)
        lines.append(f"{day},{close},{close},{close},{close},1000")
    (directory / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def test_toyota_against_tesla_is_measured_on_their_common_sessions_and_called_stale(
    db: Engine, alice: uuid.UUID, tmp_path: Path
) -> None:
    """Toyota's file runs from 2021-11-25 to 2024-12-24 (Tokyo sessions), Tesla's from 2020-12-28
    to 2023-12-29 (New York): both legs are measured on the sessions both exchanges held, from
    2021-11-26 (New York was closed for Thanksgiving on the 25th) to 2023-12-29, and in November
    2026 those prices are almost three years old.

    By hand: Toyota gains 0.1% a Tokyo session, Tesla loses 0.05% a New York session, so between
    the first and last common session Toyota's log drift per common return is log(1.001) times
    the Tokyo sessions in between over the common returns (a return across a New York holiday
    spans two Tokyo sessions), and Tesla's likewise."""
    write_price_file(tmp_path, "7203.T", TOYOTA, 0.001)
    write_price_file(tmp_path, "TSLA", TESLA, -0.0005)
    bars = FilesProvider(tmp_path, today=lambda: date(2026, 11, 26)).daily_bars(
        ["7203.T", "TSLA"], date(2020, 1, 1), date(2026, 11, 26)
    )
    assert len(bars.frame) == len(TOYOTA) + len(TESLA), "every row of both files is valid"
    ids = {
        "7203.T": add_security(db, "7203.T", "TSE", "equity"),
        "TSLA": add_security(db, "TSLA", "NASDAQ", "equity"),
    }
    for ticker, rows in bars.frame.groupby("ticker"):
        add_closes(
            db, ids[str(ticker)], dict(zip(rows["date"].dt.date, rows["close"], strict=True))
        )
    trade = raw_trade(db, alice, (ids["7203.T"], "long", 50), (ids["TSLA"], "short", 50))

    analyze_pending(db, clock=lambda: datetime(2026, 11, 26, 12))

    common = sorted(set(TOYOTA) & set(TESLA))
    first, last, returns = common[0], common[-1], len(common) - 1
    assert (first, last) == (date(2021, 11, 26), date(2023, 12, 29)), "Thanksgiving first"
    row = trade_row(db, trade)
    rationale = row["ai_rationale"]
    assert rationale.startswith(
        f"Period: the {len(common)} dates on which every position's security has a close, "
        f"2021-11-26 to 2023-12-29 ({returns} daily returns, 252 a year). Stale prices: the "
        "newest common close is 2023-12-29;"
    )
    assert "before 2026-11-26, more than 5" in rationale
    assert f"over {returns} days" in rationale
    assert row["risk_level"] is not None and row["recommendation"] != "RECOMMENDED"

    toyota_drift = math.log(1.001) * (TOYOTA.index(last) - TOYOTA.index(first)) / returns
    tesla_drift = math.log(0.9995) * (TESLA.index(last) - TESLA.index(first)) / returns
    one_year = 0.5 * math.expm1(252 * toyota_drift) - 0.5 * math.expm1(252 * tesla_drift)
    assert float(row["return_1y"]) == pytest.approx(one_year, abs=1e-4)
    assert row["return_3y"] is None, f"{returns} common returns are not 756"
    with db.connect() as conn:
        toyota_text, tesla_text = conn.execute(
            text("SELECT rationale FROM positions WHERE trade_id = :t ORDER BY position_type"),
            {"t": trade},
        ).scalars()
    assert toyota_text.startswith(
        f"7203.T long 50.00%: latest close 2024-12-24; over the {returns} common daily returns"
    )
    assert f"annualized drift is {252 * toyota_drift:+.2%}" in toyota_text
    assert tesla_text.startswith(
        f"TSLA short 50.00%: latest close 2023-12-29; over the {returns} common daily returns"
    )


@pytest.mark.parametrize(("age_days", "is_pending"), [(6, False), (8, True)])
def test_an_analysis_older_than_a_week_is_redone(
    db: Engine, analyzed_pair: uuid.UUID, age_days: int, is_pending: bool
) -> None:
    """Unchanged inputs, but whether its prices are current was judged on the analysis's day."""
    execute(
        db,
        "UPDATE trades SET analyzed_at = LOCALTIMESTAMP - make_interval(days => :age) "
        "WHERE id = :trade",
        age=age_days,
        trade=analyzed_pair,
    )
    assert pending(db) == ([analyzed_pair] if is_pending else [])
