"""Trades: positions and their validations, status transitions, ownership, atomicity."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from rm_pipeline.app.errors import Conflict, InvalidInput, NotFound
from rm_pipeline.app.trades import PositionSpec, TradeService, TradeStatus
from rm_pipeline.core.analysis import Side
from rm_pipeline_tests.app.conftest import FakeClock

LONG_AAPL = PositionSpec("AAPL", Side.LONG, Decimal(60))
SHORT_MSFT = PositionSpec("MSFT", Side.SHORT, Decimal(40))


def count(db: Engine, table: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def stored_status(db: Engine, trade_id: uuid.UUID) -> str:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT status FROM trades WHERE id = :id"), {"id": trade_id}
        ).scalar_one()


def set_status(db: Engine, trade_id: uuid.UUID, status: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE trades SET status = :s WHERE id = :id"), {"s": status, "id": trade_id}
        )


@pytest.fixture
def draft(trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]) -> uuid.UUID:
    return trades.create(alice, "Pair", "Long Apple, short Microsoft", [LONG_AAPL, SHORT_MSFT]).id


def test_create_stores_a_draft_with_its_positions(
    db: Engine, draft: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    with db.connect() as conn:
        trade = conn.execute(text("SELECT * FROM trades WHERE id = :id"), {"id": draft}).mappings()
        positions = conn.execute(
            text(
                "SELECT security_id, position_type, security_type, allocation_percent "
                "FROM positions WHERE trade_id = :id ORDER BY allocation_percent DESC"
            ),
            {"id": draft},
        ).all()
    assert trade.one()["status"] == "draft"
    assert [tuple(p) for p in positions] == [
        (securities["AAPL"], "long", "equity", Decimal("60.00")),
        (securities["MSFT"], "short", "equity", Decimal("40.00")),
    ]


def test_the_view_lists_positions_with_tickers(
    trades: TradeService, alice: uuid.UUID, draft: uuid.UUID
) -> None:
    view = trades.get(alice, draft)
    assert [(p.ticker, p.side, p.allocation_percent) for p in view.positions] == [
        ("AAPL", "long", Decimal("60.00")),
        ("MSFT", "short", Decimal("40.00")),
    ]
    assert view.total_allocation == Decimal(100)
    assert view.returns == dict.fromkeys(["1m", "3m", "6m", "1y", "3y"])


@pytest.mark.parametrize(
    ("allocation", "problem"),
    [
        ("0", "more than 0 and at most 100"),
        ("-5", "more than 0 and at most 100"),
        ("100.01", "more than 0 and at most 100"),
        ("NaN", "more than 0 and at most 100"),
        ("12.345", "more than 2 decimals"),
    ],
)
def test_an_allocation_out_of_range_is_refused_naming_the_position(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    securities: dict[str, uuid.UUID],
    allocation: str,
    problem: str,
) -> None:
    bad = PositionSpec("MSFT", Side.SHORT, Decimal(allocation))
    with pytest.raises(
        InvalidInput, match=rf"position 2 \(MSFT short {allocation}%\): .*{problem}"
    ):
        trades.create(alice, "t", "d", [LONG_AAPL, bad])
    assert count(db, "trades") == count(db, "positions") == 0


def test_allocations_may_add_up_to_exactly_100(
    trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    spec = PositionSpec("SPY", Side.LONG, Decimal("0.01"))
    view = trades.create(alice, "t", "d", [PositionSpec("AAPL", Side.LONG, Decimal("99.99")), spec])
    assert view.total_allocation == Decimal("100.00")


def test_allocations_over_100_in_total_are_refused(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    over = PositionSpec("MSFT", Side.SHORT, Decimal("40.01"))
    with pytest.raises(InvalidInput, match=r"add up to 100\.01%"):
        trades.create(alice, "t", "d", [LONG_AAPL, over])
    assert count(db, "trades") == 0


def test_every_bad_position_is_reported_at_once(
    trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    specs = [
        PositionSpec("NOPE", Side.LONG, Decimal(10)),
        PositionSpec("OLD", Side.LONG, Decimal(10)),
        PositionSpec("AAPL", Side.LONG, Decimal(0)),
    ]
    with pytest.raises(InvalidInput) as raised:
        trades.create(alice, "t", "d", specs)
    assert str(raised.value).splitlines() == [
        "position 1 (NOPE long 10%): no active security NOPE",
        "position 2 (OLD long 10%): no active security OLD",
        "position 3 (AAPL long 0%): allocation 0 must be more than 0 and at most 100",
    ]


def test_an_ambiguous_ticker_asks_for_the_exchange(
    trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    with pytest.raises(InvalidInput, match=r"SAP is listed on several exchanges \(NYSE, XETRA\)"):
        trades.create(alice, "t", "d", [PositionSpec("SAP", Side.LONG, Decimal(10))])

    view = trades.create(alice, "t", "d", [PositionSpec("sap", Side.LONG, Decimal(10), "xetra")])
    assert [(p.ticker, p.exchange) for p in view.positions] == [("SAP", "XETRA")]


def test_a_security_is_held_at_most_once_per_side(
    trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    twice = [
        PositionSpec("AAPL", Side.LONG, Decimal(10)),
        PositionSpec("aapl", Side.LONG, Decimal(5)),
    ]
    with pytest.raises(InvalidInput, match=r"position 2 .*already has a long position"):
        trades.create(alice, "t", "d", twice)

    both_sides = [twice[0], PositionSpec("AAPL", Side.SHORT, Decimal(5))]
    assert len(trades.create(alice, "t", "d", both_sides).positions) == 2


@pytest.mark.parametrize(("name", "description"), [("  ", "d"), ("t", ""), ("x" * 256, "d")])
def test_a_trade_needs_a_name_and_a_description(
    trades: TradeService, alice: uuid.UUID, name: str, description: str
) -> None:
    with pytest.raises(InvalidInput, match="the trade's"):
        trades.create(alice, name, description)


@pytest.mark.parametrize(
    ("name", "description", "refused"),
    [
        ("Tech\u202epair", "fine", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("Tech pair", "long\u2066hidden\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("Tech\x1b[31mpair", "fine", "U+001B"),
        ("Tech\npair", "fine", "U+000A"),
    ],
)
def test_control_and_bidi_characters_are_refused(
    db: Engine, trades: TradeService, alice: uuid.UUID, name: str, description: str, refused: str
) -> None:
    with pytest.raises(InvalidInput, match="contains a control character") as caught:
        trades.create(alice, name, description)
    assert refused in str(caught.value)
    assert count(db, "trades") == 0


def test_a_description_may_span_lines(trades: TradeService, alice: uuid.UUID) -> None:
    trade = trades.create(alice, "Tech pair", "First line.\n\tSecond line.")
    assert trade.description == "First line.\n\tSecond line."


def test_positions_are_added_and_removed_with_the_same_rules(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    trade = trades.create(alice, "t", "d", [LONG_AAPL])
    with pytest.raises(
        InvalidInput,
        match=r"existing positions \(60.00%\), new position \(MSFT short 41%\) add up to 101.00%",
    ):
        trades.add_position(alice, trade.id, PositionSpec("MSFT", Side.SHORT, Decimal(41)))

    added = trades.add_position(alice, trade.id, SHORT_MSFT)
    removed = trades.remove_position(alice, trade.id, added.positions[0].id)

    assert [p.ticker for p in added.positions] == ["AAPL", "MSFT"]
    assert [p.ticker for p in removed.positions] == ["MSFT"]
    assert count(db, "positions") == 1


def test_removing_a_position_of_another_trade_is_not_found(
    trades: TradeService, alice: uuid.UUID, draft: uuid.UUID
) -> None:
    other = trades.create(alice, "t", "d", [LONG_AAPL])
    with pytest.raises(NotFound, match="has no position"):
        trades.remove_position(alice, draft, other.positions[0].id)


def test_only_drafts_change_positions(
    db: Engine, trades: TradeService, alice: uuid.UUID, draft: uuid.UUID
) -> None:
    trades.activate(alice, draft)
    position = trades.get(alice, draft).positions[0]
    with pytest.raises(Conflict, match="only drafts change positions"):
        trades.remove_position(alice, draft, position.id)
    with pytest.raises(Conflict, match="only drafts change positions"):
        trades.add_position(alice, draft, PositionSpec("SPY", Side.LONG, Decimal(1)))
    assert count(db, "positions") == 2


def test_the_lifecycle_stamps_activation_and_closing(
    trades: TradeService, alice: uuid.UUID, draft: uuid.UUID, clock: FakeClock
) -> None:
    activated_at = clock.now
    active = trades.activate(alice, draft)
    clock.now = clock.now.replace(year=clock.now.year + 1)
    closed = trades.close(alice, draft)
    archived = trades.archive(alice, draft)

    assert (active.status, active.activated_at, active.closed_at) == ("active", activated_at, None)
    assert (closed.status, closed.closed_at) == ("closed", clock.now)
    assert (archived.status, archived.activated_at) == ("archived", activated_at)


def test_a_draft_may_be_archived_directly(
    db: Engine, trades: TradeService, alice: uuid.UUID, draft: uuid.UUID
) -> None:
    trades.archive(alice, draft)
    assert stored_status(db, draft) == "archived"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("draft", "close"),
        ("active", "activate"),
        ("active", "archive"),
        ("closed", "activate"),
        ("closed", "close"),
        ("archived", "activate"),
        ("archived", "close"),
        ("archived", "archive"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    draft: uuid.UUID,
    status: str,
    action: str,
) -> None:
    set_status(db, draft, status)
    with pytest.raises(Conflict, match=f"is {status} and cannot become"):
        getattr(trades, action)(alice, draft)
    assert stored_status(db, draft) == status


def test_a_trade_without_positions_cannot_be_activated(
    db: Engine, trades: TradeService, alice: uuid.UUID
) -> None:
    empty = trades.create(alice, "t", "d")
    with pytest.raises(Conflict, match="no positions"):
        trades.activate(alice, empty.id)
    assert stored_status(db, empty.id) == TradeStatus.DRAFT


def test_other_users_trades_are_invisible(
    trades: TradeService, alice: uuid.UUID, bob: uuid.UUID, draft: uuid.UUID
) -> None:
    with pytest.raises(NotFound):
        trades.get(bob, draft)
    with pytest.raises(NotFound):
        trades.activate(bob, draft)
    with pytest.raises(NotFound):
        trades.add_position(bob, draft, LONG_AAPL)
    assert trades.list_trades(bob) == []
    assert [t.id for t in trades.list_trades(alice)] == [draft]


def test_list_filters_by_status(trades: TradeService, alice: uuid.UUID, draft: uuid.UUID) -> None:
    other = trades.create(alice, "other", "d", [LONG_AAPL])
    trades.activate(alice, other.id)
    assert [t.id for t in trades.list_trades(alice, TradeStatus.ACTIVE)] == [other.id]
    assert [t.id for t in trades.list_trades(alice, TradeStatus.DRAFT)] == [draft]
