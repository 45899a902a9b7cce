"""The one Dagster `Definitions` that workspace.yaml loads: the raw Xero assets, the datasets, the sensors and
the resources, wired from the environment (secrets through `dg.EnvVar`, never in code or run config)."""

from __future__ import annotations

import os

import dagster as dg

from xero_assets.defs.dashboards import dashboards
from xero_assets.defs.raw import xero_sync
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.defs.rollup import kpi_rollup, kpi_rollup_schedule
from xero_assets.defs.sensors import xero_tenant_sensor
from xero_assets.defs.webhook_sensor import xero_webhook_sensor
from xero_assets.xero.config import DEFAULT_API_URL, DEFAULT_IDENTITY_URL, DEFAULT_LOGIN_URL


def xero_resource() -> XeroResource:
    """The Xero client resource: credentials from the environment; base URLs default to Xero's real hosts, and the
    rate-limit window can be shortened (XERO_ASSETS_MINUTE_SECONDS) only for the sandbox."""
    env = os.environ
    return XeroResource(
        client_id=dg.EnvVar("XERO_CLIENT_ID"),
        client_secret=dg.EnvVar("XERO_CLIENT_SECRET"),
        redirect_uri=env.get("XERO_REDIRECT_URI", ""),
        login_url=env.get("XERO_LOGIN_URL") or DEFAULT_LOGIN_URL,
        identity_url=env.get("XERO_IDENTITY_URL") or DEFAULT_IDENTITY_URL,
        api_url=env.get("XERO_API_URL") or DEFAULT_API_URL,
        minute_seconds=float(env.get("XERO_ASSETS_MINUTE_SECONDS") or 60.0),
    )


def resources() -> dict[str, object]:
    return {"xero": xero_resource(), "warehouse": WarehouseResource()}


EXECUTOR_ENV = "XERO_ASSETS_EXECUTOR"


def executor() -> dg.ExecutorDefinition | None:
    """How a run executes its steps, chosen by XERO_ASSETS_EXECUTOR:

    - unset: Dagster's default (each step in its own process, beside the run's process);
    - `celery`: each step is sent to Celery workers (`xero_assets/celery_app.py`, needs the `fleet` extra), for a
      run launched as a local process that fans its steps out to other machines;
    - `in_process`: every step in the run's own process. This is what the Celery run launcher
      (`deploy/celery_run_launcher.yaml`) needs: a worker executes the whole run, so its steps must not be sent to
      Celery again (a worker would wait on itself) nor spawn a process each (a worker pays its imports once, a new
      process pays them for every step).
    """
    choice = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if not choice:
        return None
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "celery":
        from dagster_celery import celery_executor

        from xero_assets.celery_app import broker_url, result_backend

        return celery_executor.configured({"broker": broker_url(), "backend": result_backend()})
    raise ValueError(f"{EXECUTOR_ENV}={choice!r}: choose celery or in_process, or leave it unset")


defs = dg.Definitions(
    assets=[xero_sync, dashboards, kpi_rollup],
    sensors=[xero_tenant_sensor, xero_webhook_sensor],
    schedules=[kpi_rollup_schedule],
    resources=resources(),
    executor=executor(),
)
