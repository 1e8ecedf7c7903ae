"""Failures reach a person: failed runs (a failed blocking check among them) and failed tickers are
posted to the webhook once, and an unreachable webhook costs the run nothing."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import Engine

from rm_pipeline.alerts import post_alert
from rm_pipeline.defs.alerting import alert_on_failed_runs
from rm_pipeline.defs.market.assets import price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline_tests.defs.conftest import FailingTicker, Materialize, alerting_to
from rm_pipeline_tests.defs.webhook import Webhook

WEEK = ("2025-03-03", "2025-03-07")


def test_failed_tickers_are_posted_once_with_their_names(
    db: Engine, materialize: Materialize, webhook: Webhook
) -> None:
    materialize([securities], resources=alerting_to(webhook))
    assert webhook.received == []
    materialize(
        [price_history],
        provider=FailingTicker("MSFT"),
        resources=alerting_to(webhook),
        tags=range_tags(*WEEK),
    )
    assert len(webhook.received) == 1
    message = webhook.received[0]["text"]
    assert (
        "2025-03-03 to 2025-03-07 and the weekend after" in message
        and "MSFT" in message
        and "HTTP 500" in message
    )


@dg.asset_check(asset=price_history, blocking=True, description="Fails, as a blocking check may.")
def refuses_every_bar() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


def test_a_failed_blocking_check_fails_the_run_and_is_posted_naming_the_check(
    db: Engine, materialize: Materialize, webhook: Webhook
) -> None:
    with dg.instance_for_test() as instance:
        failed = materialize(
            [price_history, refuses_every_bar],
            selection=dg.AssetSelection.checks(refuses_every_bar),
            raise_on_error=False,
            instance=instance,
        )
        assert not failed.success
        run = instance.get_run_by_id(failed.run_id)
        assert run is not None
        [failure] = [
            e for e in failed.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE
        ]
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failed_runs",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources=alerting_to(webhook),
        ).for_run_failure()
        alert_on_failed_runs(context)
    [alert] = webhook.received
    assert f"run {failed.run_id[:8]}" in alert["text"]
    assert "failed checks: refuses_every_bar (price_history)" in alert["text"]


def test_an_unreachable_webhook_is_logged_and_the_caller_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_url = "http://127.0.0.1:9/hooks/T000/B000/secret-token"
    assert post_alert(secret_url, "test", timeout=2) is False
    assert "alert not delivered" in caplog.text
    assert "secret-token" not in caplog.text
