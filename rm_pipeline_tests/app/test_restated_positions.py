"""Paper positions stay on the stored prices' scale through a history the source restated
without reporting its split: the split is inferred, applied once, and given way to when the
source reports it late; the replaced closes stay queryable as they were."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text

from rm_pipeline.app.trades import PositionSpec, Side, TradeService
from rm_pipeline.cli.commands import cli
from rm_pipeline.ingest.prices import PriceLoadReport, ingest_prices
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.validation import bars_result
from rm_pipeline.warehouse.valuations import value_trade_positions
from rm_pipeline_tests.app.conftest import FakeClock
from rm_pipeline_tests.warehouse.factories import add_security

ENTRY_DAY = date(2019, 11, 8)
SPLIT_DAY = pd.Timestamp("2020-08-31")  # Apple's 4-for-1
SESSIONS = pd.bdate_range("2019-11-04", "2020-09-11")


def raw_close(day: pd.Timestamp) -> float:
    """Apple's unadjusted close: 260.14 on 2019-11-08 (as on that day), rising 0.25 a session,
    a quarter of that from the split on."""
    sessions_since_entry = int((day > SESSIONS).sum()) - int(
        (pd.Timestamp(ENTRY_DAY) > SESSIONS).sum()
    )
    close = 260.14 + 0.25 * sessions_since_entry
    return close / 4 if day >= SPLIT_DAY else close


class AppleSource:
    """Apple's bars, unadjusted until `restated`; from then on split-adjusted, rounded to cents
    as Yahoo's are. The split is reported only once `reports_split` is set."""

    name = "scripted"

    def __init__(self) -> None:
        self.restated = False
        self.reports_split = False

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        days = SESSIONS[(pd.Timestamp(start) <= SESSIONS) & (pd.Timestamp(end) >= SESSIONS)]
        closes = [raw_close(d) for d in days]
        if self.restated:
            closes = [
                round(c / 4, 2) if d < SPLIT_DAY else c for d, c in zip(days, closes, strict=True)
            ]
        frame = pd.DataFrame(
            {"ticker": "AAPL", "date": days, "open": closes, "high": closes, "low": closes,
             "close": closes, "adj_close": closes, "volume": 1_000_000}
        )  # fmt: skip
        return bars_result(
            frame, [TickerOutcome("AAPL", TickerStatus.OK)], start, end, today=date(2026, 1, 1)
        )

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        reported = self.reports_split and pd.Timestamp(start) <= SPLIT_DAY <= pd.Timestamp(end)
        frame = pd.DataFrame(
            [("AAPL", SPLIT_DAY, "split", 4.0)] if reported else [],
            columns=["ticker", "date", "action", "value"],
        )
        frame["date"] = pd.to_datetime(frame["date"])
        return ProviderResult(frame, [TickerOutcome("AAPL", TickerStatus.OK)])


def load(db: Engine, source: AppleSource, start: str, end: str) -> PriceLoadReport:
    return ingest_prices(
        db, source, date.fromisoformat(start), date.fromisoformat(end), batch_size=10
    )


@pytest.fixture
def apple(db: Engine) -> uuid.UUID:
    with db.begin() as conn:
        return add_security(conn, "AAPL")


def position(db: Engine, trade_id: uuid.UUID) -> dict[str, object]:
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT quantity, entry_price, split_factor, current_price, unrealized_pnl, "
                "realized_pnl, exit_price FROM positions WHERE trade_id = :id"
            ),
            {"id": trade_id},
        ).one()
    return dict(row._mapping)


def splits(db: Engine) -> list[tuple[date, Decimal, str]]:
    with db.connect() as conn:
        return [
            (d, v.normalize(), b)
            for d, v, b in conn.execute(
                text(
                    "SELECT date, value, basis FROM corporate_actions WHERE action = 'split' ORDER BY date"
                )
            )
        ]


