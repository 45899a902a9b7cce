"""`xero-assets serve` receives Xero's webhooks beside the Integrations page: the real command as a subprocess, the
sandbox's own signed deliveries and intent-to-receive probes over loopback, events read back from the database.

The webhook route is outside the admin login and CSRF (Xero has neither) and answers without cookies; every page
stays behind them."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.webhook_events import WebhookEventStore
from xero_assets.web.security import SESSION_COOKIE
from xero_assets.webhooks.receiver import WEBHOOK_PATH
from xero_assets.webhooks.signature import SIGNATURE_HEADER, WEBHOOK_KEY_ENV, signature_of
from xero_assets.xero.config import XeroAppConfig
from xero_assets_tests.sync.conftest import fast_config
from xero_assets_tests.web.conftest import ADMIN_PASSWORD

CLI = Path(sys.executable).with_name("xero-assets")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Served:
    sandbox: SandboxHandle
    url: str
    key: str
    events: WebhookEventStore
    tenant_id: str


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    secret = Fernet.generate_key().decode()
    key = base64.b64encode(secrets.token_bytes(66)).decode()  # shaped like the key Xero's portal shows
    port = _free_port()
    with running_sandbox(fast_config(tenants=1, size="small")) as sandbox:
        config = XeroAppConfig.from_env(sandbox_connect.sandbox_env(sandbox.info, database_url, secret))
        store = sandbox_connect.open_token_store(config, database_url, secret)
        [connection] = sandbox_connect.consent(store)  # the sandbox sends events only for connected organisations
        store.close()
        env = {
            **os.environ,
            **sandbox_connect.sandbox_env(sandbox.info, database_url, secret),
            "XERO_ASSETS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "XERO_ASSETS_DAGSTER_URL": "http://127.0.0.1:9",
            WEBHOOK_KEY_ENV: key,
        }
        log = (tmp_path / "serve.log").open("w")
        server = subprocess.Popen(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        engine = make_engine(database_url)
        try:
            _wait_for(lambda: server.poll() is not None or _answers(f"{url}/login"), "xero-assets serve")
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            yield Served(sandbox, url, key, WebhookEventStore(engine), connection.tenant_id)
        finally:
            server.terminate()
            server.wait(30)
            log.close()
            engine.dispose()
    output = (tmp_path / "serve.log").read_text()
    assert f"Xero's webhooks at {url}{WEBHOOK_PATH}" in output
    assert key not in output  # the key is never printed or logged


def test_serve_receives_signed_webhooks_outside_the_login_and_refuses_forged_ones(served: Served) -> None:
    control = httpx.Client(base_url=served.sandbox.base_url, timeout=30)
    hook_url = f"{served.url}{WEBHOOK_PATH}"
    hook = control.post("/_sandbox/webhooks", json={"url": hook_url, "key": served.key, "retry_base_s": 0.1}).json()

    # Xero's intent to receive: rightly signed empty deliveries get 200, wrongly signed ones 401.
    intent = control.post(f"/_sandbox/webhooks/{hook['id']}/intent").json()
    assert intent["passed"] is True, intent
    assert {p["status"] for p in intent["probes"] if p["correctly_signed"]} == {200}
    assert {p["status"] for p in intent["probes"] if not p["correctly_signed"]} == {401}

    # A badly signed delivery (even with a session cookie, as a browser might send): 401, no cookie, nothing stored.
    body = json.dumps({"events": [_event(served.tenant_id)], "firstEventSequence": 1, "lastEventSequence": 1,
                       "entropy": "F"}).encode()  # fmt: skip
    forged = httpx.post(hook_url, content=body, headers={SIGNATURE_HEADER: signature_of("not the key", body)},
                        cookies={SESSION_COOKIE: "stale"})  # fmt: skip
    assert (forged.status_code, forged.content, forged.headers.get("set-cookie")) == (401, b"", None)
    assert httpx.post(hook_url, content=body).status_code == 401  # no signature at all
    assert served.events.counts() == {}

    # An invoice changes at Xero: its signed delivery reaches serve, which stores the event before answering 200.
    changed = control.post("/_sandbox/mutate", json={"tenant_id": served.tenant_id, "action": "edit",
                                                     "api": "invoices"}).json()["changes"]  # fmt: skip
    _wait_for(lambda: served.events.counts() == {"pending": 1}, "the invoice's event to be stored")
    [event] = served.events.pending()
    assert (event.tenant_id, event.category, event.resource_id) == (served.tenant_id, "INVOICE", changed[0]["id"])
    signed = httpx.post(hook_url, content=body, headers={SIGNATURE_HEADER: signature_of(served.key, body)})
    assert (signed.status_code, signed.content, signed.headers.get("set-cookie")) == (200, b"", None)
    assert served.events.counts() == {"pending": 2}
    stats = control.get("/_sandbox/stats").json()["webhooks"][served.sandbox.info["client_id"]]
    assert stats["pending_events"] == 0

    # Everything else is still behind the admin login and CSRF.
    page = httpx.get(f"{served.url}/integrations")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    refused = httpx.post(f"{served.url}/organisations/{served.tenant_id}/sync", data={"api": "invoices"})
    assert refused.status_code == 403
    control.close()


def _event(tenant: str) -> dict[str, str]:
    return {
        "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/00000000-0000-0000-0000-000000000001",
        "resourceId": "00000000-0000-0000-0000-000000000001",
        "eventDateUtc": "2030-01-01T00:00:00.000",
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
    }
