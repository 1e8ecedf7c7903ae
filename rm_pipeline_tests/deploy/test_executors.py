"""The same definitions on every executor: `dagster definitions validate` with each `RM_EXECUTOR`,
and the run configurations docs/DEPLOYMENT.md gives for Celery and Kubernetes checked against the
price job's config schema with that executor."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from rm_pipeline.definitions import build_definitions
from rm_pipeline.defs.executors import ExecutorUnavailable, executor_for
from rm_pipeline.defs.resources import default_resources
from rm_pipeline.settings import ExecutorName, get_settings

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "DEPLOYMENT.md"
DAGSTER = Path(sys.executable).with_name("dagster")

pytestmark = pytest.mark.slow  # loading the definitions on every executor: seconds each


def documented_run_config(executor: str) -> dict[str, Any]:
    """The YAML block docs/DEPLOYMENT.md marks `<!-- run config: EXECUTOR -->`."""
    marked = re.search(
        rf"<!-- run config: {executor} -->\n```yaml\n(.*?)```", DEPLOYMENT.read_text(), re.S
    )
    assert marked, f"docs/DEPLOYMENT.md has no run config for {executor}"
    config: dict[str, Any] = yaml.safe_load(marked.group(1))
    return config


@pytest.mark.parametrize("executor", ["in_process", "multiprocess", "celery", "k8s"])
def test_the_definitions_validate_on_every_executor(tmp_path: Path, executor: str) -> None:
    validated = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "rm_pipeline.definitions", "-a", "defs"],
        cwd=tmp_path,  # no dagster.yaml here: a temporary instance, as on a build machine
        env={**os.environ, "RM_EXECUTOR": executor},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validated.returncode == 0, validated.stderr
    assert "All code locations passed validation" in validated.stdout + validated.stderr


@pytest.mark.parametrize("executor", ["celery", "k8s"])
def test_the_documented_run_config_fits_the_price_job(
    monkeypatch: pytest.MonkeyPatch, executor: ExecutorName
) -> None:
    monkeypatch.setenv("RM_EXECUTOR", executor)
    get_settings.cache_clear()
    try:
        resources = default_resources(get_settings())
        job = build_definitions(resources).resolve_job_def("ingest_price_history")
    finally:
        get_settings.cache_clear()
    assert job.executor_def is executor_for(executor)
    documented = documented_run_config(executor)["execution"]["config"]
    validated = dg.validate_run_config(job, {"execution": {"config": documented}})
    [settings] = validated["execution"].values()  # the documented values, defaults filled in
    assert {key: settings[key] for key in documented if key != "step_k8s_config"} == {
        key: value for key, value in documented.items() if key != "step_k8s_config"
    }
    wrong = {"execution": {"config": {**documented, "no_such_field": 1}}}
    with pytest.raises(dg.DagsterInvalidConfigError, match="no_such_field"):
        dg.validate_run_config(job, wrong)


@pytest.mark.parametrize(
    ("executor", "module", "extra"),
    [("celery", "dagster_celery", "celery"), ("k8s", "dagster_k8s", "kubernetes")],
)
def test_a_missing_executor_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, executor: ExecutorName, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ExecutorUnavailable, match=rf"install rm-pipeline\[{extra}\]"):
        executor_for(executor)
