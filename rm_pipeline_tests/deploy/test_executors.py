"""The same definitions on every executor: `dagster definitions validate` with each `RM_EXECUTOR`,
the run configurations docs/DEPLOYMENT.md gives for Celery and Kubernetes checked against the
price job's config schema with that executor, the Celery broker and backend taken from
RM_CELERY_BROKER and RM_CELERY_BACKEND, and the Kubernetes run launcher's instance configuration
checked against `K8sRunLauncher`'s schema. `make cluster` runs steps on real Celery workers."""

from __future__ import annotations

import importlib
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


def documented_block(marker: str) -> dict[str, Any]:
    """The YAML block docs/DEPLOYMENT.md marks `<!-- MARKER -->`."""
    marked = re.search(
        rf"<!-- {re.escape(marker)} -->\n```yaml\n(.*?)```", DEPLOYMENT.read_text(), re.S
    )
    assert marked, f"docs/DEPLOYMENT.md has no block marked {marker}"
    config: dict[str, Any] = yaml.safe_load(marked.group(1))
    return config


def documented_run_config(executor: str) -> dict[str, Any]:
    """The YAML block docs/DEPLOYMENT.md marks `<!-- run config: EXECUTOR -->`."""
    return documented_block(f"run config: {executor}")


def price_job(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dg.JobDefinition:
    """The price job as the definitions build it under these environment variables."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        resources = default_resources(get_settings())
        return build_definitions(resources).resolve_job_def("ingest_price_history")
    finally:
        get_settings.cache_clear()


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
    monkeypatch.delenv("RM_CELERY_BROKER", raising=False)
    monkeypatch.delenv("RM_CELERY_BACKEND", raising=False)
    job = price_job(monkeypatch, RM_EXECUTOR=executor)
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


def test_the_celery_broker_and_backend_default_to_their_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs launched without run config (`rm-pipeline backfill`, schedules) reach the workers
    through RM_CELERY_BROKER and RM_CELERY_BACKEND; a run's config still overrides them, and the
    launchpad's defaults name the variables, not their URLs."""
    broker, backend = "redis://:s3cret@127.0.0.1:6390/0", "redis://127.0.0.1:6390/1"
    job = price_job(
        monkeypatch, RM_EXECUTOR="celery", RM_CELERY_BROKER=broker, RM_CELERY_BACKEND=backend
    )
    [given] = dg.validate_run_config(job, {})["execution"].values()
    assert given["broker"] == broker and given["backend"] == backend
    assert given["include"] == ["rm_pipeline.definitions"]
    documented = documented_run_config("celery")["execution"]["config"]
    [overridden] = dg.validate_run_config(job, {"execution": {"config": documented}})[
        "execution"
    ].values()
    assert overridden["broker"] == documented["broker"]
    fields = job.executor_def.config_schema.as_field().config_type.fields
    assert fields["broker"].default_value == {"env": "RM_CELERY_BROKER"}
    assert "s3cret" not in repr(fields["broker"].default_value)
    with pytest.raises(dg.DagsterInvalidConfigError, match="no_such_field"):
        dg.validate_run_config(job, {"execution": {"config": {"no_such_field": 1}}})


def test_the_documented_k8s_run_launcher_is_a_complete_configuration() -> None:
    """The instance configuration docs/DEPLOYMENT.md gives for the Kubernetes run launcher names
    an existing class and satisfies its config schema, required fields included."""
    from dagster._config import process_config

    launcher = documented_block("instance config: k8s run launcher")["run_launcher"]
    launcher_class = getattr(importlib.import_module(launcher["module"]), launcher["class"])
    config_type = dg.Shape(launcher_class.config_type())
    processed = process_config(config_type, launcher["config"])
    assert processed.success, [error.message for error in processed.errors or []]
    assert processed.value is not None
    assert {key: processed.value[key] for key in launcher["config"]} == launcher["config"]
    incomplete = {k: v for k, v in launcher["config"].items() if k != "instance_config_map"}
    missing = process_config(config_type, incomplete)
    assert not missing.success
    assert "instance_config_map" in " ".join(error.message for error in missing.errors or [])
