"""One definition of each statistic: the offline providers' snapshot and the warehouse agree.

The same bars go to `price_snapshot` and, through `price_history`, to `refresh_market_stats`; every
figure must come out identical. Definitions: rm_pipeline.core.market_statistics.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from rm_pipeline.providers.snapshot import TickerHistory, price_snapshot
from rm_pipeline.warehouse.market_stats import refresh_market_stats
from rm_pipeline_tests.warehouse.factories import add_security, row

NAN = math.nan
LATEST = date(2024, 12, 31)
STATS = ("current_price", "volume", "avg_volume", "fifty_two_week_high", "fifty_two_week_low")


def weekdays(start: date, end: date) -> list[date]:
    return [d.date() for d in pd.bdate_range(start, end)]


def bars(days: list[date], seed: int) -> pd.DataFrame:
    """Bars on `days` with prices of four decimals (exact in NUMERIC(20,6)) and whole volumes."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days)))), 4)
    spread = np.round(rng.uniform(0.1, 3, len(days)), 4)
    return pd.DataFrame(
        {
            "date": days,
            "high": np.round(close + spread, 4),
            "low": np.round(close - spread, 4),
            "close": close,
            "volume": rng.integers(1_000, 5_000_000, len(days)).astype(float),
        }
    )


def long_with_gaps() -> pd.DataFrame:
    """Two years with a three-week gap inside the 13-week window and one across the 52-week
    boundary, a few bars without a volume, and bars on both sides of each boundary."""
    days = [
        d
        for d in weekdays(date(2023, 1, 2), LATEST)
        if not date(2023, 12, 20) <= d <= date(2024, 1, 1)
        and not date(2024, 11, 4) <= d <= date(2024, 11, 22)
    ]
    frame = bars(days, seed=1)
    frame.loc[frame.index[-40:-30], "volume"] = NAN
    return frame


def missing_volumes_and_ranges() -> pd.DataFrame:
    """Half a year: no volume at all, and the high or low missing on some bars (the warehouse
    stores NULL; the close stands in)."""
    frame = bars(weekdays(date(2024, 7, 1), LATEST), seed=2).assign(volume=NAN)
    frame.loc[frame.index[::7], "high"] = NAN
    frame.loc[frame.index[3::5], "low"] = NAN
    frame.loc[frame.index[10], "high"] = frame.loc[frame.index[10], "close"] + 500
    return frame


def short_and_ending_early() -> pd.DataFrame:
    """Thirty bars that stop in October, the last one without a volume."""
    frame = bars(weekdays(date(2024, 9, 2), date(2024, 10, 11)), seed=3)
    frame.loc[frame.index[-1], "volume"] = NAN
    return frame


def boundaries() -> pd.DataFrame:
    """A bar exactly 52 weeks and one exactly 13 weeks before the latest (both outside), and
    each next day (inside), with extreme values that tell which side they fell on."""
    days = [LATEST - timedelta(days=n) for n in (364, 363, 91, 90, 1, 0)]
    frame = bars(days, seed=4)
    frame.loc[0, ["high", "volume"]] = [9999.0, 9e9]
    frame.loc[1, "low"] = 0.5
    frame.loc[2, "volume"] = 8e9
    frame.loc[3, "volume"] = 7.0
    return frame


def store(conn: Connection, history: pd.DataFrame) -> object:
    security = add_security(conn, "AGREE")
    conn.execute(
        text(
            "INSERT INTO price_history (security_id, date, high, low, close, volume) "
            "VALUES (:security_id, :date, :high, :low, :close, :volume)"
        ),
        [
            {"security_id": security, **bar}
            for bar in history.astype(object).where(history.notna(), None).to_dict("records")
        ],
    )
    return security


def snapshot_of(history: pd.DataFrame) -> dict[str, object]:
    return price_snapshot(
        TickerHistory(
            dates=pd.to_datetime(history["date"]).to_numpy(),
            high=history["high"].to_numpy(float),
            low=history["low"].to_numpy(float),
            close=history["close"].to_numpy(float),
            volume=history["volume"].to_numpy(float),
            dividend_dates=np.array([], dtype="datetime64[ns]"),
            dividend_values=np.array([]),
        )
    )


def as_snapshot_value(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


@pytest.mark.parametrize(
    "history",
    [long_with_gaps(), missing_volumes_and_ranges(), short_and_ending_early(), boundaries()],
    ids=["long_with_gaps", "missing_volumes_and_ranges", "short_and_ending_early", "boundaries"],
)
def test_the_snapshot_and_the_warehouse_compute_the_same_figures(
    db: Engine, history: pd.DataFrame
) -> None:
    with db.begin() as conn:
        security = store(conn, history)
        refresh_market_stats(conn)
        stored = row(conn, "securities", security, ", ".join(STATS))

    snapshot = snapshot_of(history)
    assert {name: snapshot[name] for name in STATS} == dict(
        zip(STATS, map(as_snapshot_value, stored), strict=True)
    )


def test_the_boundary_bars_fall_where_the_definition_says() -> None:
    history = boundaries()
    snapshot = snapshot_of(history)
    inside = history.iloc[1:]
    assert snapshot["fifty_two_week_high"] == inside["high"].max() < 9999
    assert snapshot["fifty_two_week_low"] == 0.5
    assert snapshot["avg_volume"] == round(history["volume"].iloc[3:].mean())


def test_missing_volumes_are_unknown_not_zero() -> None:
    snapshot = snapshot_of(missing_volumes_and_ranges())
    assert (snapshot["volume"], snapshot["avg_volume"]) == (None, None)
    assert snapshot["fifty_two_week_high"] > 500


def test_the_views_compute_the_day_return_through_one_function(db: Engine) -> None:
    with db.begin() as conn:
        security = store(conn, boundaries())
        daily = conn.execute(
            text(
                "SELECT date, close, previous_close, daily_return FROM v_daily_returns "
                "WHERE security_id = :id ORDER BY date"
            ),
            {"id": security},
        ).all()
        latest = conn.execute(
            text("SELECT date, day_return FROM v_latest_prices WHERE security_id = :id"),
            {"id": security},
        ).one()
        definitions = conn.execute(
            text(
                "SELECT count(*) FROM pg_views WHERE viewname IN "
                "('v_daily_returns', 'v_latest_prices') AND definition LIKE '%day_return(%'"
            )
        ).scalar_one()

    assert daily[0].daily_return is None
    for bar in daily[1:]:
        assert float(bar.daily_return) == pytest.approx(
            float(bar.close / bar.previous_close - 1), rel=1e-12
        )
    assert (latest.date, latest.day_return) == (daily[-1].date, daily[-1].daily_return)
    assert definitions == 2
