"""Webhooks as Xero sends them: signed, batched event deliveries to each app's registered URL, retried until taken.

What Xero does (https://developer.xero.com/documentation/guides/webhooks/overview/ and
.../webhooks/configuring-your-server/, and the payload schema in Xero's xero-webhooks.yaml OpenAPI spec):

- An app has one webhook URL and a signing key Xero generates. Events are sent for the organisations connected to
  that app, for invoices (`INVOICE`), contacts (`CONTACT`) and credit notes (`CREDITNOTE`), as `CREATE` or `UPDATE`.
- A delivery is one POST of `{"events": [...], "firstEventSequence": n, "lastEventSequence": m, "entropy": "..."}`;
  each event is `{resourceUrl, resourceId, eventDateUtc, eventType, eventCategory, tenantId, tenantType}`. It names
  what changed, never the data: the receiver GETs `resourceUrl` (here on the sandbox's own base URL).
- The body is signed: header `x-xero-signature` = base64(HMAC-SHA256(key, raw body bytes)).
- Only a 200 counts as received. Before any event is sent the URL must pass "intent to receive": Xero POSTs empty
  deliveries, some signed with the key and some not; the URL must answer 200 to each correctly signed one and 401 to
  each incorrectly signed one. Until it does, nothing is delivered.
- A failed delivery is retried with growing intervals (the same events, same sequence numbers) for up to 24 hours of
  the sandbox clock, after which the webhook is disabled until intent to receive is passed again.

Events queue per webhook in sequence order; each delivery takes everything queued (up to `MAX_BATCH`), so events
made while a receiver is down arrive batched once it is back. Retry intervals are real seconds
(`retry_base_s`, doubling up to `retry_max_s`), settable per webhook so tests run them in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from xero_assets.sandbox.clock import Clock

# The catalog APIs Xero sends webhooks for, and each one's eventCategory and resource path.
CATEGORIES: Mapping[str, tuple[str, str]] = {
    "invoices": ("INVOICE", "Invoices"),
    "contacts": ("CONTACT", "Contacts"),
    "credit_notes": ("CREDITNOTE", "CreditNotes"),
}
SIGNATURE_HEADER = "x-xero-signature"
MAX_BATCH = 500
GIVE_UP_AFTER = timedelta(hours=24)
DELIVERY_TIMEOUT_S = 5.0  # Xero waits 5 seconds for the receiver's answer
INTENT_PROBES = (True, False, True, False)  # correctly signed?, in the order they are sent

PENDING = "INTENT_TO_RECEIVE_REQUIRED"
OK = "OK"
DISABLED = "DISABLED"


def sign(key: str, body: bytes) -> str:
    """Xero's x-xero-signature: base64 of HMAC-SHA256 over the raw body bytes, keyed with the webhook key."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify(key: str, body: bytes, signature: str | None) -> bool:
    """What a receiver does with a delivery (constant-time compare)."""
    return signature is not None and hmac.compare_digest(sign(key, body), signature)


def new_key() -> str:
    """A signing key shaped like Xero's (base64 text, 88 characters)."""
    return base64.b64encode(secrets.token_bytes(66)).decode()


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))


def _event_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]  # "2017-06-21T01:15:39.902", as Xero writes it


@dataclass
class Webhook:
    """One app's webhook: where it goes, its key, its queue and what happened to its deliveries."""

    id: str
    client_id: str
    url: str
    key: str
    retry_base_s: float
    retry_max_s: float
    status: str = PENDING
    sequence: int = 0
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    next_attempt: float = 0.0  # time.monotonic() of the next try
    failures_in_row: int = 0
    failing_since: datetime | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("events", "events_delivered", "deliveries", "attempts", "failed_attempts", "intent_checks"), 0
        )
    )
    last_error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "url": self.url,
            "key": self.key,
            "status": self.status,
            "retry_base_s": self.retry_base_s,
            "retry_max_s": self.retry_max_s,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "status": self.status,
            **self.counts,
            "pending_events": len(self.queue) + len(self.in_flight),
            "last_error": self.last_error,
        }


