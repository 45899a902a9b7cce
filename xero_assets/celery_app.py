"""Celery workers that run Dagster runs (or single steps), for a deployment whose tenants' syncs spread over several
machines.

Start one per worker slot on any machine that can import this package and reach the broker, the databases and Xero:

    CELERY_BROKER_URL=redis://broker:6379/0 XERO_ASSETS_EXECUTOR=in_process \\
        celery -A xero_assets.celery_app worker -Q dagster -c 1

Two ways to use them:

- whole runs (deploy/celery_run_launcher.yaml, the fleet's way): the daemon's queue launches each run as an
  `execute_job` task and a worker executes it with every step in its own process (XERO_ASSETS_EXECUTOR=in_process);
- steps only (XERO_ASSETS_EXECUTOR=celery): each run is a local process that sends its steps here as `execute_plan`
  tasks.

Each tenant's sync is one step (the xero_sync multi-asset), so one worker slot syncs one tenant at a time.

A worker executes many runs, one after another, so it keeps one Dagster instance whose storage holds its PostgreSQL
connections open (as Dagster's webserver does) instead of opening one per event: dagster-postgres otherwise connects
afresh for every event a run writes (about a hundred per tenant), which was a sixth of a worker's samples under
py-spy, besides a new server process on PostgreSQL's side each time.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import dagster as dg
from dagster._cli.api import _execute_run_command_body, _resume_run_command_body
from dagster._grpc.types import ExecuteRunArgs, ResumeRunArgs
from dagster._serdes import unpack_value
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# The worker instance's pooled connections: kept for an hour, plus a few opened only while threads write at once.
POOL_RECYCLE_S = 3600
POOL_MAX_OVERFLOW = 4


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER


def result_backend() -> str:
    return os.environ.get("CELERY_RESULT_BACKEND") or broker_url()


@functools.cache
def worker_instance() -> dg.DagsterInstance:
    """This worker process's Dagster instance (DAGSTER_HOME), made once, its storage on pooled connections.

    Made lazily in the task, so each forked pool process opens its own connections.
    """
    instance = dg.DagsterInstance.get()
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=POOL_RECYCLE_S, max_overflow=POOL_MAX_OVERFLOW)
    return instance


def _ignore(_event: Any) -> None:
    """Events already go to the instance's event log; a worker has no stream to echo them to."""


app = make_app({"broker": broker_url(), "backend": result_backend()})
execute_plan = create_task(app)


@app.task(bind=True, name=TASK_EXECUTE_JOB_NAME, track_started=True)
def execute_job(_task: Any, execute_job_args_packed: Any) -> int:
    """One run, launched by dagster_celery's CeleryRunLauncher, executed in this worker (its exit code)."""
    args = unpack_value(execute_job_args_packed, as_type=ExecuteRunArgs)
    return _execute_run_command_body(
        instance=worker_instance(), run_id=args.run_id, write_stream_fn=_ignore,
        set_exit_code_on_failure=args.set_exit_code_on_failure is not False,
    )  # fmt: skip


@app.task(bind=True, name=TASK_RESUME_JOB_NAME, track_started=True)
def resume_job(_task: Any, resume_job_args_packed: Any) -> int:
    """A run the launcher resumes (after its worker was lost), executed in this worker."""
    args = unpack_value(resume_job_args_packed, as_type=ResumeRunArgs)
    return _resume_run_command_body(
        instance=worker_instance(), run_id=args.run_id, write_stream_fn=_ignore,
        set_exit_code_on_failure=args.set_exit_code_on_failure is not False,
    )  # fmt: skip
