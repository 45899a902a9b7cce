"""Xero's identity endpoints over HTTP: the authorize page, /connect/token, /connect/revocation, /connections, and
the OpenID discovery document, JWKS and userinfo that OpenID client libraries read.

The authorize page is two plain HTML forms, as on login.xero.com: log in (email, password), then "select
organisations / Allow access". A browser or a script can post them; a login session cookie lets a browser skip the
login on the next authorize. Errors about the client or redirect URI are shown on the page (never redirected to an
unverified URI, RFC 6749 §4.1.2.1); every other error goes back to the app as `?error=...&state=...`.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from xero_assets.sandbox import keys, wire
from xero_assets.sandbox.faults import faulted
from xero_assets.sandbox.identity import KNOWN_SCOPES, AccessToken, App, AuthCode, BearerError, OAuthError, User
from xero_assets.sandbox.state import SandboxState

SESSION_COOKIE = "xero_sandbox_session"
_AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                     "code_challenge_method", "nonce")  # fmt: skip
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def read_form(request: Request) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body, every value of every field (no python-multipart needed)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def single(form: Mapping[str, list[str]]) -> dict[str, str]:
    """The last value of each field, as OAuth reads them."""
    return {key: values[-1] for key, values in form.items()}


def bearer(state: SandboxState, request: Request) -> AccessToken | Response:
    """The call's access token, or the 401 Xero answers (AuthenticationUnsuccessful or TokenExpired)."""
    try:
        return state.identity.bearer(request.headers.get("authorization"))
    except BearerError as exc:
        return wire.unauthorized(exc.detail)


