"""The webhook sensor: stored Xero webhook events become syncs of only the affected APIs of the affected tenants.

Each tick reads the pending events (`xero_assets.store.webhook_events`; the receiver stored them) and, per tenant:

- a tenant we do not sync (never connected, removed, or needing re-authorization) has its events logged and dropped;
- an event older than what the warehouse already holds for its API (the API's cursor is at or after the event's
  date: a late, replayed or out-of-order batch) is settled as already synced and starts nothing;
- the rest are debounced: a tenant's run starts once its events have been quiet for `debounce_seconds` (or the
  oldest has waited `max_wait_seconds`), so a burst of edits becomes one run;
- one run per tenant at a time: while a run of the tenant is queued or running, its new events wait for the next
  tick (the run coordinator's per-tenant tag limit would queue it anyway; waiting here folds them into one run).

The run selects only `xero/<api>` for the categories that changed (invoices, contacts, credit notes) and reads them
incrementally from the API's cursor (If-Modified-Since), never from the payload. It also rebuilds the tenant's
dashboard datasets that read those APIs (and the datasets that use them), with their checks, so a changed invoice
reaches `ar_ageing` or `overdue_invoices` in the same run; the datasets read the warehouse only, so the run reads
nothing else from Xero (`xero_assets.defs.dashboards.run_selection`, which the Integrations page's one-API sync
uses too). The events it covers are claimed with its run key in the same tick, so no event starts two
runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg

from xero_assets.defs.dashboards import run_selection
from xero_assets.defs.partitions import organisation_tags
from xero_assets.defs.priorities import WEBHOOK, priority_tags
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.store.tokens import ConnectionStatus
from xero_assets.store.webhook_events import ALREADY_SYNCED, CLAIMED, DROPPED, StoredEvent, WebhookEventStore

log = logging.getLogger(__name__)

API_OF_CATEGORY: Mapping[str, str] = {"INVOICE": "invoices", "CONTACT": "contacts", "CREDITNOTE": "credit_notes"}
WEBHOOK_TRIGGER_TAG = "xero_assets/trigger"
DEBOUNCE_SECONDS = 10.0
MAX_WAIT_SECONDS = 120.0
MAX_RUNS_PER_TICK = 50


@dataclass
class TenantPlan:
    """What one tick does with one tenant's pending events."""

    tenant_id: str
    run_apis: list[str] = field(default_factory=list)
    run_events: list[int] = field(default_factory=list)
    already_synced: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def plan_tenant(
    tenant_id: str,
    events: Sequence[StoredEvent],
    cursors: Mapping[str, datetime | None],
    now: datetime,
    *,
    busy: bool,
    debounce_seconds: float,
    max_wait_seconds: float,
) -> TenantPlan:
    """Decide one tenant's events. `cursors`: each API's newest stored UpdatedDateUTC (naive UTC) or None."""
    plan = TenantPlan(tenant_id)
    fresh: list[StoredEvent] = []
    for event in events:
        api = API_OF_CATEGORY.get(event.category)
        cursor = _naive_utc(cursors.get(api)) if api else None
        if api is None or (cursor is not None and event.event_date <= cursor):
            plan.already_synced.append(event.id)  # nothing to read: the warehouse holds this change already
        else:
            fresh.append(event)
    if not fresh:
        return plan
    quiet = now - max(e.received_at for e in fresh) >= timedelta(seconds=debounce_seconds)
    overdue = now - min(e.received_at for e in fresh) >= timedelta(seconds=max_wait_seconds)
    if busy or not (quiet or overdue):
        plan.waiting = [e.id for e in fresh]
        return plan
    plan.run_apis = sorted({API_OF_CATEGORY[e.category] for e in fresh})
    plan.run_events = [e.id for e in fresh]
    return plan


def build_webhook_sensor(
    *,
    name: str = "xero_webhook_sensor",
    debounce_seconds: float = DEBOUNCE_SECONDS,
    max_wait_seconds: float = MAX_WAIT_SECONDS,
    minimum_interval_seconds: int = 5,
) -> dg.SensorDefinition:
    """The sensor, with its debounce settable (tests use 0)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=run_selection(sorted(API_OF_CATEGORY.values()))[0],
        description="Syncs the invoices, contacts or credit notes of the tenants Xero's webhooks say changed.",
    )
    def xero_webhook_sensor(
        context: dg.SensorEvaluationContext, xero: XeroResource, warehouse: WarehouseResource
    ) -> dg.SensorResult | dg.SkipReason:
        event_store = WebhookEventStore(warehouse.warehouse().engine)
        pending = event_store.pending()
        if not pending:
            return dg.SkipReason("no pending webhook events")
        by_tenant: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in pending:
            by_tenant[event.tenant_id].append(event)
        tokens = xero.token_store()
        now = datetime.now(UTC).replace(tzinfo=None)
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        for tenant_id, events in by_tenant.items():
            connection = tokens.get_connection(tenant_id)
            if connection is None or connection.status != ConnectionStatus.ACTIVE:
                why = "not connected" if connection is None else f"connection {connection.status}"
                context.log.warning(
                    f"dropping {len(events)} webhook event(s) for tenant {tenant_id} ({why}): it is not synced"
                )
                event_store.settle([e.id for e in events], DROPPED)
                continue
            if len(requests) >= MAX_RUNS_PER_TICK:
                notes.append(f"{connection.tenant_name}: next tick")
                continue
            cursors = {
                api: warehouse.warehouse().state(tenant_id, api).updated_cursor for api in API_OF_CATEGORY.values()
            }
            plan = plan_tenant(
                tenant_id,
                events,
                cursors,
                now,
                busy=_has_run_in_progress(context.instance, tenant_id),
                debounce_seconds=debounce_seconds,
                max_wait_seconds=max_wait_seconds,
            )
            event_store.settle(plan.already_synced, ALREADY_SYNCED)
            if plan.waiting:
                notes.append(f"{connection.tenant_name}: {len(plan.waiting)} event(s) waiting")
            if not plan.run_events:
                continue
            run_key = f"webhook:{tenant_id}:{max(plan.run_events)}"
            if event_store.settle(plan.run_events, CLAIMED, run_key) == 0:
                continue  # another tick claimed them first
            context.log.info(
                f"{connection.tenant_name}: {len(plan.run_events)} webhook event(s) -> sync {', '.join(plan.run_apis)}"
            )
            assets, checks = run_selection(plan.run_apis)
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    partition_key=tenant_id,
                    asset_selection=assets,
                    asset_check_keys=checks,
                    tags={
                        WEBHOOK_TRIGGER_TAG: "webhook",
                        **organisation_tags(connection.tenant_name),
                        **priority_tags(WEBHOOK),
                    },
                )
            )
        if not requests:
            return dg.SkipReason("; ".join(notes) or "webhook events settled without a sync (already in the warehouse)")
        return dg.SensorResult(run_requests=requests)

    return xero_webhook_sensor


def _has_run_in_progress(instance: dg.DagsterInstance, tenant_id: str) -> bool:
    """Whether a run of this tenant is queued, starting or running (one run per tenant at a time)."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            tags={"dagster/partition": tenant_id},
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.CANCELING,
            ],
        ),
        limit=1,
    )
    return bool(runs)


xero_webhook_sensor = build_webhook_sensor()
