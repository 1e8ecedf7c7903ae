"""Which trades need analysis (raw SQL writers included), and storing the analyzer's results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.app.analysis_store import analyze_pending, load_closes, trades_needing_analysis
from rm_pipeline.app.trades import PositionSpec, TradeService
from rm_pipeline.core.analysis import Side, StatisticalAnalyzer, TradeAnalysis, TradeInput
from rm_pipeline_tests.app.conftest import insert

HISTORY_DAYS = 300
FIRST_DAY = date(2024, 1, 1)


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
    assert analyze_pending(db).analyzed == (pair,)
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
    assert row["ai_rationale"].startswith("Expected returns: 1m +13.94%")
    assert long_rationale.startswith("AAPL long 60.00%: over 299 daily returns")
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

    def analyze(self, trade: TradeInput, closes: pd.DataFrame) -> TradeAnalysis:
        execute(
            self.db,
            "UPDATE trades SET trade_description = 'changed meanwhile' WHERE id = :trade",
            trade=self.trade_id,
        )
        return StatisticalAnalyzer().analyze(trade, closes)


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


def test_load_closes_keeps_the_most_recent_days_per_security(
    db: Engine, priced: dict[str, uuid.UUID]
) -> None:
    ids = [str(priced["AAPL"]), str(priced["MSFT"])]
    with db.connect() as conn:
        frame = load_closes(conn, ids, days=5)
    last_day = pd.Timestamp(FIRST_DAY + timedelta(days=HISTORY_DAYS - 1))
    assert sorted(frame.columns) == sorted(ids)
    assert list(frame.index) == list(pd.date_range(end=last_day, periods=5))
    assert frame[ids[1]].tolist() == [100.0] * 5
    assert frame.loc[last_day, ids[0]] == pytest.approx(100 * 1.01 ** (HISTORY_DAYS - 1), rel=1e-8)
