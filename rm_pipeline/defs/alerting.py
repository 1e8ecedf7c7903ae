"""Failures reach a person: every failed run of this code location (a failed nightly load, a
failed blocking check, which fails its run) is logged and posted to the alert webhook, once."""

import dagster as dg

from rm_pipeline.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from rm_pipeline.defs.resources import AlertsResource

ALERTED_BY_LAUNCHER_TAG = "rm/alerted_by_launcher"
"""Set on runs whose launching command posts their failure itself (`rm-pipeline run`, which
runs without the daemon); the sensor leaves them alone, so a failure is posted once."""


@dg.run_failure_sensor(
    name="alert_on_failed_runs",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed run (job, partitions, the failure and failed checks) to "
    "RM_ALERT_WEBHOOK_URL and logs it; the sensor's cursor makes it once per run.",
)
def alert_on_failed_runs(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
    run = context.dagster_run
    if ALERTED_BY_LAUNCHER_TAG not in run.tags:
        message = context.failure_event.message or ""
        alerts.send(failed_run_message(context.instance, run, message), context.log)


def failed_run_message(instance: dg.DagsterInstance, run: dg.DagsterRun, failure: str) -> str:
    """One line a person can act on: which run failed, over which partitions, and why (the run's
    failure, its first failed step's error, its failed checks)."""
    tags = run.tags
    partitions = tags.get("dagster/partition") or " to ".join(
        tags[tag] for tag in (RANGE_START_TAG, RANGE_END_TAG) if tag in tags
    )
    failed_checks = [
        f"{evaluation.check_name} ({evaluation.asset_key.to_user_string()})"
        for evaluation in check_evaluations(instance, run.run_id)
        if not evaluation.passed
    ]
    step_error = first_step_error(instance, run.run_id)
    return (
        f"run {run.run_id[:8]} of {run.job_name} failed"
        + (f" for {partitions}" if partitions else "")
        + f": {failure}"
        + (f"; {step_error}" if step_error else "")
        + (f"; failed checks: {', '.join(failed_checks)}" if failed_checks else "")
    )


def first_step_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The first failed step of a run and the first line of its error."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        if error is not None:
            return f"{entry.step_key}: {error_line(error.message, error.cls_name)}"
    return None


def error_line(message: str, class_name: str | None) -> str:
    """An error's first line, without the `module.path.ClassName: ` Dagster puts first."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    named, separator, rest = first.partition(": ")
    return rest if separator and class_name and named.endswith(class_name) else first


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The asset check evaluations a run recorded."""
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return [
        record.dagster_event.asset_check_evaluation_data
        for record in records
        if record.dagster_event is not None
    ]
