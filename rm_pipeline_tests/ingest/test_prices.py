"""Price ingestion: splits replace a security's history in one go; failures leave no half-load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from rm_pipeline.ingest.prices import (
    PriceLoadReport,
    ingest_prices,
    load_price_batch,
    load_price_batches,
    plan_price_batches,
    share_batches,
    tickers_per_batch,
)
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.validation import bars_result

DAYS = pd.bdate_range("2025-03-03", "2025-03-14")  # two weeks of weekdays
SPLIT_DAY = pd.Timestamp("2025-03-12")


class ScriptedProvider:
    """Serves one ticker's bars at 100; once `split` is set, a 2-for-1 split on SPLIT_DAY has
    happened, so the source restates earlier prices to 50."""

    name = "scripted"

    def __init__(self, tickers: Sequence[str]) -> None:
        self.tickers = list(tickers)
        self.split = False
        self.overflow_ticker: str | None = None
        self.refetch_fails = False
        self.calls: list[tuple[tuple[str, ...], date, date]] = []

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        self.calls.append((tuple(tickers), start, end))
        if self.refetch_fails and len(tickers) == 1:  # a history re-fetch asks for one ticker
            error = [TickerOutcome(t, TickerStatus.RATE_LIMITED, "HTTP 429") for t in tickers]
            return ProviderResult(self.daily_bars_frame([], []), error)
        days = DAYS[(pd.Timestamp(start) <= DAYS) & (pd.Timestamp(end) >= DAYS)]
        rows = []
        for ticker in tickers:
            for day in days:
                close = 50.0 if self.split and day < SPLIT_DAY else 100.0
                if ticker == self.overflow_ticker:
                    close = 1e16  # beyond NUMERIC(20, 6): the database refuses it
                rows.append((ticker, day, close, close + 1, close - 1, close, close, 1_000))
        frame = self.daily_bars_frame(rows, tickers)
        outcomes = [TickerOutcome(t, TickerStatus.OK) for t in tickers]
        return bars_result(frame, outcomes, start, end, today=date(2025, 12, 31))

    @staticmethod
    def daily_bars_frame(rows: list[tuple[object, ...]], tickers: Sequence[str]) -> pd.DataFrame:
        frame = pd.DataFrame(
            rows, columns=["ticker", "date", "open", "high", "low", "close", "adj_close", "volume"]
        )
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        in_range = pd.Timestamp(start) <= SPLIT_DAY <= pd.Timestamp(end)
        rows = [(t, SPLIT_DAY, "split", 2.0) for t in tickers if self.split and in_range]
        frame = pd.DataFrame(rows, columns=["ticker", "date", "action", "value"])
        frame["date"] = pd.to_datetime(frame["date"])
        return ProviderResult(frame, [TickerOutcome(t, TickerStatus.OK) for t in tickers])


def add_securities(db: Engine, names: list[str]) -> list[str]:
    """Active equities named `names` (ticker and name alike); returns the names."""
    with db.begin() as conn:
        for name in names:
            conn.execute(
                text(
                    "INSERT INTO securities (ticker, name, security_type) VALUES (:t, :t, 'equity')"
                ),
                {"t": name},
            )
    return names


@pytest.fixture
def tickers(db: Engine) -> list[str]:
    return add_securities(db, ["AAA", "BBB", "CCC"])


def closes(db: Engine, ticker: str) -> dict[date, float]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.date, CAST(p.close AS float) FROM price_history p "
                "JOIN securities s ON s.id = p.security_id WHERE s.ticker = :t ORDER BY p.date"
            ),
            {"t": ticker},
        )
        return {day: close for day, close in rows}


def test_a_new_split_replaces_the_whole_history_at_the_new_scale(
    db: Engine, tickers: list[str]
) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10)
    assert set(closes(db, "AAA").values()) == {100.0}

    provider.split = True
    report = ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10)
    assert sorted(report.refetched) == tickers
    history = closes(db, "AAA")
    assert len(history) == 10
    assert {close for day, close in history.items() if day < SPLIT_DAY.date()} == {50.0}
    assert {close for day, close in history.items() if day >= SPLIT_DAY.date()} == {100.0}
    with db.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM corporate_actions")).scalar_one()
    assert stored == 3

    again = ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10)
    assert again.refetched == []
    assert (again.prices.inserted, again.prices.updated) == (0, 0)


def test_one_provider_call_per_batch_for_the_whole_range(db: Engine, tickers: list[str]) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 14), batch_size=2)
    anchor = date(2025, 2, 21)  # ten days before: stored closes are compared there
    assert provider.calls == [
        (("AAA", "BBB"), anchor, date(2025, 3, 14)),
        (("CCC",), anchor, date(2025, 3, 14)),
    ]


def test_each_planned_batch_loads_on_its_own_and_the_batches_add_up_to_the_load(
    db: Engine, tickers: list[str]
) -> None:
    start, end = date(2025, 3, 3), date(2025, 3, 7)
    provider = ScriptedProvider(tickers)
    plan = plan_price_batches(db, start, end, batch_size=2)
    assert [(b.number, b.of, list(b.ids)) for b in plan] == [
        (1, 2, ["AAA", "BBB"]),
        (2, 2, ["CCC"]),
    ]

    last = load_price_batch(db, provider, plan[1], start, end)  # in any order
    assert (last.tickers, last.prices.inserted) == (1, 5)
    assert len(closes(db, "CCC")) == 5 and closes(db, "AAA") == {}
    first = load_price_batch(db, provider, plan[0], start, end)
    report = PriceLoadReport(start=start, end=end)
    for loaded in (last, first):
        report.add(loaded)
    assert (report.tickers, report.prices.inserted) == (3, 15)
    assert report.prices.groups[start].inserted == 3

    again = ingest_prices(db, provider, start, end, batch_size=2)
    assert (again.tickers, again.prices.inserted, again.prices.unchanged) == (3, 0, 15)


def test_no_active_security_plans_no_batch(db: Engine) -> None:
    assert plan_price_batches(db, date(2025, 3, 3), date(2025, 3, 7), batch_size=2) == []


def test_a_failed_split_refetch_keeps_the_stored_history_and_retries_next_time(
    db: Engine, tickers: list[str]
) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10)
    before = {ticker: closes(db, ticker) for ticker in tickers}

    provider.split, provider.refetch_fails = True, True
    provider.calls.clear()
    report = ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10)
    assert report.refetched == []
    assert sorted(o.ticker for o in report.failed) == tickers
    assert all("stored history kept" in o.reason and "HTTP 429" in o.reason for o in report.failed)
    assert {
        ticker: closes(db, ticker) for ticker in tickers
    } == before  # nothing lost, no new scale
    with db.connect() as conn:  # the split is not stored, so the next load sees it as new
        assert conn.execute(text("SELECT count(*) FROM corporate_actions")).scalar_one() == 0

    provider.refetch_fails = False
    retried = ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10)
    assert sorted(retried.refetched) == tickers and retried.failed == []
    assert set(closes(db, "AAA").values()) == {50.0, 100.0} and len(closes(db, "AAA")) == 10


def test_counts_are_kept_per_date(db: Engine, tickers: list[str]) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 5), batch_size=2)
    report = ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=2)
    groups = {day: (c.inserted, c.updated, c.unchanged) for day, c in report.prices.groups.items()}
    assert groups == {
        date(2025, 3, 3): (0, 0, 3),
        date(2025, 3, 4): (0, 0, 3),
        date(2025, 3, 5): (0, 0, 3),
        date(2025, 3, 6): (3, 0, 0),
        date(2025, 3, 7): (3, 0, 0),
    }
    assert (report.prices.inserted, report.prices.unchanged) == (6, 9)


class AdjustedFile(ScriptedProvider):
    """A source that never reports splits: bars at 100, then from SPLIT_DAY on at 25 (an
    unreported 4-for-1), unless `restated`, when every earlier close is restated to 25 too."""

    def __init__(self, tickers: Sequence[str]) -> None:
        super().__init__(tickers)
        self.restated = False

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        result = super().daily_bars(tickers, start, end)
        frame = result.frame
        scaled = (frame["date"] >= SPLIT_DAY) | self.restated
        frame.loc[scaled, ["open", "high", "low", "close", "adj_close"]] /= 4
        return result


def quarantined(db: Engine) -> list[tuple[str, date, str]]:
    with db.connect() as conn:
        return [
            (t, d, r.split(":")[0])
            for t, d, r in conn.execute(
                text(
                    "SELECT ticker, date, reason FROM quarantine WHERE resolved_at IS NULL ORDER BY 1, 2"
                )
            )
        ]


def test_an_unreported_split_is_quarantined_then_repaired_when_the_source_restates(
    db: Engine, tickers: list[str]
) -> None:
    provider = AdjustedFile(["AAA"])
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10, run_id="r1")

    report = ingest_prices(
        db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10, run_id="r2"
    )
    assert set(closes(db, "AAA").values()) == {100.0}  # the -75% day is not stored
    assert len(closes(db, "AAA")) == 7  # 3/10 and 3/11 loaded; 3/12 on held back
    assert [row for row in quarantined(db) if row[0] == "AAA"] == [
        ("AAA", date(2025, 3, 12), "unexplained_jump"),
        ("AAA", date(2025, 3, 13), "unexplained_jump"),
        ("AAA", date(2025, 3, 14), "unexplained_jump"),
    ]
    assert len(quarantined(db)) == 9  # BBB and CCC too
    [failure] = [o for o in report.failed if o.ticker == "AAA"]
    assert "x0.2500" in failure.reason and "quarantined" in failure.reason
    again = ingest_prices(
        db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10, run_id="r3"
    )
    assert again.quarantined.inserted == 0 and len(quarantined(db)) == 9  # once per row

    provider.restated = True  # the source now knows: every stored close differs on the overlap
    repaired = ingest_prices(db, provider, date(2025, 3, 17), date(2025, 3, 17), batch_size=10)
    assert sorted(repaired.refetched) == tickers
    assert set(closes(db, "AAA").values()) == {25.0} and len(closes(db, "AAA")) == 10
    assert quarantined(db) == []


def test_a_split_outside_the_window_is_found_on_the_overlap(db: Engine, tickers: list[str]) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 13), batch_size=10)
    provider.split = True  # restated closes before SPLIT_DAY; the split itself is not in the window
    report = ingest_prices(db, provider, date(2025, 3, 14), date(2025, 3, 14), batch_size=10)
    assert sorted(report.refetched) == tickers
    assert {c for d, c in closes(db, "AAA").items() if d < SPLIT_DAY.date()} == {50.0}


def test_rejected_rows_are_kept_with_their_values_source_and_run(
    db: Engine, tickers: list[str]
) -> None:
    provider = ScriptedProvider(tickers)
    provider.overflow_ticker = "CCC"
    report = ingest_prices(
        db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10, run_id="run-1"
    )
    assert report.failed[0].ticker == "CCC" and "every row rejected" in report.failed[0].reason
    assert closes(db, "CCC") == {} and len(closes(db, "AAA")) == 5
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ticker, date, reason, raw_values ->> 'close', data_source, run_id FROM quarantine ORDER BY date"
            )
        ).all()
    assert len(rows) == 5
    assert rows[0] == (
        "CCC",
        date(2025, 3, 3),
        "price_too_large",
        "10000000000000000",
        "scripted",
        "run-1",
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2025, 1, 1), date(2025, 1, 1), 50),
        (date(2024, 1, 1), date(2025, 12, 31), 50),
        (date(2011, 1, 1), date(2025, 12, 31), 6),
        (date(1900, 1, 1), date(2025, 12, 31), 1),
    ],
)
def test_long_ranges_load_fewer_tickers_per_batch(start: date, end: date, expected: int) -> None:
    assert tickers_per_batch(50, start, end) == expected


def test_batches_are_dealt_in_turn_among_the_shares(db: Engine, tickers: list[str]) -> None:
    plan = plan_price_batches(db, date(2025, 3, 3), date(2025, 3, 7), batch_size=1)
    assert len(plan) == len(tickers) >= 3
    shares = share_batches(plan, 2)
    assert [[batch.number for batch in share] for share in shares] == [
        list(range(1, len(plan) + 1, 2)),
        list(range(2, len(plan) + 1, 2)),
    ]
    assert share_batches(plan[:1], 4) == [plan[:1]]  # never an empty share
    assert share_batches([], 2) == []


def test_two_writers_load_what_one_loads_and_report_in_plan_order(
    db: Engine, tickers: list[str]
) -> None:
    start, end = date(2025, 3, 3), date(2025, 3, 14)
    provider = ScriptedProvider(tickers)
    lines: list[str] = []
    report = ingest_prices(db, provider, start, end, batch_size=1, progress=lines.append, writers=2)
    assert [line.split(":")[0] for line in lines] == ["batch 1/3", "batch 2/3", "batch 3/3"]
    assert (report.tickers, report.prices.inserted) == (3, 30)
    assert all(len(closes(db, ticker)) == 10 for ticker in tickers)

    provider.split = True  # every batch re-fetches a whole history while others are written
    report = ingest_prices(db, provider, start, end, batch_size=1, writers=2)
    assert sorted(report.refetched) == tickers and report.failed == []
    assert all(set(closes(db, t).values()) == {50.0, 100.0} for t in tickers)


def test_a_failed_batch_among_two_writers_stops_the_load_and_leaves_no_half_batch(
    db: Engine, tickers: list[str]
) -> None:
    start, end = date(2025, 3, 3), date(2025, 3, 7)
    plan = plan_price_batches(db, start, end, batch_size=1)
    with db.begin() as conn:  # BBB's batch now names a security that is gone
        conn.execute(text("DELETE FROM securities WHERE ticker = 'BBB'"))
    with pytest.raises(IntegrityError, match="price_history"):
        load_price_batches(db, ScriptedProvider(tickers), plan, start, end, writers=2)
    assert {len(closes(db, ticker)) for ticker in ("AAA", "CCC")} <= {0, 5}
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM price_history")).scalar_one() in (0, 5, 10)


def test_a_provider_failing_mid_load_stops_the_fetching_and_raises(
    db: Engine, tickers: list[str]
) -> None:
    class FailingOnBBB(ScriptedProvider):
        def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
            if "BBB" in tickers:
                raise ConnectionError("provider unreachable")
            return super().daily_bars(tickers, start, end)

    provider = FailingOnBBB(tickers)
    with pytest.raises(ConnectionError, match="unreachable"):
        ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=1, writers=2)
    assert [call[0] for call in provider.calls] == [("AAA",)]  # CCC never fetched
    assert len(closes(db, "AAA")) in (0, 5) and closes(db, "CCC") == {}


def test_fetching_runs_at_most_one_batch_ahead_of_each_writer(db: Engine) -> None:
    names = add_securities(db, [f"T{number}" for number in range(6)])

    class CountingProvider(ScriptedProvider):
        """Records, at each fetch, how many batches were fetched and not yet written."""

        def __init__(self, tickers: Sequence[str]) -> None:
            super().__init__(tickers)
            self.ahead: list[int] = []

        def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
            with db.connect() as conn:
                written = conn.execute(
                    text("SELECT count(DISTINCT security_id) FROM price_history")
                ).scalar_one()
            self.ahead.append(len(self.calls) - written)
            return super().daily_bars(tickers, start, end)

    provider = CountingProvider(names)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=1, writers=1)
    assert len(provider.ahead) == 6 and max(provider.ahead) <= 2
