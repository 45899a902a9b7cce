"""Done-when: no access or refresh token appears in plain text in the database file, the logs or any raised error.

Every token the sandbox hands out is captured off the wire; then the test drives the paths that log and raise
(consent, data calls, an expired token refreshed, a missing scope, outages, a truncated body, a removed connection,
a revoked consent) with every logger at DEBUG, httpx and httpcore included, and looks for each token everywhere.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.client import XeroClient
from xero_assets.xero.errors import XeroError
from xero_assets.xero.oauth import XeroOAuth
from xero_assets_tests.connection.conftest import SANDBOX_LIMITS, Sandbox


class TokenCatcher(httpx.HTTPTransport):
    """Remembers every token the identity service answers with."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == "/connect/token":
            response.read()
            body = json.loads(response.content)
            with self._lock:
                self.tokens.update(body[k] for k in ("access_token", "refresh_token", "id_token") if k in body)
        return response


def test_tokens_never_appear_in_the_database_the_logs_or_errors(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    catcher = TokenCatcher()
    oauth = XeroOAuth(sandbox.app_config(("offline_access", "accounting.settings.read")), transport=catcher)
    store = TokenStore(make_engine(f"sqlite:///{tmp_path / 'secrets.db'}"), Fernet(Fernet.generate_key()), oauth)
    tenant = sandbox.tenant("GB")
    sandbox.connect(store, [tenant])
    errors: list[BaseException] = []

    def expect_error(call: object) -> None:
        with pytest.raises(XeroError) as raised:
            call()  # type: ignore[operator]
        errors.append(raised.value)

    with XeroClient(sandbox.base_url, store, limits=SANDBOX_LIMITS, max_retries=1, backoff_base=0.01) as xero:
        client = xero.for_tenant(tenant)
        assert client.get_json("/api.xro/2.0/Organisation")["Organisations"]
        sandbox.advance_clock(1801)  # the access token expires: 401, refresh, retry
        assert client.get_json("/api.xro/2.0/Accounts")["Accounts"]
        expect_error(lambda: client.get_json("/api.xro/2.0/Invoices", {"page": "1"}))  # scope not granted
        sandbox.add_fault(kind="503", count=2, tenant=tenant, path="/Users$")
        expect_error(lambda: client.get_json("/api.xro/2.0/Users"))  # unavailable after retries
        sandbox.add_fault(kind="truncate", mode="json", count=2, tenant=tenant, path="/Currencies$")
        expect_error(lambda: client.get_json("/api.xro/2.0/Currencies"))  # a cut-off body
        sandbox.clear_faults()
        expect_error(lambda: store.oauth.exchange_code("not-a-code", "v" * 43))  # identity refuses a code
        connection = store.get_connection(tenant)
        assert connection is not None
        assert store.oauth.delete_connection(store.access_token(tenant), connection.connection_id)
        expect_error(lambda: client.get_json("/api.xro/2.0/Accounts"))  # 403: removed in Xero behind our back
        store.oauth.revoke(store.refresh_token_of(connection.token_id))  # type: ignore[arg-type]
        sandbox.advance_clock(1801)
        expect_error(lambda: client.get_json("/api.xro/2.0/Accounts"))  # refresh refused: re-authorize
    store.close()

    kinds = sorted(type(e).__name__ for e in errors)
    assert kinds == sorted(
        [
            "ScopeNotGranted",
            "XeroUnavailable",
            "BadResponse",
            "InvalidGrant",
            "TenantNotConnected",
            "ReauthorizationRequired",
        ]
    )
    assert len(catcher.tokens) >= 4  # two access and two refresh tokens at least: the consent and one refresh
    assert "HTTP Request" in caplog.text and any(r.name.startswith("httpcore") for r in caplog.records)

    places = {
        "logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "errors": "\n".join(repr(e) + "".join(traceback.format_exception(e)) for e in errors),
    }
    for path in tmp_path.iterdir():  # the database file and its WAL/SHM companions
        places[path.name] = path.read_bytes().decode("latin-1")
    assert "secrets.db" in places
    leaks = {where: sum(token in text for token in catcher.tokens) for where, text in places.items()}
    assert leaks == dict.fromkeys(places, 0)
