"""The raw Xero assets: one asset per catalog API (key xero/<name>), all built by ONE tenant-partitioned multi-asset.

Why one multi-asset: a Dagster run costs seconds, and the multiprocess executor would give every asset its own
process and so its own rate limiter. One step that runs the selected APIs in a thread pool over ONE TenantClient
keeps a tenant's whole sync in one run under one limiter (5 in flight, under 60 a minute). `can_subset=True` keeps
each API materializable alone: selecting xero/invoices syncs just invoices.
"""

import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from xero_assets import catalog, plan
from xero_assets.defs.partitions import tenant_partitions
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.store.tokens import ConnectionStatus
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import SyncResult, TenantSyncError, failure_reason
from xero_assets.xero.errors import TenantNotConnected

RAW_PREFIX = "xero"


def raw_key(api_name: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, api_name])


def _warehouse_kind() -> str:
    return "postgres" if os.environ.get("XERO_ASSETS_DATABASE_URL", "").startswith("postgresql") else "sqlite"


def _description(api: catalog.XeroApi) -> str:
    endpoint = api.endpoint
    how = {
        catalog.Paging.PAGE_SIZE: "paged 1,000 a call",
        catalog.Paging.PAGE_ONLY: "paged 100 a call",
        catalog.Paging.OFFSET: "read after the last JournalNumber, 100 a call",
        catalog.Paging.PER_EMPLOYEE: "one call per employee",
        catalog.Paging.NONE: "one call",
    }[endpoint.paging]
    incremental = "incremental by If-Modified-Since" if endpoint.modified_since else "read whole every sync"
    if api.kind is catalog.Kind.REPORT:
        incremental = "re-read every sync in the fewest calls (current month and the 12 before it)"
    scopes = " or ".join(api.all_scopes())
    text = f"{api.title} from Xero {endpoint.full_path} ({how}; {incremental}). Needs {scopes}."
    return f"{api.description} {text}".strip()


RAW_APIS: tuple[catalog.XeroApi, ...] = catalog.SYNCABLE
API_BY_KEY: Mapping[dg.AssetKey, catalog.XeroApi] = {raw_key(api.name): api for api in RAW_APIS}

RAW_SPECS = [
    dg.AssetSpec(
        key=raw_key(api.name),
        group_name=api.group.value,
        description=_description(api),
        kinds={"xero", _warehouse_kind()},
        partitions_def=tenant_partitions,
        skippable=True,
        metadata={"xero_path": api.endpoint.full_path, "paging": api.endpoint.paging.value},
    )
    for api in RAW_APIS
]

RAW_SPECS_ORDER = [spec.key for spec in RAW_SPECS]


class SyncConfig(dg.Config):
    """Run config for a sync. `full_refresh` re-reads everything and flags records Xero no longer returns;
    `allow_mass_delete` lets it flag more than half of an API's records (refused otherwise, see sync.MassDelete)."""

    full_refresh: bool = False
    allow_mass_delete: bool = False


def consented_scopes(xero: XeroResource, tenant_id: str) -> tuple[str, ...]:
    """The scopes of the tenant's last consent, whatever its status now: the datasets build from what was stored
    under them even when the connection was removed or needs reconnecting."""
    connection = xero.token_store().get_connection(tenant_id)
    return tuple(connection.scopes) if connection is not None else ()


def granted_scopes(xero: XeroResource, tenant_id: str) -> tuple[str, ...]:
    """The scopes the tenant's consent granted, or a Failure that says why the tenant cannot be synced."""
    connection = xero.token_store().get_connection(tenant_id)
    if connection is None:
        raise dg.Failure(f"tenant {tenant_id} is not connected (no connection in the token store)")
    if connection.status == ConnectionStatus.REMOVED:
        raise dg.Failure(f"tenant {tenant_id} was disconnected; its data is kept but it is no longer synced")
    if connection.status.needs_reconnecting:
        raise dg.Failure(
            f"{connection.tenant_name} ({tenant_id}): {connection.status.label}; reconnect it with "
            "`xero-assets connect`, then sync again",
            metadata={"reconnect": connection.status.label},
        )
    return tuple(connection.scopes)


