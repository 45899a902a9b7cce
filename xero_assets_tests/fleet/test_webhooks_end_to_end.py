"""Done-when: the sandbox's webhooks drive the receiver and the sensor: a changed invoice reaches the warehouse and
the dashboard datasets built from invoices (the contact's AR ageing, the overdue list) without any manual sync, by a
run that read only that tenant's invoices from Xero, none of whose checks fails (the one comparing the ageing with
the ledger says it was not compared, and why: the journals were read before the invoice changed); a badly signed
delivery gets 401 and starts nothing; the handshake passes; a receiver that was down catches up from Xero's retries
with nothing missed or doubled; a replayed, late or unknown tenant's event starts nothing.

Everything is real: the sandbox over HTTP sends Xero's signed deliveries to the receiver served by uvicorn, events
land in SQLite, the sensor is evaluated on Dagster's ephemeral instance and its run requests are materialized there.
About 20 s, most of it two small organisations' full first syncs: the datasets a webhook run rebuilds read journals,
accounts and reports too, so the tenants start as a real first sync leaves them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from xero_assets.datasets.money import money
from xero_assets.definitions import defs
from xero_assets.defs.dashboards import dataset_key, datasets_reading
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.defs.webhook_sensor import build_webhook_sensor
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store.webhook_events import WebhookEventStore
from xero_assets.webhooks.receiver import WEBHOOK_PATH, webhook_app
from xero_assets.webhooks.signature import SIGNATURE_HEADER, signature_of
from xero_assets_tests.fleet.receiver_server import ReceiverServer
from xero_assets_tests.sync.conftest import Synced, assert_matches_truth, connect, fast_config
from xero_assets_tests.sync.test_assets import resources_for

SENSOR = build_webhook_sensor(name="webhook_sensor_under_test", debounce_seconds=0.0)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class World:
    """The sandbox with two connected tenants, the warehouse, the receiver and an ephemeral Dagster instance."""

    def __init__(self, handle: SandboxHandle, synced: Synced) -> None:
        self.handle, self.synced = handle, synced
        self.http = httpx.Client(base_url=handle.base_url, timeout=30)
        self.events = WebhookEventStore(synced.warehouse.engine)
        self.key = ""
        self.hook_id = ""
        self.receiver: ReceiverServer | None = None
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, list(synced.connections))
        self.resources = resources_for(synced)
        self.last_result: dg.ExecuteInProcessResult | None = None

    @property
    def url(self) -> str:
        assert self.receiver is not None
        return f"http://127.0.0.1:{self.receiver.port}{WEBHOOK_PATH}"

    def start_receiver(self) -> None:
        if self.receiver is None:
            self.receiver = ReceiverServer(webhook_app(self.events, self.key))
        self.receiver.start()

    def hook_stats(self) -> dict[str, Any]:
        return self.http.get("/_sandbox/stats").json()["webhooks"][self.handle.info["client_id"]]

    def mutate(self, tenant: str, **spec: Any) -> list[dict[str, Any]]:
        response = self.http.post("/_sandbox/mutate", json={"tenant_id": tenant, **spec})
        response.raise_for_status()
        return response.json()["changes"]

    def tick(self) -> dg.SensorResult | dg.SkipReason:
        """One tick as the daemon evaluates it: its run requests checked against the sensor's asset selection and
        resolved onto the asset job, as they would be launched."""
        with (
            dg.partition_loading_context(dynamic_partitions_store=self.instance),  # the daemon sets it up so
            dg.build_sensor_context(instance=self.instance, resources=self.resources, definitions=defs) as context,
        ):
            tick = SENSOR.evaluate_tick(context)
        if not tick.run_requests:
            return dg.SkipReason(tick.skip_message)
        return dg.SensorResult(run_requests=tick.run_requests)

    def run(self, request: dg.RunRequest) -> dict[str, Any]:
        """Materialize a requested run as the daemon would (its assets and exactly its checks); returns the sandbox's
        data calls it made."""
        self.http.delete("/_sandbox/stats").raise_for_status()
        self.last_result = self.materialize(request.partition_key, request.asset_selection, request.asset_check_keys,
                                            request.tags)  # fmt: skip
        return self.http.get("/_sandbox/stats").json()

    def materialize(
        self, tenant: str | None, assets: Any, checks: Any = (), tags: Any = None
    ) -> dg.ExecuteInProcessResult:
        selection = dg.AssetSelection.assets(*assets).without_checks() | dg.AssetSelection.checks(*(checks or ()))
        result = dg.materialize(
            list(defs.assets or []), selection=selection, partition_key=tenant, instance=self.instance,
            resources=self.resources, tags=tags,
        )  # fmt: skip
        assert result.success
        return result

    def failed_checks(self) -> dict[str, str | None]:
        """{dataset.check: description} of the checks the last run failed."""
        assert self.last_result is not None
        evaluations = self.last_result.get_asset_check_evaluations()
        return {f"{e.asset_key.path[-1]}.{e.check_name}": e.description for e in evaluations if not e.passed}

    def xero_invoice(self, tenant: str, invoice_id: str) -> list[dict[str, Any]]:
        """The invoice as Xero answers it now (read outside any run's call count)."""
        return self.synced.tenant(tenant).get_json(f"/api.xro/2.0/Invoices/{invoice_id}")["Invoices"]

    def row(self, sql: str, **params: Any) -> Any:
        with self.synced.warehouse.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).one()

    def post(self, payload: dict[str, Any], signature: str | None = None) -> httpx.Response:
        body = json.dumps(payload).encode()
        signed = signature_of(self.key, body) if signature is None else signature
        return httpx.post(self.url, content=body, headers={SIGNATURE_HEADER: signed})


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    with running_sandbox(fast_config(tenants=2, size="small", seed=11)) as handle:
        synced = connect(handle, sqlite_url)
        for tenant in synced.connections:  # the tenants' first syncs: every API has its cursor and its records
            synced.sync(tenant)
        world = World(handle, synced)
        world.key = base64.b64encode(secrets.token_bytes(66)).decode()  # shaped like the key Xero's portal shows
        world.start_receiver()
        hook = world.http.post(
            "/_sandbox/webhooks", json={"url": world.url, "key": world.key, "retry_base_s": 0.1, "retry_max_s": 0.4}
        ).json()
        world.hook_id = hook["id"]
        try:
            yield world
        finally:
            if world.receiver is not None:
                world.receiver.stop()
            world.http.close()
            synced.close()


