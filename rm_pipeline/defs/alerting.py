"""Failures reach a person: every failed run of this code location (a failed nightly load, a
failed blocking check, which fails its run) is logged and posted to the alert webhook, once."""

import dagster as dg

from rm_pipeline.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from rm_pipeline.defs.resources import AlertsResource


@dg.run_failure_sensor(
    name="alert_on_failed_runs",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed run (job, partitions, the failure and failed checks) to "
    "RM_ALERT_WEBHOOK_URL and logs it; the sensor's cursor makes it once per run.",
)
def alert_on_failed_runs(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
    alerts.send(failed_run_message(context), context.log)


def failed_run_message(context: dg.RunFailureSensorContext) -> str:
    """One line a person can act on: which run failed, over which partitions, and why."""
    run = context.dagster_run
    tags = run.tags
    partitions = tags.get("dagster/partition") or " to ".join(
        tags[tag] for tag in (RANGE_START_TAG, RANGE_END_TAG) if tag in tags
    )
    failed_checks = [
        f"{evaluation.check_name} ({evaluation.asset_key.to_user_string()})"
        for evaluation in check_evaluations(context.instance, run.run_id)
        if not evaluation.passed
    ]
    return (
        f"run {run.run_id[:8]} of {run.job_name} failed"
        + (f" for {partitions}" if partitions else "")
        + f": {context.failure_event.message}"
        + (f"; failed checks: {', '.join(failed_checks)}" if failed_checks else "")
    )


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The asset check evaluations a run recorded."""
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [
        record.dagster_event.asset_check_evaluation_data
        for record in records
        if record.dagster_event is not None
    ]