def _preview(warehouse: Warehouse, result: SyncResult, rows: int = 5) -> dg.MetadataValue:
    """A few of the newest stored records as a markdown table: id, status, updated, and a few scalar fields."""
    records = warehouse.records(result.tenant_id, result.api, limit=rows)
    if not records:
        return dg.MetadataValue.md("_no rows_")
    columns: list[str] = []
    for key, value in records[0].items():
        if isinstance(value, (str, int, float, bool)) and len(columns) < 6:
            columns.append(key)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        cells = [str(record.get(c, ""))[:40].replace("|", "/") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def result_metadata(warehouse: Warehouse, result: SyncResult) -> dict[str, Any]:
    """The materialization metadata of one API's sync (never tokens: only counts, cursors and stored records)."""
    counts = result.counts
    metadata: dict[str, Any] = {
        "status": result.status,
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_unchanged": counts.unchanged,
        "rows_deleted_in_xero": counts.deleted_in_xero,
        "api_calls": result.calls,
        "pages": result.pages,
        "cursor": result.cursor,
        "dagster/row_count": result.row_count,
        "seconds": round(result.seconds, 3),
    }
    if result.day_remaining is not None:
        metadata["day_remaining_calls"] = result.day_remaining
    if result.paused_until is not None:
        metadata["paused_until"] = result.paused_until.isoformat(timespec="minutes")
    if result.skipped is None:
        metadata["preview"] = _preview(warehouse, result)
    if result.counts.bad_fields:
        metadata["malformed_fields"] = dg.MetadataValue.json([str(p) for p in result.counts.bad_fields])
    return metadata


def failure(wh: Warehouse, xero: XeroResource, exc: TenantSyncError) -> dg.Failure:
    """The step's Failure: our message per failed API, and as metadata what the CLI turns into its last line.

    A removed connection (the first 403) is recorded as `Disconnected at Xero` in the token store and the warehouse,
    so nothing syncs it again until it is reconnected."""
    failed = {api: failure_reason(error) for api, error in exc.failed.items()}
    metadata: dict[str, Any] = {"failed_apis": dg.MetadataValue.json(failed)}
    if exc.not_started:
        metadata["not_started"] = dg.MetadataValue.json(exc.not_started)
    if exc.stopped_by is not None:
        store = xero.token_store()
        if isinstance(exc.stopped_by, TenantNotConnected) and exc.stopped_by.path:  # Xero's 403, not our store's
            store.mark_disconnected_at_xero(exc.tenant_id)
        connection = store.get_connection(exc.tenant_id)
        if connection is not None:
            wh.set_tenant_status([(connection.tenant_id, connection.tenant_name, str(connection.status))])
            metadata["reconnect"] = connection.status.label
    lines = [f"{api} failed: {reason}" for api, reason in failed.items()]
    return dg.Failure(str(exc) if exc.stopped_by else "\n".join(lines), metadata=metadata)


@dg.multi_asset(
    name="xero_sync",
    specs=RAW_SPECS,
    can_subset=True,
    partitions_def=tenant_partitions,
    pool="xero_api",
    # No step RetryPolicy: the client already retries each call with backoff, a whole-step retry would only hammer
    # a Xero that stayed down, and the next sync resumes from the cursors anyway. Crashed runs are retried by
    # dagster.yaml's run_retries.
    description="Sync a tenant's selected Xero APIs in one step sharing one rate-limited client.",
)
def xero_sync(
    context: dg.AssetExecutionContext, config: SyncConfig, xero: XeroResource, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    tenant_id = context.partition_key
    selected = [API_BY_KEY[key] for key in RAW_SPECS_ORDER if key in context.selected_asset_keys]
    scopes = granted_scopes(xero, tenant_id)
    wh = warehouse.warehouse()

    def progress(result: SyncResult) -> None:
        context.log.info(
            f"{result.api}: {result.status}; +{result.counts.inserted} ~{result.counts.updated} "
            f"={result.counts.unchanged} in {result.calls} calls"
        )

    try:
        results, day = plan.planned_sync(
            xero.client_for(tenant_id), wh, selected, granted_scopes=scopes, full_refresh=config.full_refresh,
            on_result=progress, allow_mass_delete=config.allow_mass_delete,
        )  # fmt: skip
        problem = None
    except TenantSyncError as exc:  # report what did sync, then fail the step: the failed APIs fail as assets
        results, problem, day = exc.results, exc, getattr(exc, "plan", None)
    budget = day.metadata() if day is not None else {}  # the tenant's call budget: planned, used, left of the day
    wanted = {api.name for api in selected}
    for result in results:
        if selected and result.api not in wanted:  # the planner reads Organisation first, selected or not
            continue
        for bad in result.counts.bad_fields[:20]:  # all of them (up to BAD_FIELDS_KEPT) are in the metadata
            context.log.warning(str(bad))
        yield dg.MaterializeResult(asset_key=raw_key(result.api), metadata={**result_metadata(wh, result), **budget})
    if problem is not None:
        raise failure(wh, xero, problem) from problem.errors[0]