def redirect_url(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"


def code_redirect_url(code: AuthCode, state: str | None) -> str:
    """Where "Allow access" sends the browser: the app's redirect URI with code, scope, state and session_state."""
    params = {"code": code.code, "scope": " ".join(code.scopes), "state": state, "session_state": secrets.token_hex(16)}
    return redirect_url(code.redirect_uri, params)


# --- the authorize page ------------------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Xero (sandbox)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>*{{box-sizing:border-box}}body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;
color:#1e3140}}
h1{{color:#13b5ea}}label{{display:block;margin:.6rem 0}}input[type=text],input[type=email],input[type=password]
{{width:100%;padding:.4rem}}button{{padding:.5rem 1.2rem;margin-right:.5rem}}.error{{color:#c00}}</style></head>
<body><h1>Xero</h1><p><em>Sandbox: an emulated Xero for tests and demos.</em></p>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def _hidden(params: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if v is not None
    )


def _login_page(params: Mapping[str, str], error: str | None = None) -> HTMLResponse:
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    body = f"""<h2>Log in to Xero</h2>{message}
<form method="post" action="/identity/connect/authorize">{_hidden(params)}
<input type="hidden" name="step" value="login">
<label>Email address <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button></form>"""
    return _page("Log in", body)


def _consent_page(state: SandboxState, app: App, user: User, scopes: Iterable[str], params: Mapping[str, str],
                  session: str) -> HTMLResponse:  # fmt: skip
    tenants = "".join(
        f'<label><input type="checkbox" name="tenant_id" value="{html.escape(tid)}" checked> '
        f"{html.escape(name)}</label>"
        for tid, name in state.identity.tenants_for(user).items()
    )
    scope_items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
    body = f"""<h2>{html.escape(app.name)} wants access to your Xero organisations</h2>
<p>Logged in as {html.escape(user.email)}.</p><p>It will be able to:</p><ul>{scope_items}</ul>
<form method="post" action="/identity/connect/authorize">{_hidden(params)}
<input type="hidden" name="step" value="consent"><input type="hidden" name="session" value="{html.escape(session)}">
<fieldset><legend>Select organisations</legend>{tenants}</fieldset>
<button type="submit" name="action" value="allow">Allow access</button>
<button type="submit" name="action" value="deny">Cancel</button></form>"""
    return _page("Allow access", body)


def _check(state: SandboxState, params: Mapping[str, str]) -> tuple[App, tuple[str, ...]] | Response:
    """The app and scopes of an authorize request, or the response that refuses it."""
    try:
        app = state.identity.check_client(params.get("client_id"), params.get("redirect_uri"))
    except OAuthError as exc:
        return _page("Error", f'<p class="error">{html.escape(exc.error)}: {html.escape(exc.description)}</p>', 400)
    try:
        scopes = state.identity.check_request(
            app,
            params.get("response_type"),
            params.get("scope"),
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )
    except OAuthError as exc:
        error = {"error": exc.error, "error_description": exc.description or None, "state": params.get("state")}
        return RedirectResponse(redirect_url(params["redirect_uri"], error), status_code=302)
    return app, scopes


async def authorize(request: Request) -> Response:
    """GET shows the login (or, with a live session, the consent) page; POST takes either form."""
    state = sandbox(request)
    if request.method == "GET":
        form = {key: [value] for key, value in request.query_params.items()}
    else:
        form = await read_form(request)
    fields = single(form)
    params = {k: fields[k] for k in _AUTHORIZE_FIELDS if k in fields}
    checked = _check(state, params)
    if isinstance(checked, Response):
        return checked
    app, scopes = checked
    step = fields.get("step")
    if step == "login":
        user = state.identity.login(fields.get("email", ""), fields.get("password", ""))
        if user is None:
            return _login_page(params, "Your email or password is incorrect.")
        session = state.identity.open_session(user)
        response = _consent_page(state, app, user, scopes, params, session)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        return response
    session = fields.get("session") or request.cookies.get(SESSION_COOKIE)
    user = state.identity.session_user(session)
    if user is None or session is None:
        return _login_page(params)
    if step != "consent":
        return _consent_page(state, app, user, scopes, params, session)
    if fields.get("action") != "allow":
        denied = {"error": "access_denied", "state": params.get("state")}
        return RedirectResponse(redirect_url(params["redirect_uri"], denied), status_code=302)
    try:
        code = state.identity.consent(
            user,
            app,
            params["redirect_uri"],
            scopes,
            form.get("tenant_id", []),
            params.get("code_challenge"),
            params.get("nonce"),
        )
    except OAuthError as exc:
        refused = {"error": exc.error, "error_description": exc.description, "state": params.get("state")}
        return RedirectResponse(redirect_url(params["redirect_uri"], refused), status_code=302)
    return RedirectResponse(code_redirect_url(code, params.get("state")), status_code=302)


# --- token, revocation ---------------------------------------------------------------------------------------------


async def token(request: Request) -> Response:
    """POST /connect/token (form-encoded). Token-endpoint faults apply here when a rule targets "token"."""
    state = sandbox(request)
    rule = state.faults.pick(request.url.path, None, "token")
    if rule is not None:
        state.stats.record_fault(rule.kind)

    async def issue() -> Response:
        form = single(await read_form(request))
        try:
            result = state.identity.token(form, request.headers.get("authorization"))
        except OAuthError as exc:
            state.stats.record_token_error(exc.error)
            return JSONResponse(exc.body(), status_code=400, headers=_NO_STORE)
        state.stats.record_grant(result.grant_type, result.client_id)
        return JSONResponse(result.body, headers=_NO_STORE)

    return await faulted(state.faults, rule, issue)


async def revocation(request: Request) -> Response:
    """POST /connect/revocation: 200 with no body, even for an unknown token."""
    state = sandbox(request)
    form = single(await read_form(request))
    try:
        state.identity.revoke(form, request.headers.get("authorization"))
    except OAuthError as exc:
        state.stats.record_token_error(exc.error)
        return JSONResponse(exc.body(), status_code=400)
    return Response(status_code=200)


# --- connections ---------------------------------------------------------------------------------------------------


async def connections(request: Request) -> Response:
    """GET /connections: a bare JSON array; no xero-tenant-id header is needed."""
    state = sandbox(request)
    access = bearer(state, request)
    if isinstance(access, Response):
        return access
    found = state.identity.connections(access, request.query_params.get("authEventId"))
    return JSONResponse([c.to_json() for c in found])


async def connection(request: Request) -> Response:
    """DELETE /connections/{id}: 204 without a body, 404 when the id is not this user's connection to this app."""
    state = sandbox(request)
    request.state.stats_path = "/connections/{id}"
    access = bearer(state, request)
    if isinstance(access, Response):
        return access
    if request.method != "DELETE":
        return wire.method_not_allowed()
    if not state.identity.disconnect(access, request.path_params["connection_id"]):
        return wire.not_found()
    return Response(status_code=204)


# --- OpenID discovery ----------------------------------------------------------------------------------------------


async def openid_configuration(request: Request) -> Response:
    """/.well-known/openid-configuration, as identity.xero.com publishes it (the endpoints point at this sandbox)."""
    base = sandbox(request).identity.issuer
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/identity/connect/authorize",
            "token_endpoint": f"{base}/connect/token",
            "userinfo_endpoint": f"{base}/connect/userinfo",
            "revocation_endpoint": f"{base}/connect/revocation",
            "jwks_uri": f"{base}/.well-known/openid-configuration/jwks",
            "scopes_supported": sorted(KNOWN_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "xero_userid", "email", "given_name", "family_name", "name", "nonce"],
        }
    )


async def jwks(request: Request) -> Response:
    return JSONResponse(keys.jwks())


async def userinfo(request: Request) -> Response:
    """GET /connect/userinfo: the logged-in user's claims for an access token that holds openid."""
    state = sandbox(request)
    access = bearer(state, request)
    if isinstance(access, Response):
        return access
    user = state.identity.user_by_id(access.user_id)
    if "openid" not in access.scopes or user is None:
        return JSONResponse({"error": "insufficient_scope"}, status_code=403)
    claims: dict[str, str] = {"sub": user.user_id, "xero_userid": user.user_id}
    if "email" in access.scopes:
        claims.update({"email": user.email, "preferred_username": user.email})
    if "profile" in access.scopes:
        claims.update({"given_name": user.first_name, "family_name": user.last_name,
                       "name": f"{user.first_name} {user.last_name}"})  # fmt: skip
    return JSONResponse(claims)
