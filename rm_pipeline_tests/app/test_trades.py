"""Trades: positions and their validations, status transitions, ownership, atomicity, and their
execution on paper: opening, valuing, splitting and closing positions across currencies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text

from rm_pipeline.app.errors import Conflict, InvalidInput, NotFound
from rm_pipeline.app.tokens import AccessTokens
from rm_pipeline.app.trades import PositionSpec, TradeService, TradeStatus
from rm_pipeline.cli.commands import cli
from rm_pipeline.core.analysis import Side
from rm_pipeline.settings import Settings, get_settings
from rm_pipeline.warehouse.valuations import value_trade_positions
from rm_pipeline_tests.app.conftest import JWT_SECRET, FakeClock
from rm_pipeline_tests.warehouse.factories import add_bar, add_fx_rate, add_security

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


OPENED = datetime(2024, 1, 3, 22, 0)
DAY_1, DAY_2, DAY_3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5)
EXECUTION = (
    "status, quantity, entry_price, entry_fx_rate, current_price, exit_price, market_value, "
    "unrealized_pnl, realized_pnl, split_factor"
)


@pytest.fixture
def priced(db: Engine, securities: dict[str, uuid.UUID], clock: FakeClock) -> None:
    """Closes of $200 for AAPL, $400 for MSFT and $500 for SPY on DAY_2, the evening the clock
    shows."""
    clock.now = OPENED
    with db.begin() as conn:
        for key, close in (("AAPL", 200), ("MSFT", 400), ("SPY", 500)):
            add_bar(conn, securities[key], DAY_2, close)


@pytest.fixture
def draft(trades: TradeService, alice: uuid.UUID, priced: None) -> uuid.UUID:
    return trades.create(alice, "Pair", "Long Apple, short Microsoft", [LONG_AAPL, SHORT_MSFT]).id


def execution(db: Engine, trade_id: uuid.UUID) -> dict[str, tuple[object, ...]]:
    """The paper execution columns of the trade's positions, by ticker and side."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (SELECT ticker FROM securities WHERE id = p.security_id) || ' ' || "
                f"p.position_type, {EXECUTION} FROM positions p WHERE p.trade_id = :id"
            ),
            {"id": trade_id},
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def listed(conn: Connection, ticker: str, exchange: str, currency: str, close: int) -> uuid.UUID:
    """A new security with its close on DAY_2; returns its id."""
    security = add_security(conn, ticker, exchange, currency=currency)
    add_bar(conn, security, DAY_2, close)
    return security


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
        ("Tech\u2028pair", "fine", "name contains a control or separator character: U+2028 LINE"),
        ("Tech pair", "one\u2029two", "description contains a control or separator character: "),
        ("Tech\u200bpair", "fine", "U+200B ZERO WIDTH SPACE at position 4"),
    ],
)
def test_control_format_and_separator_characters_are_refused(
    db: Engine, trades: TradeService, alice: uuid.UUID, name: str, description: str, refused: str
) -> None:
    with pytest.raises(InvalidInput, match="contains a control or separator character") as caught:
        trades.create(alice, name, description)
    assert refused in str(caught.value)
    assert count(db, "trades") == 0


