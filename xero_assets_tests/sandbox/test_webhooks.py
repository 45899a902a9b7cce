"""Webhooks as Xero sends them, to a real receiver over loopback: signatures, intent to receive, one event per changed
record, batching with contiguous sequences, retries while the receiver is down, and per-app stats."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
from xero_assets.sandbox.webhooks import SIGNATURE_HEADER, new_key, sign, verify
from xero_assets_tests.sandbox.helpers import BROAD, advance, consent


class Receiver:
    """An app's webhook endpoint as Xero's docs ask for one: 401 on a bad signature, 200 otherwise; `down` makes it
    answer 503 to that many deliveries first; `naive` accepts everything (the receiver that fails the handshake)."""

    def __init__(self) -> None:
        self.key = ""
        self.down = 0
        self.naive = False
        self.deliveries: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(receiver.answer(body, self.headers.get(SIGNATURE_HEADER)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xero/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: bytes, signature: str | None) -> int:
        with self.lock:
            if not self.naive and not verify(self.key, body, signature):
                return 401
            payload = json.loads(body)
            if not payload["events"]:
                return 200  # an intent-to-receive probe
            if self.down > 0:
                self.down -= 1
                self.refused += 1
                return 503
            self.deliveries.append(payload)
            return 200

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for delivery in self.deliveries for event in delivery["events"]]


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[SandboxHandle, httpx.Client, str, str]]:
    """Two organisations; the default app is connected to the first only."""
    with (
        running_sandbox(SandboxConfig(tenants=2, size="small", rate_limits="off")) as sb,
        httpx.Client(timeout=30) as http,
    ):
        connected, other = list(sb.app_state.world.tenants)
        consent(http, sb, BROAD, tenant_ids=[connected])
        yield sb, http, connected, other


@pytest.fixture
def receiver(world) -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    sb, http, _, _ = world
    for hook in http.get(f"{sb.base_url}/_sandbox/webhooks").json()["webhooks"]:
        http.delete(f"{sb.base_url}/_sandbox/webhooks/{hook['id']}")


def _register(http: httpx.Client, sb: SandboxHandle, receiver: Receiver, intent: bool = False) -> dict[str, Any]:
    """Register the receiver. With `intent`, the key is chosen first (the receiver must know it before the probes
    come, as when an app copies Xero's key into its config before pressing "Send intent to receive")."""
    body: dict[str, Any] = {"url": receiver.url, "retry_base_s": 0.02}
    if intent:
        receiver.key = body["key"] = new_key()
        body["intent"] = True
    response = http.post(f"{sb.base_url}/_sandbox/webhooks", json=body)
    assert response.status_code == 201, response.text
    hook = response.json()
    receiver.key = hook["key"]
    return hook


def _mutate(http: httpx.Client, sb: SandboxHandle, tenant: str, **spec: Any) -> dict[str, Any]:
    response = http.post(f"{sb.base_url}/_sandbox/mutate", json={"tenant_id": tenant, **spec})
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for webhook deliveries"
        time.sleep(0.02)


def test_a_signature_verifies_with_its_key_and_fails_with_another_or_another_body():
    key, body = new_key(), b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"ABC"}'
    signature = sign(key, body)
    assert verify(key, body, signature)
    assert not verify(new_key(), body, signature)
    assert not verify(key, body.replace(b"ABC", b"ABD"), signature)
    assert not verify(key, body, None)


def test_intent_to_receive_passes_only_a_receiver_that_rejects_bad_signatures(world, receiver):
    sb, http, _, _ = world
    receiver.naive = True  # answers 200 to everything, so the incorrectly signed probes are not refused
    hook = _register(http, sb, receiver)
    assert hook["status"] == "INTENT_TO_RECEIVE_REQUIRED"
    failed = http.post(f"{sb.base_url}/_sandbox/webhooks/{hook['id']}/intent").json()
    assert failed["passed"] is False and failed["status"] == "INTENT_TO_RECEIVE_REQUIRED"
    assert {p["status"] for p in failed["probes"] if not p["correctly_signed"]} == {200}

    receiver.naive = False
    passed = http.post(f"{sb.base_url}/_sandbox/webhooks/{hook['id']}/intent").json()
    assert passed["passed"] is True and passed["status"] == "OK"
    assert [(p["correctly_signed"], p["status"]) for p in passed["probes"]] == [
        (True, 200),
        (False, 401),
        (True, 200),
        (False, 401),
    ]


