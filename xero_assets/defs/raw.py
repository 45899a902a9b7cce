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
from xero_assets.sync import SyncResult, TenantSyncError

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
    """Run config for a sync. `full_refresh` re-reads everything and flags records Xero no longer returns."""

    full_refresh: bool = False


def granted_scopes(xero: XeroResource, tenant_id: str) -> tuple[str, ...]:
    """The scopes the tenant's consent granted, or a Failure that says why the tenant cannot be synced."""
    connection = xero.token_store().get_connection(tenant_id)
    if connection is None:
        raise dg.Failure(f"tenant {tenant_id} is not connected (no connection in the token store)")
    if connection.status == ConnectionStatus.REMOVED:
        raise dg.Failure(f"tenant {tenant_id} was disconnected; its data is kept but it is no longer synced")
    if connection.status == ConnectionStatus.NEEDS_REAUTHORIZATION:
        raise dg.Failure(
            f"tenant {tenant_id} needs re-authorization (Xero refused its refresh token); "
            "run `xero-assets connect` for it, then sync again"
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
    if result.skipped is None:
        metadata["preview"] = _preview(warehouse, result)
    return metadata


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
            on_result=progress,
        )  # fmt: skip
        failure = None
    except TenantSyncError as exc:  # report what did sync, then fail the step (its retry resumes from cursors)
        results, failure, day = exc.results, exc, getattr(exc, "plan", None)
    budget = day.metadata() if day is not None else {}  # the tenant's call budget: planned, used, left of the day
    for result in results:
        if selected and result.api not in {a.name for a in selected}:
            continue
        yield dg.MaterializeResult(asset_key=raw_key(result.api), metadata={**result_metadata(wh, result), **budget})
    if failure is not None:
        raise dg.Failure(str(failure)) from failure.errors[0]