def test_every_problem_of_a_new_trade_is_reported_at_once(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        trades.create(
            alice,
            "Tech\u2028pair",
            "d",
            [PositionSpec("NOPE", Side.LONG, Decimal(10))],
            notional=Decimal("1.001"),
            currency="XXX",
        )
    assert str(raised.value).splitlines() == [
        "the trade's name contains a control or separator character: "
        "U+2028 LINE SEPARATOR at position 4",
        "the trade's currency 'XXX' must be a 3-letter code of an ISO 4217 currency, in capitals, "
        "e.g. USD, EUR or JPY",
        "the trade's notional 1.001 has more than 2 decimals",
        "position 1 (NOPE long 10%): no active security NOPE",
    ]
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


def test_activation_opens_each_position_at_its_latest_close_in_the_trade_currency(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    securities: dict[str, uuid.UUID],
    clock: FakeClock,
) -> None:
    """$250,000: 40% in Shell at 2600 pence ($0.013 a penny), 30% short Toyota at 3000 yen
    ($0.0065 a yen), 30% in Apple at $200."""
    clock.now = OPENED
    with db.begin() as conn:
        listed(conn, "SHEL.L", "LSE", "GBp", 2600)
        listed(conn, "7203.T", "TSE", "JPY", 3000)
        add_bar(conn, securities["AAPL"], DAY_1, 190)
        add_bar(conn, securities["AAPL"], DAY_2, 200)
        add_fx_rate(conn, "GBP", DAY_2, "1.30")
        add_fx_rate(conn, "JPY", DAY_1, "0.0065")  # the day before: still the latest rate
    specs = [
        PositionSpec("SHEL.L", Side.LONG, Decimal(40)),
        PositionSpec("7203.T", Side.SHORT, Decimal(30)),
        PositionSpec("AAPL", Side.LONG, Decimal(30)),
    ]
    trade = trades.create(alice, "World", "d", specs, notional=Decimal(250_000))
    opened = trades.activate(alice, trade.id)

    # 100,000 / (2600 x 0.013) = 2958.5798816...; 75,000 / (3000 x 0.0065) = 3846.1538461...
    assert execution(db, trade.id) == {
        "SHEL.L long": ("open", Decimal("2958.579882"), Decimal("2600.000000"),
                        Decimal("0.0130000000"), None, None, None, None, None, Decimal(1)),
        "7203.T short": ("open", Decimal("3846.153846"), Decimal("3000.000000"),
                         Decimal("0.0065000000"), None, None, None, None, None, Decimal(1)),
        "AAPL long": ("open", Decimal("375.000000"), Decimal("200.000000"),
                      Decimal("1.0000000000"), None, None, None, None, None, Decimal(1)),
    }  # fmt: skip
    assert {p.status for p in opened.positions} == {"open"}
    assert (opened.currency, opened.notional) == ("USD", Decimal("250000.00"))
    with db.connect() as conn:
        stamps = conn.execute(
            text("SELECT DISTINCT opened_at FROM positions WHERE trade_id = :id"), {"id": trade.id}
        ).scalars()
        assert list(stamps) == [OPENED]


def test_without_a_notional_activation_invests_the_default(
    db: Engine, trades: TradeService, alice: uuid.UUID, draft: uuid.UUID
) -> None:
    trades.activate(alice, draft)
    quantities = {key: values[1] for key, values in execution(db, draft).items()}
    # 60% of 100,000 at $200 and 40% at $400.
    assert quantities == {"AAPL long": Decimal(300), "MSFT short": Decimal(100)}


def test_activation_without_a_price_or_a_rate_names_them_all_and_leaves_a_draft(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    with db.begin() as conn:
        add_bar(conn, securities["AAPL"], DAY_2, 200)
        add_bar(conn, securities["SAP@XETRA"], DAY_2, 110)
        conn.execute(
            text("UPDATE securities SET currency = 'EUR' WHERE id = :id"),
            {"id": securities["SAP@XETRA"]},
        )
    specs = [
        LONG_AAPL,
        PositionSpec("SAP", Side.LONG, Decimal(10), "XETRA"),
        PositionSpec("MSFT", Side.SHORT, Decimal(20)),
    ]
    trade = trades.create(alice, "t", "d", specs)
    with pytest.raises(Conflict) as refused:
        trades.activate(alice, trade.id)
    assert str(refused.value) == (
        f"trade {trade.id} cannot be activated, nothing changed; positions lacking a price or "
        "an exchange rate: MSFT@NASDAQ short: no price; "
        "SAP@XETRA long: no EUR to USD rate for its close of 2024-01-03"
    )
    assert stored_status(db, trade.id) == TradeStatus.DRAFT
    assert {values[:2] for values in execution(db, trade.id).values()} == {("recommended", None)}


def test_closing_records_the_realized_pnl_at_the_closing_rate(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    """A euro trade in Shell: up 4% in pence, but the pound fell against the euro."""
    with db.begin() as conn:
        shell_id = listed(conn, "SHEL.L", "LSE", "GBp", 2500)
        add_fx_rate(conn, "GBP", DAY_2, "1.32")
        add_fx_rate(conn, "EUR", DAY_2, "1.10")  # 0.012 euro a penny
    shell = [PositionSpec("SHEL.L", Side.LONG, Decimal(100))]
    trade = trades.create(alice, "t", "d", shell, notional=Decimal(50_000), currency="EUR")
    trades.activate(alice, trade.id)
    with db.begin() as conn:
        add_bar(conn, shell_id, DAY_3, 2600)
        add_fx_rate(conn, "GBP", DAY_3, "1.21")  # 0.011 euro a penny
        add_fx_rate(conn, "EUR", DAY_3, "1.10")
    trades.close(alice, trade.id)

    # 1666.666667 shares: 2600 x 0.011 each now (47,666.67) against 2500 x 0.012 (50,000.00).
    assert execution(db, trade.id) == {
        "SHEL.L long": ("closed", Decimal("1666.666667"), Decimal("2500.000000"),
                        Decimal("0.0120000000"), Decimal("2600.000000"), Decimal("2600.000000"),
                        Decimal("0.00"), Decimal("0.00"), Decimal("-2333.33"), Decimal(1)),
    }  # fmt: skip


def test_closing_without_a_rate_refuses_and_keeps_the_trade_open(
    db: Engine, trades: TradeService, alice: uuid.UUID, securities: dict[str, uuid.UUID]
) -> None:
    with db.begin() as conn:
        shell_id = listed(conn, "SHEL.L", "LSE", "GBp", 2500)
        add_fx_rate(conn, "GBP", DAY_2, "1.30")
    trade = trades.create(alice, "t", "d", [PositionSpec("SHEL.L", Side.LONG, Decimal(50))])
    trades.activate(alice, trade.id)
    with db.begin() as conn:
        add_bar(conn, shell_id, date(2024, 1, 15), 2550)  # 12 days after the last rate
    with pytest.raises(Conflict, match=r"SHEL\.L@LSE long: no GBp to USD rate .* of 2024-01-15"):
        trades.close(alice, trade.id)
    assert stored_status(db, trade.id) == TradeStatus.ACTIVE
    assert execution(db, trade.id)["SHEL.L long"][0] == "open"


def test_a_split_after_opening_is_applied_once_and_follows_a_correction(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    draft: uuid.UUID,
    securities: dict[str, uuid.UUID],
) -> None:
    """Apple opens with 300 shares at $200, then splits 4 for 1: its history is restated."""
    trades.activate(alice, draft)
    apple = securities["AAPL"]

    def split(ratio: int, day: date = DAY_3) -> None:
        with db.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO corporate_actions (security_id, date, action, value) "
                    "VALUES (:id, :day, 'split', :ratio) ON CONFLICT (security_id, date, action) "
                    "DO UPDATE SET value = excluded.value"
                ),
                {"id": apple, "day": day, "ratio": ratio},
            )

    def nightly() -> int:
        with db.begin() as conn:
            return value_trade_positions(conn).split_adjusted

    split(3, DAY_2)  # dated on the opening day: already in the entry price, not applied
    with db.begin() as conn:
        conn.execute(
            text("UPDATE price_history SET close = 50 WHERE security_id = :id"), {"id": apple}
        )
        add_bar(conn, apple, DAY_3, 52)
    split(4)
    assert [nightly(), nightly()] == [1, 0]
    # 1200 shares at $50 entry; now $52: worth 62,400, up 2,400.
    assert execution(db, draft)["AAPL long"] == (
        "open", Decimal("1200.000000"), Decimal("50.000000"), Decimal("1.0000000000"),
        Decimal("52.000000"), None, Decimal("62400.00"), Decimal("2400.00"), None, Decimal(4),
    )  # fmt: skip

    split(2)  # the provider corrects the ratio: adjusted by 2 / 4, not applied again
    assert [nightly(), nightly()] == [1, 0]
    assert execution(db, draft)["AAPL long"][1:3] == (Decimal("600.000000"), Decimal("100.000000"))
    assert execution(db, draft)["MSFT short"][-1] == Decimal(1)


def add_split(db: Engine, security: uuid.UUID, day: date, ratio: int) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO corporate_actions (security_id, date, action, value) "
                "VALUES (:id, :day, 'split', :ratio)"
            ),
            {"id": security, "day": day, "ratio": ratio},
        )


