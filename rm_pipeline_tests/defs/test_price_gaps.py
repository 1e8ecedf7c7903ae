"""The `no_missing_sessions` check and `price_history`'s count of open gaps, materialized
in-process against the real test database."""

from __future__ import annotations

from datetime import date

import dagster as dg
from sqlalchemy import Engine, text

from rm_pipeline.core.calendars import sessions
from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.market.checks import price_history_checks
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.providers.synthetic import SyntheticProvider
from rm_pipeline_tests.defs.conftest import Materialize, metadata
from rm_pipeline_tests.warehouse.factories import add_security

MISSING_SESSIONS = dg.AssetCheckKey(dg.AssetKey("price_history"), "no_missing_sessions")


def check_alone(materialize: Materialize) -> dg.AssetCheckEvaluation:
    """The missing-sessions check run on its own, without loading."""
    result = materialize(
        [price_history, price_history_checks],
        selection=dg.AssetSelection.checks(MISSING_SESSIONS),
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_the_check_names_each_security_hole_over_the_whole_history(
    db: Engine, materialize: Materialize
) -> None:
    """Years loaded, then years more a decade later: the hole between is named, however old."""
    with db.begin() as conn:
        add_security(conn, "AAPL")
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    provider = SyntheticProvider(seed=7, today=lambda: date(2026, 11, 30))
    ingest_prices(db, provider, date(2005, 1, 3), date(2006, 12, 29), batch_size=10)
    ingest_prices(db, provider, date(2016, 1, 4), date(2017, 12, 29), batch_size=10)

    evaluation = check_alone(materialize)
    new_york = len(sessions("XNYS", date(2007, 1, 3), date(2015, 12, 31)))
    london = len(sessions("XLON", date(2007, 1, 2), date(2015, 12, 31)))
    assert not evaluation.passed
    assert evaluation.description == (
        f"AAPL: 2007-01-03 to 2015-12-31 ({new_york:,} sessions)\n"
        f"SHEL.L: 2007-01-02 to 2015-12-31 ({london:,} sessions)"
    )
    values = {key: value.value for key, value in evaluation.metadata.items()}
    assert values["offending_rows"] == 2
    assert values["missing_sessions"] == new_york + london
    assert (values["securities_with_gaps"], values["securities_unchecked"]) == (2, 0)
    assert "| AAPL" in str(values["sample"]) and "| SHEL.L" in str(values["sample"])

    ingest_prices(db, provider, date(2007, 1, 1), date(2015, 12, 31), batch_size=10)
    filled = check_alone(materialize)
    assert filled.passed
    assert filled.description == "no session missing from any active security's history"


def test_a_week_skipped_between_two_loads_is_counted_and_named(
    db: Engine, materialize: Materialize
) -> None:
    materialize([securities])
    first = materialize(
        [price_history, price_history_checks], tags=range_tags("2025-03-03", "2025-03-07")
    )
    assert metadata(first, "price_history")["open_gaps"] == 0
    assert {e.check_name: e.passed for e in first.get_asset_check_evaluations()}[
        "no_missing_sessions"
    ]

    second = materialize(
        [price_history, price_history_checks], tags=range_tags("2025-03-17", "2025-03-21")
    )
    with db.connect() as conn:
        priced = conn.execute(text("SELECT count(DISTINCT security_id) FROM price_history"))
        assert metadata(second, "price_history")["open_gaps"] == priced.scalar_one()
    [evaluation] = [
        e for e in second.get_asset_check_evaluations() if e.check_name == "no_missing_sessions"
    ]
    assert not evaluation.passed
    assert evaluation.description is not None
    lines = evaluation.description.splitlines()
    assert "AAPL: 2025-03-10 to 2025-03-14 (5 sessions)" in lines
    assert "BTC-USD: 2025-03-10 to 2025-03-16 (7 sessions)" in lines  # a 24/7 market's week
