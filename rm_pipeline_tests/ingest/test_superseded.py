"""Replaced rows are kept with their reason and run; a reload that changes nothing writes
nothing, superseded rows included."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text

from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline_tests.ingest.test_prices import ScriptedProvider, add_securities


@pytest.fixture
def tickers(db: Engine) -> list[str]:
    return add_securities(db, ["AAA", "BBB", "CCC"])


def test_a_reload_that_changes_nothing_writes_nothing(db: Engine, tickers: list[str]) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 14), batch_size=2)
    again = ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 14), batch_size=2)
    assert (again.prices.inserted, again.prices.updated) == (0, 0)
    with db.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM price_history_superseded")).scalar_one()
        touched = conn.execute(
            text("SELECT count(*) FROM price_history WHERE updated_at IS NOT NULL")
        ).scalar_one()
    assert (kept, touched) == (0, 0)


def test_a_reported_split_keeps_the_closes_it_replaced_with_its_reason_and_run(
    db: Engine, tickers: list[str]
) -> None:
    provider = ScriptedProvider(tickers)
    ingest_prices(db, provider, date(2025, 3, 3), date(2025, 3, 7), batch_size=10, run_id="r1")
    provider.split = True
    ingest_prices(db, provider, date(2025, 3, 10), date(2025, 3, 14), batch_size=10, run_id="r2")
    with db.connect() as conn:
        kept = conn.execute(
            text(
                "SELECT count(*), min(close), max(close), min(reason), min(run_id), "
                "bool_and(valid_from < superseded_at) FROM price_history_superseded"
            )
        ).one()
    # 3 tickers x 5 days at 100, replaced by 50 when the 2-for-1 split was reported.
    assert tuple(kept) == (
        15, 100, 100, "split reported by scripted: history re-fetched at the new scale", "r2", True,
    )  # fmt: skip
