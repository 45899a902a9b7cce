"""The /_sandbox/ control API: tenants, consent without a browser, truth, mutate, clock, apps, users, limits."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import AU, BROAD, GB, NZ, US, call, connect, consent, exchange, stats


def test_tenants_lists_ids_names_countries_sizes_and_tiers(sb: SandboxHandle, http: httpx.Client):
    tenants = http.get(f"{sb.base_url}/_sandbox/tenants").json()["tenants"]
    assert [t["tenant_id"] for t in tenants] == [AU, NZ, GB, US]
    assert tenants[2] == {
        "tenant_id": GB,
        "name": "Thames Tech Ltd",
        "country": "GB",
        "size": "small",
        "tier": "starter",
        "short_code": "!abc",
    }


def test_info_repeats_the_startup_line(sb: SandboxHandle, http: httpx.Client):
    info = http.get(f"{sb.base_url}/_sandbox/info").json()
    assert info["base_url"] == sb.base_url and info["client_id"] == sb.app_state.web_app.client_id
    assert info["token_url"] == f"{sb.base_url}/connect/token"
    assert info["redirect_uri"] == "http://localhost:8791/callback"
    assert info["custom_connection"]["tenant_id"] == AU and info["user_email"]


def test_consent_defaults_to_every_tenant_and_returns_the_redirect_a_browser_would_follow(
    sb: SandboxHandle, http: httpx.Client
):
    granted = consent(http, sb, BROAD)
    assert sorted(granted["tenant_ids"]) == sorted([AU, NZ, GB, US])
    assert granted["redirect_url"].startswith("http://localhost:8791/callback?code=")
    assert "state=xyz" in granted["redirect_url"] and granted["scope"] == BROAD
    assert exchange(http, sb, granted["code"]).status_code == 200


def test_consent_refuses_unknown_clients_users_and_tenants(sb: SandboxHandle, http: httpx.Client):
    url = f"{sb.base_url}/_sandbox/consent"
    client_id = sb.app_state.web_app.client_id
    assert http.post(url, json={"client_id": "nope", "scope": BROAD}).json()["error"] == "invalid_client"
    assert http.post(url, json={"client_id": client_id, "scope": BROAD, "user": "x@y"}).json()["error"] == (
        "unknown_user"
    )
    refused = http.post(url, json={"client_id": client_id, "scope": BROAD, "tenant_ids": ["nope"]})
    assert refused.status_code == 400 and refused.json()["error"] == "access_denied"


def test_truth_and_mutate_are_handed_to_the_tenants_books(sb: SandboxHandle, http: httpx.Client):
    assert http.get(f"{sb.base_url}/_sandbox/truth/{NZ}").json()["tenant_id"] == NZ
    assert http.get(f"{sb.base_url}/_sandbox/truth/nope").status_code == 404
    spec = {"tenant_id": AU, "action": "edit", "collection": "invoices"}
    assert http.post(f"{sb.base_url}/_sandbox/mutate", json=spec).json() == {"applied": spec}
    assert sb.app_state.world.tenants[AU].mutations == [spec]
    assert http.post(f"{sb.base_url}/_sandbox/mutate", json={"action": "edit"}).status_code == 404


def test_clock_advances_or_is_set_and_everything_reads_it(sb: SandboxHandle, http: httpx.Client):
    before = datetime.fromisoformat(http.get(f"{sb.base_url}/_sandbox/clock").json()["now"])
    after = datetime.fromisoformat(
        http.post(f"{sb.base_url}/_sandbox/clock", json={"advance_seconds": 3600}).json()["now"]
    )
    assert 3600 <= (after - before).total_seconds() < 3660
    moved = http.post(f"{sb.base_url}/_sandbox/clock", json={"now": "2030-01-02T03:04:05Z"}).json()["now"]
    assert moved.startswith("2030-01-02T03:04")
    access = connect(http, sb)["access_token"]
    stamp = call(http, sb, access, "/api.xro/2.0/Organisation").json()["DateTimeUTC"]
    millis = int(stamp[len("/Date(") : -len(")/")])
    assert datetime.fromtimestamp(millis / 1000, UTC).year == 2030
    assert http.post(f"{sb.base_url}/_sandbox/clock", json={}).status_code == 400


def test_registered_apps_get_their_own_redirect_uris_and_scopes(sb: SandboxHandle, http: httpx.Client):
    app = {
        "name": "Partner",
        "redirect_uris": ["http://localhost:9999/cb"],
        "allowed_scopes": ["offline_access", "accounting.settings.read"],
    }
    created = http.post(f"{sb.base_url}/_sandbox/apps", json=app).json()
    assert created["client_secret"] and created["redirect_uris"] == ["http://localhost:9999/cb"]
    granted = consent(http, sb, "offline_access accounting.settings.read", client_id=created["client_id"])
    assert granted["redirect_url"].startswith("http://localhost:9999/cb?")
    body = {
        "grant_type": "authorization_code",
        "code": granted["code"],
        "redirect_uri": "http://localhost:9999/cb",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    assert http.post(f"{sb.base_url}/connect/token", data=body).status_code == 200
    too_much = http.post(
        f"{sb.base_url}/_sandbox/consent",
        json={"client_id": created["client_id"], "scope": "accounting.transactions.read"},
    )
    assert too_much.json()["error"] == "invalid_scope"
    listed = http.get(f"{sb.base_url}/_sandbox/apps").json()["apps"]
    assert created["client_id"] in [a["client_id"] for a in listed]


def test_users_can_be_limited_to_some_organisations(sb: SandboxHandle, http: httpx.Client):
    user = {"email": "bookkeeper@sandbox.xero.local", "password": "pw", "tenant_ids": [NZ]}
    assert http.post(f"{sb.base_url}/_sandbox/users", json=user).status_code == 201
    assert consent(http, sb, BROAD, user=user["email"])["tenant_ids"] == [NZ]
    bad = {"email": "x@y", "password": "pw", "tenant_ids": ["nope"]}
    assert http.post(f"{sb.base_url}/_sandbox/users", json=bad).status_code == 400


def test_limits_show_windows_and_delete_resets_them(start_sandbox, http: httpx.Client):
    sb = start_sandbox(rate_limits="on", minute_limit=1)
    access = connect(http, sb)["access_token"]
    call(http, sb, access, "/api.xro/2.0/Invoices")
    limits = http.get(f"{sb.base_url}/_sandbox/limits").json()
    assert limits["tenants"][AU] == {"in_flight": 0, "minute": 1, "day": 1}
    assert limits["day_limits"][GB] == 1000 and limits["config"]["minute"] == 1
    assert call(http, sb, access, "/api.xro/2.0/Invoices").status_code == 429
    assert http.delete(f"{sb.base_url}/_sandbox/limits").status_code == 204
    assert call(http, sb, access, "/api.xro/2.0/Invoices").status_code == 200


def test_control_calls_are_not_counted_in_the_stats(sb: SandboxHandle, http: httpx.Client):
    http.get(f"{sb.base_url}/_sandbox/tenants")
    http.get(f"{sb.base_url}/_sandbox/info")
    assert stats(http, sb)["total"] == 0


def test_malformed_control_input_is_a_400_with_the_reason(sb: SandboxHandle, http: httpx.Client):
    response = http.post(
        f"{sb.base_url}/_sandbox/clock", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]


def test_posting_an_existing_client_id_adds_redirect_uris_and_keeps_the_rest(sb: SandboxHandle, http: httpx.Client):
    web = sb.app_state.web_app
    body = {"client_id": web.client_id, "redirect_uris": ["http://localhost:4567/oauth/callback"]}
    updated = http.post(f"{sb.base_url}/_sandbox/apps", json=body).json()
    assert updated["client_secret"] == web.client_secret
    assert updated["redirect_uris"][0] == "http://localhost:8791/callback"
    assert updated["redirect_uris"][-1] == "http://localhost:4567/oauth/callback"
    assert http.get(f"{sb.base_url}/_sandbox/info").json()["redirect_uris"][-1] == updated["redirect_uris"][-1]
    granted = consent(http, sb, BROAD, redirect_uri="http://localhost:4567/oauth/callback")
    assert exchange(http, sb, granted["code"], redirect_uri="http://localhost:4567/oauth/callback").status_code == 200
