"""The executor every job runs its steps with, chosen by `RM_EXECUTOR`.

- `in_process` (the default): the steps one after the other in the run's process. They are short
  SQL statements, so a process each would cost more than the steps themselves.
- `multiprocess`: a process per step, as many at once as there are cores (or the run config's
  `execution: config: max_concurrent`); the price backfill's batches then load side by side.
- `celery`: steps queued to Celery workers (`dagster-celery`, the `celery` extra); the broker and
  backend come from the run config (docs/DEPLOYMENT.md), else from RM_CELERY_BROKER and
  RM_CELERY_BACKEND, so that runs launched without run config (`rm-pipeline run`, `backfill`,
  schedules) reach the workers too.
- `k8s`: a Kubernetes job per step (`dagster-k8s`, the `kubernetes` extra), in the image and
  namespace of the run's pod unless the run config says otherwise.

The Celery and Kubernetes packages are imported only when chosen, so the others need neither.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

import dagster as dg

from rm_pipeline.settings import ExecutorName, environment_variable, get_settings

EXTERNAL_EXECUTORS: dict[str, tuple[str, str, str]] = {
    "celery": ("dagster_celery", "celery_executor", "celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "kubernetes"),
}
"""Executor name: its module, its attribute, and the extra of rm-pipeline that installs it."""
CELERY_INCLUDE = ["rm_pipeline.definitions"]
"""The module every Celery worker imports: the definitions its steps run."""


class ExecutorUnavailable(RuntimeError):
    """The chosen executor's package is not installed; the message names the extra."""


def executor_for(name: ExecutorName) -> dg.ExecutorDefinition:
    """The executor `RM_EXECUTOR` names."""
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    module, attribute, extra = EXTERNAL_EXECUTORS[name]
    try:
        executor: dg.ExecutorDefinition = getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as error:
        raise ExecutorUnavailable(
            f"RM_EXECUTOR={name} needs {module.replace('_', '-')}: install rm-pipeline[{extra}] "
            "with the pins of constraints.txt"
        ) from error
    if name == "celery" and (defaults := celery_defaults()):
        return celery_with_defaults(executor, defaults)
    return executor


CeleryDefault = tuple[str, str, bool]
"""A field of the Celery executor's config, its default, and whether that is a variable's name
(read when the run starts) rather than the value itself."""


def celery_defaults() -> tuple[CeleryDefault, ...]:
    """The broker and backend RM_CELERY_BROKER and RM_CELERY_BACKEND give: each as its variable
    when the environment holds it, so a password in its URL never shows in the UI's launchpad;
    one read from `.env` alone, which Dagster does not read, as its value. Empty when neither is
    set."""
    settings = get_settings()
    defaults = []
    for field in ("celery_broker", "celery_backend"):
        value: str | None = getattr(settings, field)
        if value is not None:
            variable = environment_variable(field)
            in_environment = bool(os.environ.get(variable))
            key = field.removeprefix("celery_")
            defaults.append((key, variable if in_environment else value, in_environment))
    return tuple(defaults)


@cache
def celery_with_defaults(
    executor: dg.ExecutorDefinition, defaults: tuple[CeleryDefault, ...]
) -> dg.ExecutorDefinition:
    """The Celery executor with the same config schema, the fields of `defaults` (and `include`:
    the definitions) defaulting to those: a run's config still overrides each."""
    values: dict[str, Any] = {"include": CELERY_INCLUDE}
    for key, value, is_variable in defaults:
        values[key] = {"env": value} if is_variable else value
    shape = executor.config_schema.as_field().config_type
    fields = {
        key: dg.Field(
            field.config_type,
            default_value=values[key],
            is_required=False,
            description=field.description,
        )
        if key in values
        else field
        for key, field in shape.fields.items()  # type: ignore[attr-defined]
    }
    return executor.configured(lambda config: config, config_schema=fields)
