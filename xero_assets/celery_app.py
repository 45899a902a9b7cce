"""Celery workers that run Dagster steps, for a deployment whose tenants' syncs spread over several machines.

Start one per worker slot on any machine that can import this package and reach the broker, the database and Xero:

    CELERY_BROKER_URL=redis://broker:6379/0 celery -A xero_assets.celery_app worker -Q dagster -c 1

and run Dagster with XERO_ASSETS_EXECUTOR=celery (and the same CELERY_BROKER_URL), so `definitions.py` hands every
run's steps to the `dagster` queue instead of running them in the run's own process. Each tenant's sync is one step
(the xero_sync multi-asset), so one worker slot syncs one tenant at a time.
"""

from __future__ import annotations

import os

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER


def result_backend() -> str:
    return os.environ.get("CELERY_RESULT_BACKEND") or broker_url()


app = make_app({"broker": broker_url(), "backend": result_backend()})
execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
