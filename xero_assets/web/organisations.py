"""What the Integrations and Detail pages say about each organisation: status, country, last sync, and one row per
Xero API with its permission, rows and sync status.

Everything comes from our own tables (token store connections, the warehouse's sync state and stored records), so
the page is right even while Dagster is down; Dagster only adds the runs in flight and their failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from xero_assets import catalog
from xero_assets.store.tokens import Connection, ConnectionStatus
from xero_assets.store.warehouse import SyncState, Warehouse
from xero_assets.sync import tenant_country

NOT_CONNECTED = "Not connected"


@dataclass(frozen=True)
class Organisation:
    """One connected (or formerly connected) organisation as the pages list it."""

    connection: Connection
    country: str | None
    currency: str | None
    last_sync: datetime | None

    @property
    def tenant_id(self) -> str:
        return self.connection.tenant_id

    @property
    def name(self) -> str:
        return self.connection.tenant_name or self.connection.tenant_id

    @property
    def status(self) -> str:
        """The product page's words: Success, Needs re-authorization, Disconnected at Xero; removed ones: Inactive."""
        if self.connection.status is ConnectionStatus.REMOVED:
            return "Inactive (removed)"
        return self.connection.status.label

    @property
    def active(self) -> bool:
        """Still connected here (possibly needing a reconnect); False once removed."""
        return self.connection.status is not ConnectionStatus.REMOVED

    @property
    def syncable(self) -> bool:
        """Only a working connection is synced; the others need a new consent first."""
        return self.connection.active


@dataclass(frozen=True)
class ApiRow:
    """One Xero API of one organisation on the Detail page."""

    api: catalog.XeroApi
    permission: str  # the scope that grants it (the one to ask for when it is missing)
    granted: bool
    last_sync: datetime | None
    rows: int
    status: str
    kind: str  # ok / never / skipped / failed / running / paused: the page's colour for the status
    syncable: bool

    @property
    def asset_key(self) -> str:
        return f"xero/{self.api.name}"


def organisations(connections: Iterable[Connection], warehouse: Warehouse) -> list[Organisation]:
    """Each connection with its country, currency and last completed sync, active ones first, then by name."""
    out = []
    for connection in connections:
        records = warehouse.records(connection.tenant_id, "organisation", limit=1)
        facts = records[0] if records else {}
        completed = [s.last_completed for s in warehouse.states(connection.tenant_id).values() if s.last_completed]
        out.append(
            Organisation(
                connection,
                facts.get("CountryCode"),
                facts.get("BaseCurrency"),
                max(completed).replace(tzinfo=UTC) if completed else None,
            )
        )
    return sorted(out, key=lambda o: (not o.active, o.name.lower()))


def card_status(orgs: Sequence[Organisation]) -> str:
    """Xero's card on Integrations: the worst status among the active organisations, or Not connected."""
    active = [o for o in orgs if o.active]
    if not active:
        return NOT_CONNECTED
    for worst in ("Disconnected at Xero", ConnectionStatus.NEEDS_REAUTHORIZATION.label):
        if any(o.status == worst for o in active):
            return worst
    return ConnectionStatus.ACTIVE.label


def _state_status(state: SyncState | None, now: datetime) -> tuple[str, str]:
    if state is None:
        return "never synced", "never"
    if state.paused_until and state.paused_until > now:
        return f"paused until {state.paused_until:%H:%M} UTC (Xero's day limit)", "paused"
    if state.scan_page is not None:
        return f"interrupted: resumes at page {state.scan_page}", "paused"
    if state.last_completed:
        return "synced", "ok"
    return "never synced", "never"


def api_rows(
    organisation: Organisation,
    warehouse: Warehouse,
    *,
    running: Iterable[str] = (),
    failed: dict[str, str] | None = None,
) -> list[ApiRow]:
    """One row per catalog API, in catalog order. `running` and `failed` (asset key -> reason) come from Dagster."""
    tenant = organisation.tenant_id
    states = warehouse.states(tenant)
    counts = warehouse.counts(tenant)
    country = organisation.country or tenant_country(warehouse, tenant)
    granted_scopes = organisation.connection.scopes
    now = datetime.now(UTC).replace(tzinfo=None)
    running_keys, failures = set(running), failed or {}
    rows = []
    for api in catalog.CATALOG:
        granted = api.is_granted(granted_scopes)
        permission = next((s for s in api.all_scopes() if s in granted_scopes), api.scopes[-1])
        state = states.get(api.name)
        syncable = not api.removed and granted and organisation.syncable
        key = f"xero/{api.name}"
        if api.removed:
            status, kind = "skipped: Xero removed this API", "skipped"
        elif not granted:
            status, kind = f"skipped: scope {api.missing_scope(granted_scopes)} not granted", "skipped"
        elif country and api.endpoint_for(country) is None:
            status, kind = f"skipped: not available for an organisation in {country}", "skipped"
            syncable = False
        elif key in running_keys:
            status, kind = "syncing now", "running"
        elif key in failures:
            status, kind = f"failed: {failures[key]}", "failed"
        else:
            status, kind = _state_status(state, now)
        completed = state.last_completed.replace(tzinfo=UTC) if state and state.last_completed else None
        rows.append(ApiRow(api, permission, granted, completed, counts.get(api.name, 0), status, kind, syncable))
    return rows
