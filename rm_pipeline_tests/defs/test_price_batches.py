"""`price_history`'s batches dealt among steps of their own: under the multiprocess executor each
share of batches loads in a process of its own, and the warehouse and every partition's metadata end exactly as
after the same load run step after step in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.defs.resources import default_resources
from rm_pipeline.settings import get_settings
from rm_pipeline_tests.defs.conftest import Materialize, partition_metadata

WEEK = ("2025-03-03", "2025-03-07")
LOADED = {
    "price_history": "SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume, "
    "p.data_source FROM price_history p JOIN securities s ON s.id = p.security_id ORDER BY 1, 2",
    "corporate_actions": "SELECT s.ticker, a.date, a.action, a.value, a.data_source "
    "FROM corporate_actions a JOIN securities s ON s.id = a.security_id ORDER BY 1, 2, 3",
}
RUN_SPECIFIC = {"quarantine", "table_rows_estimated"}
"""Metadata that differs in any two runs: what names the run itself (its run id), and the
server's statistics of the table (they count the rows an earlier load inserted and deleted until
they catch up)."""


def price_load(executor: dg.ExecutorDefinition) -> dg.JobDefinition:
    """A job loading `price_history` alone with `executor` and the resources of the settings (the
    environment, which the processes of its steps inherit)."""
    return dg.Definitions(
        assets=[securities, price_history],
        jobs=[dg.define_asset_job("price_load", selection=[price_history])],
        resources=default_resources(get_settings()),
        executor=executor,
    ).resolve_job_def("price_load")


def in_process_price_load() -> dg.JobDefinition:
    return price_load(dg.in_process_executor)


def multiprocess_price_load() -> dg.JobDefinition:
    return price_load(dg.multiprocess_executor)


def run_week(
    job: Callable[[], dg.JobDefinition], instance: dg.DagsterInstance
) -> dg.JobExecutionResult:
    """The week loaded by `job` (a module-level factory: other processes rebuild it)."""
    return dg.execute_job(dg.reconstructable(job), instance=instance, tags=range_tags(*WEEK))


def stored(db: Engine) -> dict[str, pd.DataFrame]:
    with db.connect() as conn:
        return {table: pd.read_sql_query(text(query), conn) for table, query in LOADED.items()}


def own_metadata(result: dg.JobExecutionResult) -> dict[str, dict[str, Any]]:
    return {
        key: {name: value for name, value in values.items() if name not in RUN_SPECIFIC}
        for key, values in partition_metadata(result, "price_history").items()
    }


@pytest.fixture
def two_batches(
    db: Engine, materialize: Materialize, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The synthetic securities, and a batch size that cuts them into two batches (a week's
    range takes full batches)."""
    materialize([securities])
    with db.connect() as conn:
        active = conn.execute(text("SELECT count(*) FROM securities WHERE is_active")).scalar_one()
    monkeypatch.setenv("RM_INGEST_BATCH_SIZE", str(-(-active // 2)))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.slow  # a process per step: about 20 s
def test_batches_loaded_in_processes_of_their_own_end_as_a_load_in_one_process(
    db: Engine, two_batches: None
) -> None:
    with dg.instance_for_test() as instance:
        one_process = run_week(in_process_price_load, instance)
        assert one_process.success
        expected_rows, expected_metadata = stored(db), own_metadata(one_process)
        with db.begin() as conn:
            conn.execute(text("TRUNCATE price_history, corporate_actions, quarantine"))

        parallel = run_week(multiprocess_price_load, instance)
        assert parallel.success
        batch_pids = {
            str(e.step_key): e.pid
            for e in parallel.all_events
            if e.event_type == dg.DagsterEventType.STEP_START and "load_batches" in str(e.step_key)
        }
        run_pid = next(
            e.pid for e in parallel.all_events if e.event_type == dg.DagsterEventType.RUN_START
        )

    assert sorted(batch_pids) == [
        "price_history.load_batches[share_1]",
        "price_history.load_batches[share_2]",
    ]
    assert (
        len(set(batch_pids.values()) | {run_pid}) == 3
    )  # each share of batches in a process of its own
    assert len(expected_rows["price_history"]) > 0 and len(expected_rows["corporate_actions"]) > 0
    for table, rows in stored(db).items():
        pd.testing.assert_frame_equal(rows, expected_rows[table], obj=table)
    assert sorted(expected_metadata) == ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06",
                                         "2025-03-07"]  # fmt: skip
    assert own_metadata(parallel) == expected_metadata
    assert expected_metadata["2025-03-05"]["rows_inserted"] > 0
