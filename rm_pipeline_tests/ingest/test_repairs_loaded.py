"""Yahoo's known errors through a whole load: repaired and marked where the bars leave no doubt,
their raw values kept; a move that is held holds only its own rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.core.calendars import sessions
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.validation import bars_result
from rm_pipeline_tests.warehouse.factories import add_security


class Series:
    """Each ticker's closes by session, and the splits it reports."""

    name = "series"

    def __init__(self, closes: dict[str, pd.Series], splits: Sequence[tuple[str, str, float]] = ()):
        self.closes = closes
        self.splits = list(splits)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        frames = []
        for ticker in tickers:
            series = self.closes[ticker]
            chosen = series[
                (series.index >= pd.Timestamp(start)) & (series.index <= pd.Timestamp(end))
            ]
            frames.append(
                pd.DataFrame(
                    {
                        "ticker": ticker,
                        "date": chosen.index,
                        "open": chosen.values,
                        "high": chosen.values,
                        "low": chosen.values,
                        "close": chosen.values,
                        "adj_close": chosen.values,
                        "volume": 1000,
                    }
                )
            )
        outcomes = [TickerOutcome(t, TickerStatus.OK) for t in tickers]
        return bars_result(pd.concat(frames), outcomes, start, end, today=date(2025, 1, 1))

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        rows = [
            (t, pd.Timestamp(d), "split", v)
            for t, d, v in self.splits
            if t in tickers and start <= date.fromisoformat(d) <= end
        ]
        frame = pd.DataFrame(rows, columns=["ticker", "date", "action", "value"])
        frame["date"] = pd.to_datetime(frame["date"])
        return ProviderResult(frame, [TickerOutcome(t, TickerStatus.OK) for t in tickers])


def closes_on(
    calendar: str, start: str, end: str, values: Sequence[float] | None = None
) -> pd.Series:
    days = pd.DatetimeIndex(sessions(calendar, date.fromisoformat(start), date.fromisoformat(end)))
    if values is None:
        values = [2700.0 + 3 * i for i in range(len(days))]
    return pd.Series(list(values)[: len(days)], index=days)


def stored(db: Engine, ticker: str) -> pd.DataFrame:
    with db.connect() as conn:
        return pd.read_sql_query(
            text(
                "SELECT p.date, CAST(p.close AS float) AS close, p.volume, p.repair "
                "FROM price_history p JOIN securities s ON s.id = p.security_id "
                "WHERE s.ticker = :t ORDER BY p.date"
            ),
            conn,
            params={"t": ticker},
        )


def quarantined(db: Engine) -> list[tuple[str, str, bool]]:
    with db.connect() as conn:
        return [
            (t, r.split(":")[0], resolved)
            for t, r, resolved in conn.execute(
                text("SELECT ticker, reason, resolved_at IS NOT NULL FROM quarantine ORDER BY date")
            )
        ]


def test_nine_sessions_quoted_in_pounds_are_repaired_to_pence_and_the_rest_stored(
    db: Engine,
) -> None:
    """Shell in pence (about 2,700) with nine sessions sent in pounds, then back."""
    pence = closes_on("XLON", "2024-03-01", "2024-03-28")
    sent = pence.copy()
    sent.iloc[2:11] = (sent.iloc[2:11] / 100).round(4)
    with db.begin() as conn:
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    report = ingest_prices(
        db, Series({"SHEL.L": sent}), date(2024, 3, 1), date(2024, 3, 28), batch_size=5
    )
    assert report.failed == [] and report.repaired == 9
    bars = stored(db, "SHEL.L")
    assert bars["close"].tolist() == pytest.approx(pence.tolist())
    assert bars["repair"].notna().sum() == 9
    assert bars["repair"].dropna().iloc[0].startswith("x100: block quoted at 1/100")
    assert quarantined(db) == [("SHEL.L", "repaired", True)] * 9
    with db.connect() as conn:
        raw = conn.execute(
            text("SELECT raw_values ->> 'close' FROM quarantine ORDER BY date LIMIT 1")
        ).scalar_one()
    assert float(raw) == pytest.approx(sent.iloc[2])
    kept = quarantine_rows(db)

    again = ingest_prices(
        db, Series({"SHEL.L": sent}), date(2024, 3, 1), date(2024, 3, 28), batch_size=5
    )
    assert (again.prices.inserted, again.prices.updated) == (0, 0)
    assert quarantine_rows(db) == kept  # the same raw values: not one quarantine row rewritten


def quarantine_rows(db: Engine) -> list[tuple[object, ...]]:
    """Every quarantine row with the tuple's physical version (xmin): a rewrite changes it."""
    with db.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text("SELECT xmin::text, * FROM quarantine ORDER BY ticker, date, reason")
            )
        ]


def test_a_split_whose_drop_comes_a_session_early_is_applied_from_the_drop(db: Engine) -> None:
    """Toyota about 20,700 yen before a 5-for-1 split reported for 2024-03-28, the price drop on
    2024-03-27, the history before it unadjusted: divided by 5 (about 4,140), the split stored on
    the drop's day."""
    days = closes_on("XTKS", "2024-03-01", "2024-04-12")
    drop = days.index.get_loc(pd.Timestamp("2024-03-27"))
    raw = [20_700.0 + 10 * i if i < drop else (20_700.0 + 10 * i) / 5 for i in range(len(days))]
    sent = pd.Series(raw, index=days.index)
    with db.begin() as conn:
        add_security(conn, "7203.T", "TSE", currency="JPY")
    source = Series({"7203.T": sent}, splits=[("7203.T", "2024-03-28", 5.0)])
    report = ingest_prices(db, source, date(2024, 3, 1), date(2024, 4, 12), batch_size=5)
    assert report.failed == [] and report.repaired == drop
    bars = stored(db, "7203.T")
    assert bars["close"].iloc[0] == pytest.approx(4140.0)
    assert bars["volume"].iloc[0] == 5000
    assert bars["close"].iloc[drop:].tolist() == pytest.approx(raw[drop:])
    assert (
        bars["repair"].iloc[0] == "/5: split of 2024-03-28 applied from its price drop 2024-03-27"
    )
    with db.connect() as conn:
        split = conn.execute(text("SELECT date, value, note FROM corporate_actions")).one()
    assert split == (
        date(2024, 3, 27),
        5,
        "reported for 2024-03-28; the prices change scale on 2024-03-27",
    )


def test_a_move_that_reverts_holds_only_its_own_rows(db: Engine) -> None:
    """Three sessions at half the price, then back: no repair explains a halving, so those three
    are held and the sessions after them are stored."""
    prices = closes_on("XNYS", "2024-03-01", "2024-03-28", [100.0 + i for i in range(30)])
    sent = prices.copy()
    sent.iloc[5:8] = sent.iloc[5:8] / 2
    with db.begin() as conn:
        add_security(conn, "AAA")
    report = ingest_prices(
        db, Series({"AAA": sent}), date(2024, 3, 1), date(2024, 3, 28), batch_size=5
    )
    [failure] = report.failed
    assert "3 rows quarantined, back on its scale on 2024-03-13" in failure.reason
    assert len(stored(db, "AAA")) == len(prices) - 3
    assert quarantined(db) == [("AAA", "unexplained_jump", False)] * 3
