"""Talking to a running sandbox the way a Xero client does: consent, token exchange, API calls."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from xero_assets.catalog import ApiBase, Endpoint
from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.standin import TENANT_IDS

AU, NZ, GB, US = (TENANT_IDS[c] for c in ("AU", "NZ", "GB", "US"))
JSON = "application/json"
BROAD = "offline_access accounting.settings.read accounting.contacts.read accounting.transactions.read"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def consent(http: httpx.Client, sb: SandboxHandle, scope: str, **body: Any) -> dict[str, Any]:
    """POST /_sandbox/consent for the default web app (override client_id etc. in `body`)."""
    payload = {"client_id": sb.app_state.web_app.client_id, "scope": scope, "state": "xyz", **body}
    response = http.post(f"{sb.base_url}/_sandbox/consent", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def token_request(
    http: httpx.Client, sb: SandboxHandle, data: dict[str, str], client_id: str | None = None, secret: str | None = None
) -> httpx.Response:
    """POST /connect/token with HTTP Basic client auth (the default web app unless told otherwise)."""
    app = sb.app_state.web_app
    auth = basic(client_id or app.client_id, secret if secret is not None else (app.client_secret or ""))
    return http.post(f"{sb.base_url}/connect/token", data=data, headers={"Authorization": auth})


def exchange(http: httpx.Client, sb: SandboxHandle, code: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": sb.app_state.web_app.redirect_uris[0]}
    return token_request(http, sb, {**data, **extra})


def refresh(http: httpx.Client, sb: SandboxHandle, refresh_token: str) -> httpx.Response:
    return token_request(http, sb, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def connect(http: httpx.Client, sb: SandboxHandle, scope: str = BROAD, **body: Any) -> dict[str, Any]:
    """Consent and exchange the code: the token response."""
    code = consent(http, sb, scope, **body)["code"]
    response = exchange(http, sb, code)
    assert response.status_code == 200, response.text
    return response.json()


def call(
    http: httpx.Client,
    sb: SandboxHandle,
    access_token: str,
    path: str,
    tenant: str | None = AU,
    accept: str | None = JSON,
    method: str = "GET",
    **kwargs: Any,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}", **kwargs.pop("headers", {})}
    if tenant is not None:
        headers["xero-tenant-id"] = tenant
    if accept is not None:
        headers["Accept"] = accept
    return http.request(method, f"{sb.base_url}{path}", headers=headers, **kwargs)


def stats(http: httpx.Client, sb: SandboxHandle) -> dict[str, Any]:
    return http.get(f"{sb.base_url}/_sandbox/stats").json()


def advance(http: httpx.Client, sb: SandboxHandle, seconds: float) -> None:
    assert http.post(f"{sb.base_url}/_sandbox/clock", json={"advance_seconds": seconds}).status_code == 200


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def per_employee_path(endpoint: Endpoint, list_employees: Callable[[str], dict[str, Any]]) -> str:
    """A per-employee endpoint's path for the organisation's first employee (`list_employees(path)` GETs the list:
    AU payroll answers `Employees`/`EmployeeID`, payroll 2.0 `employees`/`employeeID`)."""
    key, id_field = ("Employees", "EmployeeID") if endpoint.base is ApiBase.PAYROLL_AU else ("employees", "employeeID")
    employee = list_employees(endpoint.base.value + "/Employees")[key][0][id_field]
    return endpoint.full_path.replace("{EmployeeID}", employee)