def test_nothing_is_delivered_before_intent_to_receive_passes(world, receiver):
    sb, http, connected, _ = world
    hook = _register(http, sb, receiver)
    _mutate(http, sb, connected, action="create", api="contacts")
    time.sleep(0.2)
    assert receiver.deliveries == []
    assert http.get(f"{sb.base_url}/_sandbox/stats").json()["webhooks"][hook["client_id"]]["pending_events"] == 1


def test_every_mutation_is_one_event_per_changed_record_delivered_after_the_receiver_comes_back(world, receiver):
    sb, http, connected, other = world
    hook = _register(http, sb, receiver, intent=True)
    assert hook["status"] == "OK"
    receiver.down = 3  # the receiver is down for the first three deliveries
    specs = [
        {"action": "create", "api": "invoices", "count": 2},
        {"action": "edit", "api": "invoices"},
        {"action": "void", "api": "invoices"},
        {"action": "create", "api": "payments"},  # the paid invoice changes; the payment itself has no webhook
        {"action": "create", "api": "credit_notes"},
        {"action": "create", "api": "contacts"},
        {"action": "edit", "api": "contacts"},
        {"action": "edit_quiet", "api": "contacts"},  # not bumped, but changed: Xero still announces it
        {"action": "create", "api": "bank_transactions"},  # no webhook category
    ]
    expected = []
    for spec in specs:
        for change in _mutate(http, sb, connected, **spec)["changes"]:
            if change["api"] in ("invoices", "contacts", "credit_notes"):
                expected.append((change["id"], "CREATE" if change["created"] else "UPDATE"))
    _mutate(http, sb, other, action="create", api="invoices")  # not connected to the app: no event
    _wait_for(lambda: len(receiver.events()) >= len(expected))
    time.sleep(0.1)

    events = receiver.events()
    assert [(e["resourceId"], e["eventType"]) for e in events] == expected
    assert {e["tenantId"] for e in events} == {connected}
    assert {e["tenantType"] for e in events} == {"ORGANISATION"}
    categories = {e["eventCategory"] for e in events}
    assert categories == {"INVOICE", "CONTACT", "CREDITNOTE"}
    for event in events:
        path = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}[event["eventCategory"]]
        assert event["resourceUrl"] == f"{sb.base_url}/api.xro/2.0/{path}/{event['resourceId']}"
    # Sequences run 1..n without gaps or repeats across deliveries, and a retry carries the same events.
    sequences = [(d["firstEventSequence"], d["lastEventSequence"]) for d in receiver.deliveries]
    assert sequences[0][0] == 1 and sequences[-1][1] == len(expected)
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(sequences))
    sizes = [len(d["events"]) for d in receiver.deliveries]
    assert [last - first + 1 for first, last in sequences] == sizes
    assert len(receiver.deliveries) < len(specs)  # what queued while the receiver was down came batched
    assert all(d["entropy"] for d in receiver.deliveries)

    counted = http.get(f"{sb.base_url}/_sandbox/stats").json()["webhooks"][hook["client_id"]]
    assert receiver.refused == 3
    assert counted["failed_attempts"] == 3
    assert counted["events"] == counted["events_delivered"] == len(expected)
    assert counted["deliveries"] == len(receiver.deliveries)
    assert counted["pending_events"] == 0


def test_a_day_of_failures_disables_the_webhook_until_intent_to_receive_passes_again(world, receiver):
    sb, http, connected, _ = world
    hook = _register(http, sb, receiver, intent=True)
    receiver.down = 10**6
    _mutate(http, sb, connected, action="edit", api="contacts")
    _wait_for(lambda: receiver.refused >= 1)
    advance(http, sb, 25 * 3600)
    _wait_for(lambda: http.get(f"{sb.base_url}/_sandbox/webhooks").json()["webhooks"][0]["status"] == "DISABLED")
    receiver.down = 0
    assert http.post(f"{sb.base_url}/_sandbox/webhooks/{hook['id']}/intent").json()["status"] == "OK"
    _wait_for(lambda: len(receiver.events()) == 1)


def test_registering_needs_a_url_and_a_known_app(world):
    sb, http, _, _ = world
    assert http.post(f"{sb.base_url}/_sandbox/webhooks", json={}).status_code == 400
    assert http.post(f"{sb.base_url}/_sandbox/webhooks", json={"url": "ftp://x"}).status_code == 400
    unknown = http.post(f"{sb.base_url}/_sandbox/webhooks", json={"url": "http://127.0.0.1:1/", "client_id": "NOPE"})
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["error"]