class Webhooks:
    """Every webhook of one sandbox and the one thread that delivers them (started with the first webhook)."""

    def __init__(self, clock: Clock, connected: Callable[[str, str], bool], base_url: Callable[[], str]) -> None:
        self.clock = clock
        self._connected = connected  # (client_id, tenant_id) -> does the app have a connection to the organisation?
        self._base_url = base_url
        self._lock = threading.Condition()
        self._hooks: dict[str, Webhook] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        self._http = httpx.Client(timeout=DELIVERY_TIMEOUT_S, follow_redirects=False)

    # --- registration and intent to receive ------------------------------------------------------------------------
    def register(
        self,
        client_id: str,
        url: str,
        key: str | None = None,
        retry_base_s: float = 5.0,
        retry_max_s: float = 3600.0,
    ) -> Webhook:
        """An app's webhook (an app has one: registering again replaces its URL, key and queue)."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http(s)://...; got {url!r}")
        if retry_base_s <= 0 or retry_max_s < retry_base_s:
            raise ValueError("retry_base_s must be > 0 and retry_max_s >= retry_base_s")
        hook = Webhook(uuid.uuid4().hex, client_id, url, key or new_key(), retry_base_s, retry_max_s)
        with self._lock:
            self._hooks[client_id] = hook
        return hook

    def get(self, webhook_id: str) -> Webhook | None:
        with self._lock:
            return next((h for h in self._hooks.values() if h.id == webhook_id), None)

    def all(self) -> list[Webhook]:
        with self._lock:
            return list(self._hooks.values())

    def remove(self, webhook_id: str) -> bool:
        with self._lock:
            hook = self.get(webhook_id)
            if hook is None:
                return False
            del self._hooks[hook.client_id]
            return True

    def intent_to_receive(self, hook: Webhook) -> dict[str, Any]:
        """Send Xero's probes (blocking: call from a worker thread). Passing turns delivery on; failing keeps it off."""
        probes = []
        for correctly_signed in INTENT_PROBES:
            body = self._body([], 0, 0)
            key = hook.key if correctly_signed else new_key()
            status = self._post(hook, body, sign(key, body))
            probes.append({"correctly_signed": correctly_signed, "status": status})
        passed = all(p["status"] == (200 if p["correctly_signed"] else 401) for p in probes)
        with self._lock:
            hook.counts["intent_checks"] += 1
            hook.status = OK if passed else PENDING
            if passed:
                hook.failures_in_row, hook.failing_since, hook.next_attempt = 0, None, 0.0
                self._start()
                self._lock.notify_all()
        return {"status": hook.status, "passed": passed, "probes": probes}

    # --- events ----------------------------------------------------------------------------------------------------
    def publish(self, tenant_id: str, changes: Iterable[Mapping[str, Any]]) -> int:
        """Queue one event per changed invoice, contact or credit note for every webhook whose app is connected to
        the organisation; returns how many events were queued. `changes` are the books' `{"api", "id", "created"}`."""
        now = self.clock.now()
        relevant = [c for c in changes if c["api"] in CATEGORIES]
        if not relevant:
            return 0
        queued = 0
        with self._lock:
            for hook in self._hooks.values():
                if hook.status == DISABLED or not self._connected(hook.client_id, tenant_id):
                    continue
                for change in relevant:
                    category, path = CATEGORIES[change["api"]]
                    hook.sequence += 1
                    hook.queue.append(
                        {
                            "sequence": hook.sequence,
                            "event": {
                                "resourceUrl": f"{self._base_url()}/api.xro/2.0/{path}/{change['id']}",
                                "resourceId": change["id"],
                                "eventDateUtc": _event_date(now),
                                "eventType": "CREATE" if change.get("created") else "UPDATE",
                                "eventCategory": category,
                                "tenantId": tenant_id,
                                "tenantType": "ORGANISATION",
                            },
                        }
                    )
                    hook.counts["events"] += 1
                    queued += 1
            if queued:
                self._start()
                self._lock.notify_all()
        return queued

    def snapshot(self) -> dict[str, Any]:
        """Per-app delivery stats, for /_sandbox/stats."""
        with self._lock:
            return {hook.client_id: hook.stats() for hook in self._hooks.values()}

    def reset_counts(self) -> None:
        with self._lock:
            for hook in self._hooks.values():
                hook.counts = dict.fromkeys(hook.counts, 0)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=DELIVERY_TIMEOUT_S + 1)
        self._http.close()

    # --- delivery --------------------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="xero-sandbox-webhooks", daemon=True)
            self._thread.start()

    def _due(self) -> tuple[Webhook | None, float]:
        """The next webhook with something to send now, or how long to wait for one."""
        now, wait = time.monotonic(), 3600.0
        for hook in self._hooks.values():
            if hook.status != OK or not (hook.in_flight or hook.queue):
                continue
            if hook.next_attempt <= now:
                return hook, 0.0
            wait = min(wait, hook.next_attempt - now)
        return None, wait

    def _run(self) -> None:
        while True:
            with self._lock:
                hook, wait = self._due()
                while hook is None and not self._closed:
                    self._lock.wait(wait)
                    hook, wait = self._due()
                if self._closed:
                    return
                assert hook is not None
                if not hook.in_flight:
                    hook.in_flight = [hook.queue.popleft() for _ in range(min(MAX_BATCH, len(hook.queue)))]
                batch = list(hook.in_flight)
            body = self._body([e["event"] for e in batch], batch[0]["sequence"], batch[-1]["sequence"])
            status = self._post(hook, body, sign(hook.key, body))
            with self._lock:
                self._settle(hook, batch, status)

    def _settle(self, hook: Webhook, batch: list[dict[str, Any]], status: int | str) -> None:
        hook.counts["attempts"] += 1
        if status == 200:
            hook.in_flight = []
            hook.counts["deliveries"] += 1
            hook.counts["events_delivered"] += len(batch)
            hook.failures_in_row, hook.failing_since, hook.next_attempt = 0, None, 0.0
            return
        hook.counts["failed_attempts"] += 1
        hook.last_error = str(status)
        now = self.clock.now()
        hook.failing_since = hook.failing_since or now
        if now - hook.failing_since >= GIVE_UP_AFTER:
            hook.status = DISABLED  # Xero stops after a day of failures; intent to receive turns it back on
            return
        delay = min(hook.retry_base_s * 2**hook.failures_in_row, hook.retry_max_s)
        hook.failures_in_row += 1
        hook.next_attempt = time.monotonic() + delay

    def _body(self, events: list[dict[str, Any]], first: int, last: int) -> bytes:
        payload = {"events": events, "firstEventSequence": first, "lastEventSequence": last, "entropy": _entropy()}
        return json.dumps(payload, separators=(",", ":")).encode()

    def _post(self, hook: Webhook, body: bytes, signature: str) -> int | str:
        """The receiver's status code, or the kind of failure when it gave none."""
        try:
            response = self._http.post(
                hook.url, content=body, headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature}
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return response.status_code


__all__ = ["CATEGORIES", "SIGNATURE_HEADER", "Webhook", "Webhooks", "sign", "verify"]
