"""`latest_bar()` and `valuation_date()` (migration 0018): a security's latest bar on or before a
date, and the latest bar's date over all securities."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from rm_pipeline_tests.warehouse.factories import add_bar, add_security

LATEST_BAR = "SELECT date, close FROM latest_bar(:id, :on_or_before)"


def test_latest_bar_on_or_before_a_date(db: Engine) -> None:
    with db.begin() as conn:
        aaa = add_security(conn, "AAA")
        add_bar(conn, aaa, date(2025, 1, 2), 100)
        add_bar(conn, aaa, date(2025, 1, 6), 102)
        add_bar(conn, aaa, date(2025, 1, 3), 101)

        def latest(on_or_before: date | None) -> list[tuple[date, float]]:
            rows = conn.execute(text(LATEST_BAR), {"id": aaa, "on_or_before": on_or_before})
            return [(day, float(close)) for day, close in rows]

        assert latest(None) == [(date(2025, 1, 6), 102.0)]
        assert latest(date(2025, 1, 6)) == [(date(2025, 1, 6), 102.0)]
        assert latest(date(2025, 1, 5)) == [(date(2025, 1, 3), 101.0)]
        assert latest(date(2025, 1, 1)) == []
        default = conn.execute(text("SELECT date FROM latest_bar(:id)"), {"id": aaa}).scalar_one()
        assert default == date(2025, 1, 6)


def test_a_security_without_bars_has_no_latest_bar(db: Engine) -> None:
    with db.begin() as conn:
        bare = add_security(conn, "NONE")
        assert conn.execute(text("SELECT * FROM latest_bar(:id)"), {"id": bare}).all() == []


def test_valuation_date_is_the_latest_bar_over_all_securities(db: Engine) -> None:
    with db.begin() as conn:
        assert conn.execute(text("SELECT valuation_date()")).scalar_one() is None
        aaa, bbb = add_security(conn, "AAA"), add_security(conn, "BBB")
        add_bar(conn, aaa, date(2025, 1, 2), 100)
        add_bar(conn, aaa, date(2025, 1, 3), 101)
        add_bar(conn, bbb, date(2025, 1, 6), 50)

        def valuation_date(on_or_before: date | None) -> date | None:
            query = text("SELECT valuation_date(:on_or_before)")
            day: date | None = conn.execute(query, {"on_or_before": on_or_before}).scalar_one()
            return day

        assert conn.execute(text("SELECT valuation_date()")).scalar_one() == date(2025, 1, 6)
        assert valuation_date(None) == date(2025, 1, 6)
        assert valuation_date(date(2025, 1, 5)) == date(2025, 1, 3)
        assert valuation_date(date(2025, 1, 1)) is None
