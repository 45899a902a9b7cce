"""The Celery deployment's pieces fit together: the run launcher in deploy/ loads from the deploy yaml and sends runs
by the task names and queue the workers of xero_assets.celery_app answer, and a worker's run executes its steps
in-process (sending them to Celery again would have a worker wait on itself)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._serdes import ConfigurableClassData
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME

from xero_assets import celery_app
from xero_assets.definitions import EXECUTOR_ENV, executor

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_deploy_run_launcher_loads_and_sends_to_the_queue_the_workers_consume(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/15")
    launcher_config = yaml.safe_load((DEPLOY / "celery_run_launcher.yaml").read_text())["run_launcher"]
    data = ConfigurableClassData(
        launcher_config["module"], launcher_config["class"], yaml.safe_dump(launcher_config["config"])
    )
    launcher = data.rehydrate(as_type=object)  # imports the module and class the yaml names, with its config
    assert launcher.default_queue == "dagster"
    assert launcher.broker == "redis://127.0.0.1:6379/15"


def test_the_worker_app_runs_the_launcher_tasks_on_its_own_pooled_instance() -> None:
    for name in (TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME):  # not dagster_celery's, which open an instance a run
        assert celery_app.app.tasks[name].run.__module__ == celery_app.__name__


def test_a_worker_executes_a_runs_steps_in_its_own_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "in_process")
    assert executor() is dg.in_process_executor
    monkeypatch.delenv(EXECUTOR_ENV)
    assert executor() is None  # Dagster's default: a process per step


def test_an_unknown_executor_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "k8s")
    with pytest.raises(ValueError, match="choose celery or in_process"):
        executor()
