"""The project's one `Definitions`, loaded by `workspace.yaml`, `dagster dev` and the CLI: each
domain's own definitions merged, with the resources and the executor."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from rm_pipeline.defs import definitions as cross_domain
from rm_pipeline.defs.analytics import definitions as analytics
from rm_pipeline.defs.executors import executor_for
from rm_pipeline.defs.market import definitions as market
from rm_pipeline.defs.portfolios import definitions as portfolios
from rm_pipeline.defs.resources import default_resources
from rm_pipeline.defs.trades import definitions as trades
from rm_pipeline.settings import get_settings

DOMAINS = (market.defs, analytics.defs, portfolios.defs, trades.defs, cross_domain.defs)
"""Each domain's assets, checks, jobs, schedules and sensors, declared in its `definitions.py`."""


def build_definitions(resources: Mapping[str, Any]) -> dg.Definitions:
    """Every domain's definitions, with these resources (tests swap them) and the executor
    RM_EXECUTOR names."""
    return dg.Definitions.merge(
        *DOMAINS,
        dg.Definitions(resources=resources, executor=executor_for(get_settings().executor)),
    )


defs = build_definitions(default_resources(get_settings()))
