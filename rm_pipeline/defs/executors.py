"""The executor every job runs its steps with, chosen by `RM_EXECUTOR`.

- `in_process` (the default): the steps one after the other in the run's process. They are short
  SQL statements, so a process each would cost more than the steps themselves.
- `multiprocess`: a process per step, as many at once as there are cores (or the run config's
  `execution: config: max_concurrent`); the price backfill's batches then load side by side.
- `celery`: steps queued to Celery workers (`dagster-celery`, the `celery` extra); the broker and
  backend come from the run config (docs/DEPLOYMENT.md).
- `k8s`: a Kubernetes job per step (`dagster-k8s`, the `kubernetes` extra), in the image and
  namespace of the run's pod unless the run config says otherwise.

The Celery and Kubernetes packages are imported only when chosen, so the others need neither.
"""

from __future__ import annotations

import importlib

import dagster as dg

from rm_pipeline.settings import ExecutorName

EXTERNAL_EXECUTORS: dict[str, tuple[str, str, str]] = {
    "celery": ("dagster_celery", "celery_executor", "celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "kubernetes"),
}
"""Executor name: its module, its attribute, and the extra of rm-pipeline that installs it."""


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
    return executor
