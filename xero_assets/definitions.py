"""The one Dagster `Definitions` that workspace.yaml loads: the raw Xero assets, the datasets, the sensors and
the resources, wired from the environment (secrets through `dg.EnvVar`, never in code or run config)."""

from __future__ import annotations

import os

import dagster as dg

from xero_assets.defs.dashboards import dashboards
from xero_assets.defs.raw import xero_sync
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.defs.rollup import kpi_rollup
from xero_assets.defs.sensors import xero_tenant_sensor
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


defs = dg.Definitions(assets=[xero_sync, dashboards, kpi_rollup], sensors=[xero_tenant_sensor], resources=resources())