def test_webhooks_sync_only_what_changed_and_a_receiver_that_was_down_catches_up(world: World) -> None:
    a, b = sorted(world.synced.connections)
    # The handshake: Xero's rightly and wrongly signed empty deliveries get 200 and 401.
    intent = world.http.post(f"/_sandbox/webhooks/{world.hook_id}/intent").json()
    assert intent["passed"] is True
    assert [p["status"] for p in intent["probes"]] == [200 if p["correctly_signed"] else 401 for p in intent["probes"]]

    # A badly signed delivery: 401, nothing stored, nothing started.
    forged = {"events": [_event(a, "INVOICE", "00000000-0000-0000-0000-000000000001")], "firstEventSequence": 1,
              "lastEventSequence": 1, "entropy": "X"}  # fmt: skip
    assert world.post(forged, signature="c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ==").status_code == 401
    assert world.post(forged, signature="").status_code == 401
    assert world.events.counts() == {}
    assert isinstance(world.tick(), dg.SkipReason)

    # Tenant a's dashboards as they were before: one overdue invoice in the base currency (the ageing's), and its
    # contact's AR ageing.
    invoice_datasets = [dataset_key(name) for name in datasets_reading(["invoices"])]
    world.materialize(a, invoice_datasets)
    overdue = world.row("SELECT invoice_id, contact_id, amount_due FROM ds_overdue_invoices WHERE tenant_id = :t "
                        "AND currency = base_currency ORDER BY invoice_id LIMIT 1", t=a)  # fmt: skip
    ageing_before = money(world.row(AGEING, t=a, c=overdue.contact_id).total_due)  # SQLite answers NUMERIC as float

    # That invoice changes in Xero (a quantity grows): the webhook arrives, the sensor starts one run of tenant a's
    # invoices and of the datasets built from invoices, with their checks.
    world.mutate(a, action="edit", api="invoices", id=overdue.invoice_id)
    _wait_for(lambda: world.events.counts().get("pending") == 1, "the invoice's event")
    result = world.tick()
    assert isinstance(result, dg.SensorResult) and len(result.run_requests) == 1
    [request] = result.run_requests
    assert request.partition_key == a
    assert request.asset_selection == [dg.AssetKey(["xero", "invoices"]), *invoice_datasets]
    assert {dataset_key("ar_ageing"), dataset_key("overdue_invoices")} <= set(invoice_datasets)
    assert dataset_key("kpis") not in invoice_datasets  # built from journals and reports, which did not change
    assert request.tags["dagster/priority"] == "5"
    assert request.tags["xero/organisation"] == world.synced.connections[a].tenant_name
    stats = world.run(request)
    assert set(stats["by_tenant"]) == {a}, stats["by_tenant"]
    assert set(stats["by_api"]) == {"invoices"}, stats["by_api"]  # the datasets read nothing else from Xero
    assert stats["by_api"]["invoices"] == 1  # read incrementally: one page of what changed
    assert_matches_truth(world.synced, a, ["invoices"])
    assert world.last_result is not None
    built = {e.asset_key for e in world.last_result.get_asset_materialization_events()}
    assert built == {dg.AssetKey(["xero", "invoices"]), *invoice_datasets}
    evaluations = {f"{e.asset_key.path[-1]}.{e.check_name}": e for e in world.last_result.get_asset_check_evaluations()}
    assert (
        {(e.asset_key, e.check_name) for e in evaluations.values()}
        == {(k.asset_key, k.name) for k in request.asset_check_keys or []}
        != set()
    )
    # No check of the run fails: the ledger was not read, so the ageing is not compared with its control account
    # (the invoices are newer than the journals), and the check says so rather than reporting a false difference.
    assert world.failed_checks() == {}
    control = evaluations["ar_ageing.equals_receivables_control_account"]
    assert control.metadata["compared"] == dg.MetadataValue.bool(False)
    assert control.description is not None
    assert control.description.startswith("not compared: the ledger was last read at "), control.description
    assert ", invoices at " in control.description and control.description.endswith("compared at the next full sync")

    # The change reached the datasets: the invoice's new amount due (as Xero now answers it) is on the overdue list,
    # and its contact's AR ageing grew by exactly what the invoice grew.
    [now_due] = [i["AmountDue"] for i in world.xero_invoice(a, overdue.invoice_id)]
    grown = money(now_due) - money(overdue.amount_due)
    assert grown > 0
    assert money(world.row("SELECT amount_due FROM ds_overdue_invoices WHERE tenant_id = :t AND invoice_id = :i",
                           t=a, i=overdue.invoice_id).amount_due) == money(now_due)  # fmt: skip
    assert money(world.row(AGEING, t=a, c=overdue.contact_id).total_due) == ageing_before + grown
    assert isinstance(world.tick(), dg.SkipReason)  # its events are claimed: nothing runs twice

    # The receiver goes down; Xero's deliveries fail and are retried until it is back.
    assert world.receiver is not None
    world.receiver.stop()
    expected = [c["id"] for c in world.mutate(a, action="edit", api="invoices", count=2)]
    expected += [c["id"] for c in world.mutate(b, action="create", api="contacts")]
    _wait_for(lambda: world.hook_stats()["failed_attempts"] >= 2, "failed deliveries while the receiver is down")
    world.start_receiver()
    _wait_for(lambda: world.hook_stats()["pending_events"] == 0, "Xero's retries to get through")
    assert world.events.counts() == {"claimed": 1, "pending": len(expected)}  # each event once
    result = world.tick()
    assert isinstance(result, dg.SensorResult)
    by_tenant = {r.partition_key: r for r in result.run_requests}
    assert set(by_tenant) == {a, b}
    assert by_tenant[a].asset_selection == [dg.AssetKey(["xero", "invoices"]), *invoice_datasets]
    assert by_tenant[b].asset_selection[0] == dg.AssetKey(["xero", "contacts"])
    for request in result.run_requests:
        stats = world.run(request)
        assert set(stats["by_tenant"]) == {request.partition_key}
        assert len(stats["by_api"]) == 1, stats["by_api"]
        assert world.failed_checks() == {}
    assert_matches_truth(world.synced, a, ["invoices"])
    assert_matches_truth(world.synced, b, ["contacts"])

    # A replayed batch, a late (out-of-order) event and an unknown tenant's event start nothing.
    stored = world.events.counts()
    old = _event(a, "INVOICE", expected[0], date="2020-01-01T00:00:00.000")
    replay = {"events": [old, _event(a, "INVOICE", expected[0], date="2020-01-01T00:00:00.000")],
              "firstEventSequence": 9, "lastEventSequence": 10, "entropy": "R"}  # fmt: skip
    assert world.post(replay).status_code == 200
    assert world.post(replay).status_code == 200  # delivered again: stored once
    unknown = {"events": [_event("not-a-tenant-of-ours", "INVOICE", expected[0])], "firstEventSequence": 11,
               "lastEventSequence": 11, "entropy": "U"}  # fmt: skip
    assert world.post(unknown).status_code == 200
    assert isinstance(world.tick(), dg.SkipReason)
    settled = world.events.counts()
    assert settled == {**stored, "already_synced": 1, "dropped": 1}


AGEING = "SELECT total_due FROM ds_ar_ageing WHERE tenant_id = :t AND contact_id = :c"


def _event(tenant: str, category: str, resource_id: str, date: str = "2030-01-01T00:00:00.000") -> dict[str, str]:
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource_id}",
        "resourceId": resource_id,
        "eventDateUtc": date,
        "eventType": "UPDATE",
        "eventCategory": category,
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
    }
