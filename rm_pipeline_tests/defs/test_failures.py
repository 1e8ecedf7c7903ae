"""A provider whose source cannot be reached fails the step at once: its own probe has found the
outage, and the retry policy's minutes would not cure it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import dagster as dg
import pytest
from sqlalchemy import Engine

from rm_pipeline.defs.analytics.assets import fundamentals
from rm_pipeline.defs.market.assets import fx_rates, price_history, securities
from rm_pipeline.defs.partitions import range_tags
from rm_pipeline.providers.base import ProviderUnreachableError
from rm_pipeline_tests.defs.conftest import Materialize

WEEK = ("2025-03-03", "2025-03-07")


class UnreachableSource:
    """The synthetic provider with its source gone: every call raises ProviderUnreachableError."""

    name = "synthetic"

    def __getattr__(self, method: str) -> Callable[..., NoReturn]:
        def unreachable(*args: Any, **kwargs: Any) -> NoReturn:
            raise ProviderUnreachableError(self.name, "the generator", "Connection refused")

        return unreachable


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """The descriptions of the run's step failures."""
    return [
        str(event.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]


@pytest.mark.parametrize(
    "asset", [securities, price_history, fx_rates, fundamentals], ids=lambda a: a.key.path[-1]
)
def test_an_unreachable_provider_fails_the_step_at_once_without_retries(
    db: Engine, materialize: Materialize, asset: dg.AssetsDefinition
) -> None:
    if asset is not securities:
        materialize([securities])  # something to load prices, rates and fundamentals for

    result = materialize(
        [asset], provider=UnreachableSource(), tags=range_tags(*WEEK), raise_on_error=False
    )

    assert not result.success
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in [e.event_type for e in result.all_events]
    failures = step_failures(result)  # the price load's shares fail each on its own
    assert failures
    for failure in failures:
        assert failure.startswith("synthetic unreachable: the generator: Connection refused")
        assert "not retried" in failure
