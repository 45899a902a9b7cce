"""The sandbox's identity service behaves like Xero's: authorize page, codes, PKCE, tokens, rotation, connections."""

from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import parse_qs, urlparse

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from xero_assets.sandbox.identity import pkce_challenge
from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import (
    AU,
    BROAD,
    GB,
    NZ,
    advance,
    basic,
    call,
    connect,
    consent,
    exchange,
    jwt_claims,
    refresh,
    stats,
    token_request,
)


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}


def _authorize_params(sb: SandboxHandle, scope: str = BROAD, **extra: str) -> dict[str, str]:
    app = sb.app_state.web_app
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "scope": scope,
        "state": "s-123",
        **extra,
    }


def test_html_login_and_allow_access_redirects_to_the_app_with_code_and_state(sb: SandboxHandle, http: httpx.Client):
    params = _authorize_params(sb)
    page = http.get(f"{sb.base_url}/identity/connect/authorize", params=params)
    assert page.status_code == 200 and 'name="password"' in page.text

    user = sb.app_state.user
    form = {**params, "step": "login", "email": user.email, "password": user.password}
    consent_page = http.post(f"{sb.base_url}/identity/connect/authorize", data=form)
    assert consent_page.status_code == 200
    assert "Allow access" in consent_page.text and "Koala IT Pty Ltd" in consent_page.text
    session = re.search(r'name="session" value="([^"]+)"', consent_page.text).group(1)

    allow = {**params, "step": "consent", "session": session, "action": "allow", "tenant_id": [AU, NZ]}
    redirect = http.post(f"{sb.base_url}/identity/connect/authorize", data=allow)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    back = _query(location)
    assert back["state"] == "s-123" and back["scope"] == BROAD

    tokens = exchange(http, sb, back["code"]).json()
    listed = http.get(f"{sb.base_url}/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert sorted(c["tenantId"] for c in listed.json()) == sorted([AU, NZ])


def test_login_session_cookie_skips_the_login_form_on_the_next_authorize(sb: SandboxHandle, http: httpx.Client):
    params = _authorize_params(sb)
    user = sb.app_state.user
    form = {**params, "step": "login", "email": user.email, "password": user.password}
    http.post(f"{sb.base_url}/identity/connect/authorize", data=form)
    again = http.get(f"{sb.base_url}/identity/connect/authorize", params=params)
    assert "Allow access" in again.text and 'name="password"' not in again.text


def test_wrong_password_shows_the_login_form_again(sb: SandboxHandle, http: httpx.Client):
    form = {**_authorize_params(sb), "step": "login", "email": sb.app_state.user.email, "password": "nope"}
    page = http.post(f"{sb.base_url}/identity/connect/authorize", data=form)
    assert page.status_code == 200 and "incorrect" in page.text and "Allow access" not in page.text


def test_cancel_on_the_consent_page_redirects_access_denied(sb: SandboxHandle, http: httpx.Client):
    params = _authorize_params(sb)
    session = sb.app_state.identity.open_session(sb.app_state.user)
    denied = http.post(
        f"{sb.base_url}/identity/connect/authorize",
        data={**params, "step": "consent", "session": session, "action": "deny"},
    )
    assert denied.status_code == 302
    assert _query(denied.headers["location"]) == {"error": "access_denied", "state": "s-123"}


def test_unregistered_redirect_uri_is_refused_on_the_page_never_redirected(sb: SandboxHandle, http: httpx.Client):
    params = _authorize_params(sb, redirect_uri="https://evil.example/callback")
    page = http.get(f"{sb.base_url}/identity/connect/authorize", params=params)
    assert page.status_code == 400 and "location" not in page.headers


def test_a_bad_response_type_is_redirected_back_as_an_error(sb: SandboxHandle, http: httpx.Client):
    url = f"{sb.base_url}/identity/connect/authorize"
    token_flow = http.get(url, params=_authorize_params(sb, response_type="token"))
    assert _query(token_flow.headers["location"])["error"] == "unsupported_response_type"
    params = _authorize_params(sb)
    del params["response_type"]
    assert _query(http.get(url, params=params).headers["location"])["error"] == "invalid_request"


def test_unknown_scope_is_redirected_back_as_invalid_scope(sb: SandboxHandle, http: httpx.Client):
    page = http.get(f"{sb.base_url}/identity/connect/authorize", params=_authorize_params(sb, scope="accounting.fake"))
    assert page.status_code == 302 and _query(page.headers["location"])["error"] == "invalid_scope"
    api = http.post(
        f"{sb.base_url}/_sandbox/consent",
        json={"client_id": sb.app_state.web_app.client_id, "scope": "offline_access nope.read"},
    )
    assert api.status_code == 400 and api.json()["error"] == "invalid_scope"


def test_token_response_has_xero_shape_with_refresh_only_for_offline_access_and_id_token_only_for_openid(
    sb: SandboxHandle, http: httpx.Client
):
    full = connect(http, sb, "openid profile email offline_access accounting.settings.read")
    assert full["expires_in"] == 1800 and full["token_type"] == "Bearer"
    assert full["scope"] == "openid profile email offline_access accounting.settings.read"
    assert "refresh_token" in full and "id_token" in full
    assert jwt_claims(full["id_token"])["email"] == sb.app_state.user.email
    claims = jwt_claims(full["access_token"])
    assert claims["exp"] - claims["nbf"] == 1800 and claims["authentication_event_id"]

    bare = connect(http, sb, "accounting.settings.read")
    assert "refresh_token" not in bare and "id_token" not in bare


def test_code_is_single_use(sb: SandboxHandle, http: httpx.Client):
    code = consent(http, sb, BROAD)["code"]
    assert exchange(http, sb, code).status_code == 200
    again = exchange(http, sb, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_code_expires_after_five_minutes(sb: SandboxHandle, http: httpx.Client):
    code = consent(http, sb, BROAD)["code"]
    advance(http, sb, 301)
    assert exchange(http, sb, code).json()["error"] == "invalid_grant"


def test_code_exchange_needs_the_same_redirect_uri(sb: SandboxHandle, http: httpx.Client):
    code = consent(http, sb, BROAD)["code"]
    other = sb.app_state.web_app.redirect_uris[1]
    assert exchange(http, sb, code, redirect_uri=other).json()["error"] == "invalid_grant"


def test_client_auth_works_with_basic_header_or_body_and_refuses_a_wrong_secret(sb: SandboxHandle, http: httpx.Client):
    app = sb.app_state.web_app
    code = consent(http, sb, BROAD)["code"]
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uris[0],
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    assert http.post(f"{sb.base_url}/connect/token", data=body).status_code == 200

    code = consent(http, sb, BROAD)["code"]
    wrong = token_request(
        http,
        sb,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uris[0]},
        secret="wrong",
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
    unknown = token_request(http, sb, {"grant_type": "refresh_token", "refresh_token": "x"}, client_id="NOPE")
    assert unknown.json()["error"] == "invalid_client"


def _pkce_exchange(sb: SandboxHandle, http: httpx.Client, verifier: str, sent_verifier: str) -> httpx.Response:
    """Consent with the PKCE app (challenge from `verifier`), then redeem the code sending `sent_verifier`."""
    app = sb.app_state.pkce_app
    challenge = {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    code = consent(http, sb, BROAD, client_id=app.client_id, **challenge)["code"]
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uris[0],
        "client_id": app.client_id,
        "code_verifier": sent_verifier,
    }
    return http.post(f"{sb.base_url}/connect/token", data=body)


def test_pkce_app_exchanges_its_code_with_the_right_verifier_and_no_secret(sb: SandboxHandle, http: httpx.Client):
    verifier = secrets.token_urlsafe(48)
    response = _pkce_exchange(sb, http, verifier, verifier)
    assert response.status_code == 200 and "refresh_token" in response.json()


def test_pkce_wrong_or_malformed_verifier_is_invalid_grant(sb: SandboxHandle, http: httpx.Client):
    verifier = secrets.token_urlsafe(48)
    for bad in (secrets.token_urlsafe(48), "short", verifier + "!", ""):
        response = _pkce_exchange(sb, http, verifier, bad)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant", bad


def test_pkce_app_must_send_an_s256_code_challenge(sb: SandboxHandle, http: httpx.Client):
    app = sb.app_state.pkce_app
    base = {"client_id": app.client_id, "scope": BROAD}
    assert http.post(f"{sb.base_url}/_sandbox/consent", json=base).json()["error"] == "invalid_request"
    plain = {**base, "code_challenge": "a" * 43, "code_challenge_method": "plain"}
    assert http.post(f"{sb.base_url}/_sandbox/consent", json=plain).json()["error"] == "invalid_request"
    secretless = token_request(
        http,
        sb,
        {"grant_type": "refresh_token", "refresh_token": "x"},
        client_id=sb.app_state.web_app.client_id,
        secret="",
    )
    assert secretless.json()["error"] == "invalid_client"  # a web app cannot skip its secret


def test_refresh_rotates_and_the_old_token_works_only_within_the_30_minute_grace(sb: SandboxHandle, http: httpx.Client):
    first = connect(http, sb)["refresh_token"]
    rotated = refresh(http, sb, first).json()
    second = rotated["refresh_token"]
    assert second != first and rotated["expires_in"] == 1800

    advance(http, sb, 29 * 60)
    retry = refresh(http, sb, first)  # the response was "lost": the old token may be retried within the grace
    assert retry.status_code == 200

    advance(http, sb, 2 * 60)
    late = refresh(http, sb, first)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    assert refresh(http, sb, second).status_code == 200


def test_unused_refresh_token_expires_after_60_days(sb: SandboxHandle, http: httpx.Client):
    token = connect(http, sb)["refresh_token"]
    advance(http, sb, 60 * 86400 - 60)
    kept = refresh(http, sb, token)
    assert kept.status_code == 200
    advance(http, sb, 60 * 86400 + 1)
    assert refresh(http, sb, kept.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_stats_count_token_grants_by_type_and_client(sb: SandboxHandle, http: httpx.Client):
    token = connect(http, sb)["refresh_token"]
    refresh(http, sb, token)
    seen = stats(http, sb)
    client = sb.app_state.web_app.client_id
    assert seen["token_grants_by_client"][client] == {"authorization_code": 1, "refresh_token": 1}
    assert seen["token_grants"]["refresh_token"] == 1
    assert "refresh_token" not in str(seen["recent"])  # no token values anywhere in the stats


def test_access_token_expires_after_30_minutes_with_token_expired(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    assert call(http, sb, access, "/api.xro/2.0/Organisation").status_code == 200
    advance(http, sb, 1800)
    expired = call(http, sb, access, "/api.xro/2.0/Organisation")
    assert expired.status_code == 401
    body = expired.json()
    assert body["Type"] is None and body["Title"] == "Unauthorized" and body["Status"] == 401
    assert re.fullmatch(r"TokenExpired: token expired at \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", body["Detail"])


def test_unknown_or_missing_bearer_token_is_401(sb: SandboxHandle, http: httpx.Client):
    assert call(http, sb, "not-a-token", "/api.xro/2.0/Invoices").status_code == 401
    assert http.get(f"{sb.base_url}/connections").status_code == 401


def test_unsupported_and_missing_grant_types(sb: SandboxHandle, http: httpx.Client):
    assert token_request(http, sb, {"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    assert token_request(http, sb, {}).json()["error"] == "invalid_request"


def test_client_credentials_gives_a_custom_connection_one_tenant_and_no_refresh_token(
    sb: SandboxHandle, http: httpx.Client
):
    app = sb.app_state.custom_app
    assert app is not None
    response = http.post(
        f"{sb.base_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "accounting.transactions.read accounting.settings.read",
        },
    )
    body = response.json()
    assert response.status_code == 200 and "refresh_token" not in body and body["expires_in"] == 1800
    listed = http.get(f"{sb.base_url}/connections", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert [c["tenantId"] for c in listed.json()] == [app.custom_connection_tenant_id]
    assert call(http, sb, body["access_token"], "/api.xro/2.0/Invoices", tenant=AU).status_code == 200
    assert call(http, sb, body["access_token"], "/api.xro/2.0/Invoices", tenant=NZ).status_code == 403

    bad_scope = http.post(
        f"{sb.base_url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "accounting.unknown",
        },
    )
    assert bad_scope.json()["error"] == "invalid_scope"


def test_client_credentials_is_refused_for_an_app_that_is_not_a_custom_connection(
    sb: SandboxHandle, http: httpx.Client
):
    response = token_request(http, sb, {"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_connections_are_a_bare_array_in_xeros_shape(sb: SandboxHandle, http: httpx.Client):
    granted = consent(http, sb, BROAD, tenant_ids=[AU, GB])
    access = exchange(http, sb, granted["code"]).json()["access_token"]
    listed = http.get(f"{sb.base_url}/connections", headers={"Authorization": f"Bearer {access}"}).json()
    assert isinstance(listed, list) and len(listed) == 2
    first = listed[0]
    assert set(first) == {
        "id",
        "authEventId",
        "tenantId",
        "tenantType",
        "tenantName",
        "createdDateUtc",
        "updatedDateUtc",
    }
    assert first["tenantType"] == "ORGANISATION" and first["authEventId"] == granted["auth_event_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}", first["createdDateUtc"])
    by_event = http.get(
        f"{sb.base_url}/connections", params={"authEventId": "other"}, headers={"Authorization": f"Bearer {access}"}
    )
    assert by_event.json() == []


def test_reconsent_keeps_the_connection_id_and_created_date_and_moves_updated(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, tenant_ids=[AU])["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    before = http.get(f"{sb.base_url}/connections", headers=auth).json()[0]
    advance(http, sb, 60)
    consent(http, sb, BROAD, tenant_ids=[AU])
    after = http.get(f"{sb.base_url}/connections", headers=auth).json()[0]
    assert after["id"] == before["id"] and after["createdDateUtc"] == before["createdDateUtc"]
    assert after["updatedDateUtc"] > before["updatedDateUtc"]


def test_delete_connection_answers_204_then_404_and_the_tenant_is_no_longer_readable(
    sb: SandboxHandle, http: httpx.Client
):
    access = connect(http, sb, tenant_ids=[AU, NZ])["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    au = next(c for c in http.get(f"{sb.base_url}/connections", headers=auth).json() if c["tenantId"] == AU)
    deleted = http.delete(f"{sb.base_url}/connections/{au['id']}", headers=auth)
    assert deleted.status_code == 204 and deleted.content == b""
    assert http.delete(f"{sb.base_url}/connections/{au['id']}", headers=auth).status_code == 404
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant=AU).status_code == 403
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant=NZ).status_code == 200


def test_refresh_fails_once_every_connection_of_the_grant_is_deleted(sb: SandboxHandle, http: httpx.Client):
    tokens = connect(http, sb, tenant_ids=[AU])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    (only,) = http.get(f"{sb.base_url}/connections", headers=auth).json()
    http.delete(f"{sb.base_url}/connections/{only['id']}", headers=auth)
    assert refresh(http, sb, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_removes_the_users_connections_and_refresh_tokens_but_not_other_users(
    sb: SandboxHandle, http: httpx.Client
):
    other = {"email": "second@sandbox.xero.local", "password": "pw2"}
    assert http.post(f"{sb.base_url}/_sandbox/users", json=other).status_code == 201
    mine = connect(http, sb)
    theirs = connect(http, sb, user=other["email"])

    app = sb.app_state.web_app
    revoked = http.post(
        f"{sb.base_url}/connect/revocation",
        data={"token": mine["refresh_token"]},
        headers={"Authorization": basic(app.client_id, app.client_secret or "")},
    )
    assert revoked.status_code == 200
    mine_auth = {"Authorization": f"Bearer {mine['access_token']}"}
    assert http.get(f"{sb.base_url}/connections", headers=mine_auth).json() == []
    assert refresh(http, sb, mine["refresh_token"]).json()["error"] == "invalid_grant"
    assert call(http, sb, mine["access_token"], "/api.xro/2.0/Invoices").status_code == 403

    theirs_auth = {"Authorization": f"Bearer {theirs['access_token']}"}
    assert len(http.get(f"{sb.base_url}/connections", headers=theirs_auth).json()) == 4
    assert refresh(http, sb, theirs["refresh_token"]).status_code == 200


def test_revocation_with_an_unknown_token_is_still_200_but_needs_a_valid_client(sb: SandboxHandle, http: httpx.Client):
    app = sb.app_state.web_app
    ok = http.post(
        f"{sb.base_url}/connect/revocation",
        data={"token": "unknown"},
        headers={"Authorization": basic(app.client_id, app.client_secret or "")},
    )
    assert ok.status_code == 200
    bad = http.post(
        f"{sb.base_url}/connect/revocation",
        data={"token": "unknown"},
        headers={"Authorization": basic(app.client_id, "wrong")},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"


def _verify_rs256(token: str, jwk: dict[str, str]) -> None:
    def number(field: str) -> int:
        raw = jwk[field]
        return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")

    public = rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
    signing_input, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public.verify(raw, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # raises when invalid


def test_openid_discovery_and_jwks_verify_the_id_token_which_echoes_the_nonce(sb: SandboxHandle, http: httpx.Client):
    discovery = http.get(f"{sb.base_url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == sb.base_url
    assert discovery["token_endpoint"] == f"{sb.base_url}/connect/token"
    (jwk,) = http.get(discovery["jwks_uri"]).json()["keys"]

    code = consent(http, sb, "openid profile email offline_access", nonce="n-42")["code"]
    tokens = exchange(http, sb, code).json()
    _verify_rs256(tokens["id_token"], jwk)
    _verify_rs256(tokens["access_token"], jwk)
    claims = jwt_claims(tokens["id_token"])
    assert claims["nonce"] == "n-42" and claims["iss"] == sb.base_url
    assert claims["aud"] == sb.app_state.web_app.client_id

    userinfo = http.get(discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.json()["email"] == sb.app_state.user.email