def test_positions_opened_before_an_unreported_restatement_follow_it_and_close_right(
    db: Engine, trades: TradeService, alice: uuid.UUID, clock: FakeClock, apple: uuid.UUID
) -> None:
    source = AppleSource()
    load(db, source, "2019-11-04", "2019-11-08")
    clock.now = datetime(2019, 11, 8, 22, 0)
    long = trades.create(alice, "Long", "Apple up", [PositionSpec("AAPL", Side.LONG, Decimal(100))])
    short = trades.create(
        alice, "Short", "Apple down", [PositionSpec("AAPL", Side.SHORT, Decimal(100))]
    )
    for trade in (long, short):
        trades.activate(alice, trade.id)
    opened = position(db, long.id)
    assert opened["entry_price"] == Decimal("260.140000")
    load(db, source, "2019-11-11", "2020-08-28")

    source.restated = True
    before_restatement = db.connect().execute(text("SELECT LOCALTIMESTAMP")).scalar_one()
    report = load(db, source, "2020-08-31", "2020-09-11")
    assert report.refetched == ["AAPL"] and report.failed == []
    assert [line.split(":")[0:2] for line in report.inferred] == [["AAPL", " 4"]]
    assert splits(db) == [(SPLIT_DAY.date(), Decimal(4), "inferred")]

    with db.begin() as conn:
        assert value_trade_positions(conn).split_adjusted == 2
    last = raw_close(SESSIONS[-1])  # 4 x this in the old scale
    quantity = opened["quantity"] * 4
    assert position(db, long.id)["quantity"] == quantity
    assert position(db, long.id)["entry_price"] == Decimal("65.035000")
    expected_long = (quantity * Decimal(str(last))).quantize(Decimal("0.01")) - (
        quantity * Decimal("65.035")
    ).quantize(Decimal("0.01"))
    assert position(db, long.id)["unrealized_pnl"] == expected_long
    assert expected_long > 0  # about 0.25 x 215 sessions x 384 shares in the old scale
    assert position(db, short.id)["unrealized_pnl"] == -expected_long

    closed = trades.close(alice, long.id)
    assert closed.status == "closed"
    assert position(db, long.id)["realized_pnl"] == expected_long

    with db.connect() as conn:
        as_of = conn.execute(
            text("SELECT close FROM prices_as_of(:ts) WHERE security_id = :id AND date = :day"),
            {"ts": before_restatement, "id": apple, "day": ENTRY_DAY},
        ).scalar_one()
        now = conn.execute(
            text("SELECT close FROM price_history WHERE security_id = :id AND date = :day"),
            {"id": apple, "day": ENTRY_DAY},
        ).scalar_one()
        reasons = conn.execute(
            text("SELECT DISTINCT change, reason FROM price_history_superseded")
        ).all()
    assert (as_of, now) == (Decimal("260.140000"), Decimal(str(round(260.14 / 4, 2))))
    assert reasons == [("updated", "restated by scripted: 4:1 split inferred on 2020-08-31")]

    source.reports_split = True  # the source reports the split late: it replaces the inference
    load(db, source, "2020-08-24", "2020-09-11")
    assert splits(db) == [(SPLIT_DAY.date(), Decimal(4), "reported")]
    with db.begin() as conn:
        assert value_trade_positions(conn).split_adjusted == 0
    assert position(db, short.id)["unrealized_pnl"] == -expected_long


def test_a_restatement_no_split_explains_is_held_until_an_operator_accepts_it(
    db: Engine, apple: uuid.UUID
) -> None:
    source = AppleSource()
    load(db, source, "2019-11-04", "2019-12-31")
    original = raw_close
    globals()["raw_close"] = lambda day: original(day) / 1.37  # no split's ratio
    try:
        report = load(db, source, "2020-01-02", "2020-01-10")
        [failure] = report.failed
        assert "x1.3700: no split's ratio; held" in failure.reason
        assert (held_rows(db), stored_bars(db)) == (7, (40, date(2019, 12, 31), 0))
        assert splits(db) == []
        assert load(db, source, "2020-01-02", "2020-01-10").failed != []  # held again

        with db.begin() as conn:  # the operator accepts the source's history
            conn.execute(text("UPDATE quarantine SET resolved_at = LOCALTIMESTAMP"))
        accepted = load(db, source, "2020-01-02", "2020-01-10")
    finally:
        globals()["raw_close"] = original
    assert accepted.failed == [] and accepted.refetched == ["AAPL"]
    assert (held_rows(db), stored_bars(db)) == (0, (47, date(2020, 1, 10), 47))
    assert splits(db) == []
    with db.connect() as conn:
        [(reason, count)] = conn.execute(
            text("SELECT reason, count(*) FROM price_history_superseded GROUP BY reason")
        ).all()
    assert count == 40 and reason.endswith("no split's ratio; accepted by an operator")


def held_rows(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM quarantine WHERE resolved_at IS NULL "
                "AND reason LIKE 'unexplained_restatement%'"
            )
        ).scalar_one()


def stored_bars(db: Engine) -> tuple[int, date, int]:
    """How many bars, the last one's date, and how many are on the source's new scale."""
    with db.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT count(*), max(date), count(*) FILTER (WHERE close < 200) "
                    "FROM price_history"
                )
            ).one()
        )


def test_an_operator_lists_and_withdraws_an_inferred_split(
    db: Engine, trades: TradeService, alice: uuid.UUID, clock: FakeClock, apple: uuid.UUID
) -> None:
    source = AppleSource()
    load(db, source, "2020-08-03", "2020-08-28")
    clock.now = datetime(2020, 8, 28, 22, 0)
    trade = trades.create(alice, "Long", "Apple", [PositionSpec("AAPL", Side.LONG, Decimal(50))])
    trades.activate(alice, trade.id)
    opened = position(db, trade.id)
    source.restated = True
    load(db, source, "2020-08-31", "2020-09-04")
    with db.begin() as conn:
        value_trade_positions(conn)
    assert position(db, trade.id)["quantity"] == opened["quantity"] * 4

    listed = invoke("splits", "list", "--inferred")
    assert listed.exit_code == 0
    assert "AAPL       2020-08-31    4:1  inferred scripted" in listed.output
    assert "scripted restated 20 stored closes from 2020-08-03 to 2020-08-28" in listed.output

    withdrawn = invoke("splits", "withdraw", "aapl", "2020-08-31")
    assert (
        withdrawn.output
        == "AAPL: inferred split of 2020-08-31 withdrawn; 1 open position rescaled\n"
    )
    assert position(db, trade.id)["quantity"] == opened["quantity"]
    assert splits(db) == []
    with db.connect() as conn:
        kept = conn.execute(
            text("SELECT change, reason, basis FROM corporate_actions_superseded")
        ).all()
    assert kept == [("deleted", "inferred split withdrawn by an operator", "inferred")]

    again = invoke("splits", "withdraw", "AAPL", "2020-08-31")
    assert again.exit_code == 1 and "AAPL has no inferred split on 2020-08-31" in again.output


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)