def test_a_split_between_the_entry_close_and_the_opening_is_applied_once_stored(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    draft: uuid.UUID,
    securities: dict[str, uuid.UUID],
    clock: FakeClock,
) -> None:
    """The trade opens two days after Apple's last stored close ($200 on DAY_2); a 4-for-1
    split dated in between arrives with the next load, which restates the history."""
    clock.now = datetime(2024, 1, 5, 22, 0)
    trades.activate(alice, draft)
    apple = securities["AAPL"]
    add_split(db, apple, date(2024, 1, 4), 4)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE price_history SET close = 50 WHERE security_id = :id"), {"id": apple}
        )
        result = value_trade_positions(conn)
    # Apple split and valued, Microsoft valued: each position counted once.
    assert (result.split_adjusted, result.updated) == (1, 2)
    # 300 shares at $200 became 1,200 at $50, worth 60,000 at the restated close.
    assert execution(db, draft)["AAPL long"][:3] == (
        "open", Decimal("1200.000000"), Decimal("50.000000"),
    )  # fmt: skip


def test_a_split_already_in_the_restated_entry_close_is_not_applied_again(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    draft: uuid.UUID,
    securities: dict[str, uuid.UUID],
    clock: FakeClock,
) -> None:
    apple = securities["AAPL"]
    add_split(db, apple, date(2024, 1, 4), 4)
    with db.begin() as conn:  # the history as restated: DAY_2's $200 is $50 a share now
        conn.execute(
            text("UPDATE price_history SET close = 50 WHERE security_id = :id"), {"id": apple}
        )
    clock.now = datetime(2024, 1, 5, 22, 0)
    trades.activate(alice, draft)
    with db.begin() as conn:
        assert value_trade_positions(conn).split_adjusted == 0
    # 60% of 100,000 at $50: 1,200 shares, the split already counted in the entry price.
    assert execution(db, draft)["AAPL long"][:3] == (
        "open", Decimal("1200.000000"), Decimal("50.000000"),
    )  # fmt: skip
    assert execution(db, draft)["AAPL long"][-1] == Decimal(4)


