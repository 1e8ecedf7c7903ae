"""Missing sessions kept as facts (`price_gaps`, migration 0015): found by the loads that leave
them, over the whole history, gone when a later load fills them; and no return taken across them
as one day's in `v_daily_returns` and `v_latest_prices`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import Engine, text

from rm_pipeline.core.calendars import sessions
from rm_pipeline.ingest.prices import PriceLoadReport, ingest_prices
from rm_pipeline.providers.base import ProviderResult
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline.warehouse.gaps import (
    WHOLE_HISTORY,
    Gap,
    gaps_near,
    open_gaps,
    refresh_gaps,
    unchecked_securities,
)
from rm_pipeline_tests.warehouse.factories import add_security

CLOCK = date(2026, 11, 30)
EARLY = (date(2019, 1, 2), date(2020, 12, 31))
LATE = (date(2023, 1, 3), date(2024, 12, 31))
HOLE = (date(2021, 1, 4), date(2022, 12, 30))
"""The New York and London sessions between EARLY's last and LATE's first."""


class Omitting:
    """The synthetic provider, except that it sends no bar on `missing` days."""

    def __init__(self, missing: Sequence[date] = ()) -> None:
        self.inner = SyntheticProvider(seed=7, today=lambda: CLOCK)
        self.name = self.inner.name
        self.missing = list(missing)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        result = self.inner.daily_bars(tickers, start, end)
        kept = ~result.frame["date"].dt.date.isin(self.missing)
        return replace(result, frame=result.frame[kept].reset_index(drop=True))

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        return self.inner.corporate_actions(tickers, start, end)


def load(db: Engine, span: tuple[date, date], missing: Sequence[date] = ()) -> PriceLoadReport:
    return ingest_prices(db, Omitting(missing), *span, batch_size=10, run_id="test-run")


def count_sessions(calendar: str, first: date, last: date) -> int:
    return len(sessions(calendar, first, last))


def stored_gaps(db: Engine) -> list[Gap]:
    with db.connect() as conn:
        return open_gaps(conn)


@pytest.fixture
def two_ranges(db: Engine) -> None:
    """AAPL and SHEL.L loaded over 2019-2020, then over 2023-2024: two years missing between."""
    with db.begin() as conn:
        add_security(conn, "AAPL")
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    load(db, EARLY)
    load(db, LATE)


def test_a_two_range_load_leaves_a_multi_year_hole_that_is_stored(
    db: Engine, two_ranges: None
) -> None:
    new_york, london = (count_sessions(c, *HOLE) for c in ("XNYS", "XLON"))
    assert stored_gaps(db) == [Gap("AAPL", *HOLE, new_york), Gap("SHEL.L", *HOLE, london)]
    assert Gap("AAPL", *HOLE, new_york).describe() == (
        f"AAPL: 2021-01-04 to 2022-12-30 ({new_york:,} sessions)"
    )
    with db.connect() as conn:
        found = conn.execute(text("SELECT DISTINCT run_id FROM price_gaps")).scalars().all()
        assert found == ["test-run"]
        assert unchecked_securities(conn) == []


def test_the_load_reports_the_gaps_beside_its_range(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "AAPL")
    assert load(db, EARLY).gaps == []
    assert [gap.ticker for gap in load(db, LATE).gaps] == ["AAPL"]


def test_gaps_near_a_range_are_those_inside_or_beside_it(db: Engine, two_ranges: None) -> None:
    with db.connect() as conn:
        assert [gap.ticker for gap in gaps_near(conn, *LATE)] == ["AAPL", "SHEL.L"]
        assert [gap.ticker for gap in gaps_near(conn, *EARLY)] == ["AAPL", "SHEL.L"]
        assert gaps_near(conn, date(2019, 1, 2), date(2019, 6, 28)) == []
        assert gaps_near(conn, date(2024, 6, 3), date(2024, 12, 31)) == []


def test_a_later_load_filling_the_hole_removes_the_gap(db: Engine, two_ranges: None) -> None:
    load(db, (date(2021, 6, 1), date(2021, 6, 30)))  # splits the hole in two
    assert [(g.ticker, g.first_missing, g.last_missing) for g in stored_gaps(db)] == [
        ("AAPL", date(2021, 1, 4), date(2021, 5, 28)),
        ("AAPL", date(2021, 7, 1), date(2022, 12, 30)),
        ("SHEL.L", date(2021, 1, 4), date(2021, 5, 28)),
        ("SHEL.L", date(2021, 7, 1), date(2022, 12, 30)),
    ]
    load(db, HOLE)
    assert stored_gaps(db) == []
    with db.connect() as conn:
        assert unchecked_securities(conn) == []


def test_a_gap_found_again_keeps_when_it_was_found(db: Engine, two_ranges: None) -> None:
    query = text("SELECT security_id, first_missing, found_at, run_id FROM price_gaps ORDER BY 1")
    with db.connect() as conn:
        before = conn.execute(query).all()
    ingest_prices(db, Omitting(), *LATE, batch_size=10, run_id="again")
    with db.connect() as conn:
        assert conn.execute(query).all() == before


def test_six_missing_london_sessions_in_a_month_are_found_and_holidays_are_no_gaps(
    db: Engine,
) -> None:
    """In May 2025 London was closed on the 5th and the 26th (bank holidays)."""
    with db.begin() as conn:
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    missing = [date(2025, 5, day) for day in (2, 6, 7, 20, 21, 28)]
    report = load(db, (date(2025, 5, 1), date(2025, 5, 30)), missing)
    expected = [
        Gap("SHEL.L", date(2025, 5, 2), date(2025, 5, 7), 3),  # the 5th is no session
        Gap("SHEL.L", date(2025, 5, 20), date(2025, 5, 21), 2),
        Gap("SHEL.L", date(2025, 5, 28), date(2025, 5, 28), 1),  # the 26th is no gap
    ]
    assert report.gaps == expected
    assert stored_gaps(db) == expected
    assert sum(gap.sessions for gap in expected) == 6
    with db.connect() as conn:
        calendar = conn.execute(text("SELECT trading_calendar FROM securities")).scalar_one()
    assert calendar == "XLON"


def test_the_first_refresh_after_the_upgrade_scans_every_history_once(
    db: Engine, two_ranges: None
) -> None:
    """A warehouse migrated to 0015 holds bars but no gaps nor coverage: the next refresh, of
    whatever load, scans every history not covered, loaded or not."""
    with db.begin() as conn:
        conn.execute(text("TRUNCATE price_gaps, price_gap_coverage"))
    with db.connect() as conn:
        assert unchecked_securities(conn) == ["AAPL", "SHEL.L"]
    with db.begin() as conn:
        aapl = conn.execute(text("SELECT CAST(id AS text) FROM securities WHERE ticker = 'AAPL'"))
        found = refresh_gaps(conn, date(2024, 12, 31), date(2024, 12, 31), aapl.scalars().all())
    assert [gap.ticker for gap in found] == ["AAPL", "SHEL.L"]
    assert [gap.ticker for gap in stored_gaps(db)] == ["AAPL", "SHEL.L"]
    with db.connect() as conn:
        assert unchecked_securities(conn) == []


def test_a_security_whose_sessions_are_unknown_has_unknown_gaps_not_none(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "ODD", calendar="NO_SUCH_CALENDAR")
    load(db, EARLY)
    load(db, LATE)
    assert stored_gaps(db) == []
    with db.connect() as conn:
        assert unchecked_securities(conn) == ["ODD"]
        returns = conn.execute(
            text("SELECT daily_return, sessions FROM v_daily_returns WHERE date = :day"),
            {"day": LATE[0]},
        ).one()
    assert returns.sessions is None and returns.daily_return is not None


def test_no_daily_return_spans_the_hole(db: Engine, two_ranges: None) -> None:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT date, close, previous_close, daily_return, sessions FROM v_daily_returns "
                "WHERE ticker = 'AAPL' ORDER BY date"
            )
        ).all()
    across = [row for row in rows if row.date == LATE[0]]
    assert [(r.daily_return, r.sessions) for r in across] == [
        (None, count_sessions("XNYS", *HOLE) + 1)
    ]
    assert across[0].previous_close is not None  # the closes stay; only the return is not one day's
    first, *others = [row for row in rows if row.date != LATE[0]]
    assert (first.daily_return, first.sessions) == (None, None)
    assert {row.sessions for row in others} == {1}
    assert all(
        float(row.daily_return) == pytest.approx(float(row.close / row.previous_close - 1))
        for row in others
    )


def test_the_latest_return_across_missing_sessions_is_not_the_days(db: Engine) -> None:
    with db.begin() as conn:
        add_security(conn, "AAPL")
    load(db, (date(2024, 12, 2), date(2024, 12, 31)))
    latest = text("SELECT date, day_change, day_return, sessions FROM v_latest_prices")
    with db.connect() as conn:
        consecutive = conn.execute(latest).one()
    assert consecutive.sessions == 1 and consecutive.day_return is not None

    load(db, (date(2025, 1, 10), date(2025, 1, 10)))  # 2, 3, 6, 7 and 8 January missing
    with db.connect() as conn:
        across = conn.execute(latest).one()
    assert (across.date, across.day_change, across.day_return) == (date(2025, 1, 10), None, None)
    assert across.sessions == 6  # New York was closed on the 9th


def test_a_whole_history_rescan_finds_what_a_replaced_history_lost(db: Engine) -> None:
    """What a re-fetch that replaced a history leaves: bars gone anywhere, an earlier start."""
    with db.begin() as conn:
        aapl = str(add_security(conn, "AAPL"))
    load(db, EARLY)
    delete = text("DELETE FROM price_history WHERE date BETWEEN :first AND :last")
    with db.begin() as conn:
        conn.execute(delete, {"first": date(2019, 1, 10), "last": date(2019, 1, 10)})
        conn.execute(delete, {"first": date(2019, 6, 3), "last": date(2019, 6, 7)})
        found = refresh_gaps(conn, *WHOLE_HISTORY, [aapl])
    assert found == [
        Gap("AAPL", date(2019, 1, 10), date(2019, 1, 10), 1),
        Gap("AAPL", date(2019, 6, 3), date(2019, 6, 7), 5),
    ]
    with db.begin() as conn:
        conn.execute(delete, {"first": date(2019, 1, 1), "last": date(2019, 1, 31)})
        refresh_gaps(conn, *WHOLE_HISTORY, [aapl])
    assert stored_gaps(db) == [Gap("AAPL", date(2019, 6, 3), date(2019, 6, 7), 5)]


def test_a_bar_on_a_holiday_does_not_hide_a_missing_session(db: Engine) -> None:
    """A span is only searched for gaps when it misses a session; bars written by hand on a day
    that is no session (New York's 2019-07-04) must not make up for one that is missing."""
    with db.begin() as conn:
        aapl = str(add_security(conn, "AAPL"))
    load(db, EARLY)
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO price_history (security_id, date, open, high, low, close, volume) "
                "SELECT security_id, DATE '2019-07-04', open, high, low, close, volume "
                "FROM price_history WHERE date = DATE '2019-07-03'"
            )
        )
        conn.execute(text("DELETE FROM price_history WHERE date = DATE '2019-07-05'"))
        stored = conn.execute(
            text("SELECT count(*) FROM price_history WHERE date BETWEEN :first AND :last"),
            {"first": EARLY[0], "last": EARLY[1]},
        ).scalar_one()
        assert stored == count_sessions("XNYS", *EARLY)
        found = refresh_gaps(conn, *WHOLE_HISTORY, [aapl])
    assert found == [Gap("AAPL", date(2019, 7, 5), date(2019, 7, 5), 1)]
    assert stored_gaps(db) == found
