"""The tenant sensor: each new Xero authorization becomes a partition and its first full sync, without anyone
touching the UI.

- New active connection: add its partition and request its initial sync of every asset (at most
  MAX_NEW_TENANTS_PER_TICK per tick, so the tick stays far inside Dagster's 60-second limit; the rest follow on
  the next ticks). `run_key` per tenant makes the request idempotent if a tick is retried.
- Removed connection: the partition stays (its history and datasets stay readable; Dagster's deleted partitions
  break downstream views), nothing is requested, and the tenant is recorded as inactive in the warehouse.
- Needs re-authorization: reported once (log + skip reason), never retried in a loop: only a new consent fixes it.

One `get_dynamic_partitions` call per tick; the sensor's cursor remembers what it already reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import dagster as dg

from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME, organisation_tags, tenant_partitions
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.defs.rollup import kpi_rollup
from xero_assets.store.tokens import Connection, ConnectionStatus

MAX_NEW_TENANTS_PER_TICK = 25
INITIAL_SYNC_TAG = "xero_assets/initial_sync"


def initial_sync_selection() -> dg.AssetSelection:
    """Everything partitioned by tenant: the raw Xero assets and the tenant's datasets.

    Not the unpartitioned dashboards/rollup: it reads every tenant's KPIs, so rebuilding it in each tenant's first
    sync made a fleet's initial syncs cost O(tenants²), and two tenants' runs rebuilding it at once collided on its
    key (9 of 250 runs of benchmarks/bench_fleet.py failed so, on ds_rollup_pkey). It is materialized on its own.
    """
    return dg.AssetSelection.all() - dg.AssetSelection.assets(kpi_rollup)


def plan_tick(
    connections: Sequence[Connection],
    known_partitions: set[str],
    reported: set[str],
    cap: int = MAX_NEW_TENANTS_PER_TICK,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(new tenants to add now, removed tenants, newly reported re-authorizations, all re-authorizations)."""
    new, removed, reauth = [], [], []
    for connection in connections:
        tenant_id, status = connection.tenant_id, connection.status
        if status == ConnectionStatus.ACTIVE and tenant_id not in known_partitions:
            new.append(tenant_id)
        elif status == ConnectionStatus.REMOVED:
            removed.append(tenant_id)
        elif status.needs_reconnecting:  # needs re-authorization, or disconnected at Xero
            reauth.append(tenant_id)
    fresh_reauth = [t for t in reauth if t not in reported]
    return new[:cap], removed, fresh_reauth, reauth


@dg.sensor(
    name="xero_tenant_sensor",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=initial_sync_selection(),
    description="Adds a partition and starts the initial full sync for each newly authorized Xero tenant.",
)
def xero_tenant_sensor(
    context: dg.SensorEvaluationContext, xero: XeroResource, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    reported = set(cursor.get("reauth_reported", []))
    connections = xero.token_store().list_connections(include_removed=True)
    known = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    new, removed, fresh_reauth, reauth = plan_tick(connections, known, reported)

    warehouse.warehouse().set_tenant_status([(c.tenant_id, c.tenant_name, str(c.status)) for c in connections])
    labels = {c.tenant_id: f"{c.tenant_name} ({c.tenant_id}): {c.status.label}" for c in connections}
    for tenant_id in fresh_reauth:
        context.log.warning(
            f"tenant {labels[tenant_id]}; it is not synced until someone reconnects it with `xero-assets connect`"
        )
    context.update_cursor(json.dumps({"reauth_reported": sorted(reauth)}))
    if not new:
        notes = []
        if fresh_reauth:
            notes.append(f"needs re-authorization: {', '.join(fresh_reauth)}")
        if removed:
            notes.append(f"{len(removed)} removed tenant(s) kept inactive")
        return dg.SkipReason("; ".join(notes) or "no new Xero tenants")
    names = {c.tenant_id: c.tenant_name for c in connections}
    return dg.SensorResult(
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new)],
        run_requests=[
            dg.RunRequest(
                partition_key=tenant_id,
                run_key=f"initial-sync:{tenant_id}",
                tags={INITIAL_SYNC_TAG: "true", **organisation_tags(names[tenant_id])},
            )
            for tenant_id in new
        ],
    )
