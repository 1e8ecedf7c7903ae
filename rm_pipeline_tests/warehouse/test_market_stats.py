"""Market statistics from a small hand-built history, window boundaries included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from rm_pipeline.warehouse.market_stats import MarketStatsResult, refresh_market_stats
from rm_pipeline_tests.warehouse.factories import add_bar, add_security, row

STATS = "current_price, volume, avg_volume, fifty_two_week_high, fifty_two_week_low"


def test_statistics_follow_the_documented_windows(db: Engine) -> None:
    with db.begin() as conn:
        full = add_security(conn, "FULL")
        # Latest bar 2024-12-31: the 52-week window holds dates after 2024-01-02, the 13-week
        # window dates after 2024-10-01.
        add_bar(conn, full, date(2023, 12, 29), 100, high=5000, low="0.1", volume=9999)
        add_bar(conn, full, date(2024, 1, 2), 100, high=900, low="0.5", volume=9999)
        add_bar(conn, full, date(2024, 1, 3), 100, high=400, low=1, volume=50)
        add_bar(conn, full, date(2024, 10, 1), 100, high=200, low=90, volume=10000)
        add_bar(conn, full, date(2024, 10, 2), 450, volume=100)
        add_bar(conn, full, date(2024, 11, 15), 105, high=110, low=100)
        add_bar(conn, full, date(2024, 12, 30), 110, high=120, low=100, volume=200)
        add_bar(conn, full, date(2024, 12, 31), "112.5", high=115, low=105, volume=302)

        closes_only = add_security(conn, "CLOSES")
        for day, close in ((3, 20), (4, 25), (5, 22)):
            add_bar(conn, closes_only, date(2024, 6, day), close)

        unpriced = add_security(conn, "NOHIST", current_price=77)

        assert refresh_market_stats(conn) == MarketStatsResult(priced=2, updated=2)

        # 52-week high: the close of 2024-10-02 standing in for its missing high (above the
        # 400 of 2024-01-03); the 900 of 2024-01-02, exactly 52 weeks back, is outside.
        # 52-week low: 2024-01-03, the window's first day. Average volume: 100, 200 and 302
        # (2024-11-15 has no volume, 2024-10-01, exactly 13 weeks back, is outside) is 200.67,
        # rounded to 201.
        assert row(conn, "securities", full, STATS) == (
            Decimal("112.500000"),
            302,
            201,
            Decimal("450.000000"),
            Decimal("1.000000"),
        )
        assert row(conn, "securities", closes_only, STATS) == (
            Decimal("22.000000"),
            None,
            None,
            Decimal("25.000000"),
            Decimal("20.000000"),
        )
        assert row(conn, "securities", unpriced, STATS) == (Decimal("77.000000"), *[None] * 4)


def test_a_rerun_changes_nothing_until_the_history_does(db: Engine) -> None:
    with db.begin() as conn:
        security = add_security(conn, "AAA")
        add_bar(conn, security, date(2024, 3, 1), 10, volume=1000)
        add_bar(conn, security, date(2024, 3, 4), 11, volume=3000)
        refresh_market_stats(conn)
    with db.begin() as conn:
        stamped = row(conn, "securities", security, "last_updated, updated_at")
        assert refresh_market_stats(conn) == MarketStatsResult(priced=1, updated=0)
        assert row(conn, "securities", security, "last_updated, updated_at") == stamped

    with db.begin() as conn:
        add_bar(conn, security, date(2024, 3, 5), 12, volume=2000)
        assert refresh_market_stats(conn) == MarketStatsResult(priced=1, updated=1)
        assert row(conn, "securities", security, "current_price, avg_volume") == (
            Decimal("12.000000"),
            2000,
        )
        assert row(conn, "securities", security, "last_updated")[0] > stamped[0]