@pytest.mark.parametrize(
    ("notional", "currency", "problem"),
    [
        (Decimal(0), "USD", "notional 0 must be more than 0"),
        (Decimal("-5"), "USD", "notional -5 must be more than 0"),
        (Decimal("100.001"), "USD", "notional 100.001 has more than 2 decimals"),
        (Decimal("NaN"), "USD", "notional NaN must be more than 0"),
        (None, "usd", "currency 'usd' must be a 3-letter code"),
        (None, "GBp", "currency 'GBp' must be a 3-letter code"),
        (None, "EURO", "currency 'EURO' must be a 3-letter code"),
        (None, "XXX", "currency 'XXX' must be a 3-letter code of an ISO 4217 currency"),
        (None, "ABC", "currency 'ABC' must be a 3-letter code of an ISO 4217 currency"),
        (None, "GBX", "currency 'GBX' must be a 3-letter code of an ISO 4217 currency"),
    ],
)
def test_a_bad_notional_or_currency_is_refused(
    db: Engine,
    trades: TradeService,
    alice: uuid.UUID,
    notional: Decimal | None,
    currency: str,
    problem: str,
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        trades.create(alice, "t", "d", notional=notional, currency=currency)
    assert count(db, "trades") == 0


@pytest.mark.parametrize("currency", ["EUR", " CHF ", "XAU"])
def test_an_iso_4217_currency_is_accepted(
    trades: TradeService, alice: uuid.UUID, currency: str
) -> None:
    assert trades.create(alice, "t", "d", currency=currency).currency == currency.strip()


def test_the_command_refuses_a_currency_outside_iso_4217_in_one_line(
    db: Engine, alice: uuid.UUID, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RM_JWT_SECRET", JWT_SECRET)
    get_settings.cache_clear()
    token = AccessTokens.from_settings(settings).issue(alice)
    arguments = ["--token", token, "--name", "n", "--description", "d", "--currency", "XXX"]
    result = CliRunner().invoke(cli, ["trades", "create", *arguments])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: the trade's currency 'XXX' must be a 3-letter code of an ISO 4217 currency, "
        "in capitals, e.g. USD, EUR or JPY"
    ]
    assert count(db, "trades") == 0
