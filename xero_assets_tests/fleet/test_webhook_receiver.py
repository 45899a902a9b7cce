"""The receiver's answers as Xero's docs require them, the event store's de-duplication on both databases, and the
sensor's per-tenant decision (debounce, one run at a time, already-synced events)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from xero_assets.defs.webhook_sensor import plan_tenant
from xero_assets.store.db import make_engine
from xero_assets.store.webhook_events import CLAIMED, StoredEvent, WebhookEventStore
from xero_assets.webhooks.receiver import WEBHOOK_PATH, webhook_app
from xero_assets.webhooks.signature import SIGNATURE_HEADER, is_signed_by, signature_of

KEY = "fQ2ZyG1n2dHdLx6B0z3VxN4dY8s6QeJmYwqL5Y0l7d3A3cTg9b0UuFQwJ2Y8GvHk0m1Yx9kS4Tq6R8eW2zPpCg=="


def _event(resource_id: str = "inv-1", tenant: str = "t-1", **overrides: str) -> dict[str, str]:
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource_id}",
        "resourceId": resource_id,
        "eventDateUtc": "2026-11-30T10:15:39.902",
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
        **overrides,
    }


def _delivery(events: list[dict[str, str]]) -> bytes:
    return json.dumps({"events": events, "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "E"}).encode()


@pytest.fixture
def receiver(database_url: str) -> tuple[TestClient, WebhookEventStore]:
    store = WebhookEventStore(make_engine(database_url))
    return TestClient(webhook_app(store, KEY)), store


def _post(client: TestClient, body: bytes, signature: str | None = None) -> tuple[int, bytes, str | None]:
    answer = client.post(
        WEBHOOK_PATH,
        content=body,
        headers={SIGNATURE_HEADER: signature_of(KEY, body) if signature is None else signature},
    )
    return answer.status_code, answer.content, answer.headers.get("set-cookie")


def test_the_signature_covers_exactly_the_raw_bytes() -> None:
    body = _delivery([_event()])
    assert is_signed_by(KEY, body, signature_of(KEY, body))
    assert not is_signed_by(KEY, body.replace(b"inv-1", b"inv-2"), signature_of(KEY, body))
    respaced = json.dumps(json.loads(body), indent=1).encode()  # the same JSON, re-serialised: not what was signed
    assert not is_signed_by(KEY, respaced, signature_of(KEY, body))
    assert not is_signed_by(KEY, body, None) and not is_signed_by("", body, signature_of("", body))


def test_intent_to_receive_gets_200_when_signed_and_401_when_not(
    receiver: tuple[TestClient, WebhookEventStore],
) -> None:
    client, store = receiver
    probe = _delivery([])
    assert _post(client, probe) == (200, b"", None)  # empty body, no cookies
    assert _post(client, probe, signature_of("another key", probe)) == (401, b"", None)
    assert _post(client, probe, "") == (401, b"", None)
    assert store.counts() == {}


def test_events_are_stored_once_however_often_they_are_delivered(
    receiver: tuple[TestClient, WebhookEventStore],
) -> None:
    client, store = receiver
    body = _delivery([_event("inv-1"), _event("inv-1"), _event("inv-2")])
    assert _post(client, body)[0] == 200
    assert _post(client, body)[0] == 200  # Xero retried (our 200 was lost)
    assert store.counts() == {"pending": 2}
    [first, second] = store.pending()
    assert store.settle([first.id], CLAIMED, "run-1") == 1
    assert store.settle([first.id, second.id], CLAIMED, "run-2") == 1  # only what is still pending moves


def test_a_signed_but_malformed_delivery_gets_400_and_stores_nothing_of_it(
    receiver: tuple[TestClient, WebhookEventStore],
) -> None:
    client, store = receiver
    assert _post(client, b"not json")[0] == 400
    broken = _delivery([_event("inv-1"), {k: v for k, v in _event("inv-2").items() if k != "tenantId"}])
    assert _post(client, broken)[0] == 400
    assert _post(client, _delivery([_event(eventDateUtc="yesterday")]))[0] == 400
    assert store.counts() == {}


def _stored(event_id: int, received: datetime, category: str = "INVOICE", date: datetime | None = None) -> StoredEvent:
    return StoredEvent(event_id, "t-1", category, "UPDATE", f"r-{event_id}", date or received, received)


def test_a_tenants_events_wait_for_quiet_then_run_the_changed_apis_once() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0)
    burst = [_stored(1, now - timedelta(seconds=30)), _stored(2, now - timedelta(seconds=3), "CONTACT")]
    plan = plan_tenant("t-1", burst, {}, now, busy=False, debounce_seconds=10, max_wait_seconds=120)
    assert plan.waiting == [1, 2] and plan.run_events == []  # still changing: wait for quiet
    later = now + timedelta(seconds=10)
    plan = plan_tenant("t-1", burst, {}, later, busy=False, debounce_seconds=10, max_wait_seconds=120)
    assert plan.run_apis == ["contacts", "invoices"] and plan.run_events == [1, 2]
    plan = plan_tenant("t-1", burst, {}, later, busy=True, debounce_seconds=10, max_wait_seconds=120)
    assert plan.run_events == [] and plan.waiting == [1, 2]  # a run of the tenant is in progress: next tick
    overdue = now + timedelta(seconds=91)
    ongoing = [*burst, _stored(3, overdue)]
    plan = plan_tenant("t-1", ongoing, {}, overdue, busy=False, debounce_seconds=10, max_wait_seconds=120)
    assert plan.run_events == [1, 2, 3]  # never quiet, but the oldest has waited long enough


def test_events_older_than_the_warehouse_start_nothing() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0)
    cursor = now - timedelta(minutes=5)
    events = [
        _stored(1, now - timedelta(minutes=1), date=cursor - timedelta(minutes=1)),
        _stored(2, now - timedelta(minutes=1)),
    ]
    plan = plan_tenant("t-1", events, {"invoices": cursor}, now, busy=False, debounce_seconds=10, max_wait_seconds=120)
    assert plan.already_synced == [1] and plan.run_events == [2]
