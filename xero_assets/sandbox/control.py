"""The sandbox's own control API under /_sandbox/: not Xero, but what tests, benchmarks and the demo drive it with.

Routes (JSON in, JSON out; errors are `{"error": ...}` with 400 or 404):

- GET  /_sandbox/info                 the line `xero-assets sandbox` printed (base URL, default apps, login)
- GET  /_sandbox/tenants              {"tenants": [{tenant_id, name, country, size, tier, short_code}]}
- POST /_sandbox/consent              an authorization code without a browser (same rules as the authorize page)
- GET  /_sandbox/truth/{tenant_id}    the books' ground truth for one organisation
- GET|DELETE /_sandbox/stats          request counts (see stats.py); DELETE starts counting afresh
- GET|DELETE /_sandbox/limits         rate-limit windows per tenant; DELETE resets every window
- GET|POST /_sandbox/clock            {"advance_seconds": N} or {"now": ISO} -> {"now": ISO}
- POST /_sandbox/mutate               {"tenant_id": ..., ...} handed to that organisation's books
- GET|POST|DELETE /_sandbox/faults    fault rules (see faults.py); POST one rule or {"rules": [...]}
- GET|POST /_sandbox/apps             registered apps; POST registers one (redirect URIs, scopes, custom connection)
                                      or, for an existing client_id, adds redirect URIs to it
- POST /_sandbox/users                another login ({email, password, tenant_ids?})
- GET|POST /_sandbox/webhooks, POST /_sandbox/webhooks/{id}/intent, DELETE /_sandbox/webhooks/{id}
                                      an app's webhook (see webhook_routes.py); every mutation below is announced
                                      to it as Xero's signed events
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xero_assets.sandbox.books.query import QueryError
from xero_assets.sandbox.faults import FaultRule
from xero_assets.sandbox.identity import App, OAuthError, User
from xero_assets.sandbox.identity_routes import code_redirect_url
from xero_assets.sandbox.state import SandboxState, TenantBooks

log = logging.getLogger(__name__)


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _error(message: str, status: int = 400, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


async def _in_books(
    state: SandboxState, books: TenantBooks, work: Callable[[], dict[str, Any]], write: bool = False
) -> dict[str, Any]:
    """Run `work` on a worker thread holding the tenant's books lock (shared to read, exclusive to mutate)."""
    lock = state.books_locks[books.tenant_id]

    def run() -> dict[str, Any]:
        with lock.writing() if write else lock.reading():
            return work()

    return await run_in_threadpool(run)


async def info(request: Request) -> Response:
    return JSONResponse(_state(request).info())


async def tenants(request: Request) -> Response:
    books = _state(request).world.tenants.values()
    return JSONResponse(
        {
            "tenants": [
                {
                    "tenant_id": b.tenant_id,
                    "name": b.name,
                    "country": b.country,
                    "size": b.size,
                    "tier": b.tier,
                    "short_code": b.short_code,
                }
                for b in books
            ]
        }
    )


async def consent(request: Request) -> Response:
    """{client_id, redirect_uri?, scope, tenant_ids?, state?, code_challenge?, code_challenge_method?, nonce?, user?}
    -> {code, redirect_url, auth_event_id, tenant_ids, scope}: what "Allow access" would have redirected to."""
    state = _state(request)
    body = await _json(request)
    identity = state.identity
    app = identity.app(str(body.get("client_id") or ""))
    redirect_uri = body.get("redirect_uri") or (app.redirect_uris[0] if app and app.redirect_uris else None)
    email = body.get("user") or state.user.email
    user = identity.user(email)
    if user is None:
        return _error("unknown_user", description=f"no sandbox user {email!r}; POST /_sandbox/users to add one")
    try:
        app = identity.check_client(body.get("client_id"), redirect_uri)
        scopes = identity.check_request(
            app, "code", body.get("scope"), body.get("code_challenge"), body.get("code_challenge_method")
        )
        tenant_ids = body.get("tenant_ids")
        if tenant_ids is None:
            tenant_ids = list(identity.tenants_for(user))
        code = identity.consent(
            user, app, str(redirect_uri), scopes, tenant_ids, body.get("code_challenge"), body.get("nonce")
        )
    except OAuthError as exc:
        return JSONResponse(exc.body(), status_code=400)
    connected = [c.tenant_id for c in identity.connections_by_event(code.auth_event_id)]
    return JSONResponse(
        {
            "code": code.code,
            "redirect_url": code_redirect_url(code, body.get("state")),
            "auth_event_id": code.auth_event_id,
            "tenant_ids": connected,
            "scope": " ".join(code.scopes),
        }
    )


async def truth(request: Request) -> Response:
    state = _state(request)
    books = state.tenant(request.path_params["tenant_id"])
    if books is None:
        return _error("unknown tenant", 404)
    return JSONResponse(await _in_books(state, books, books.truth))


async def stats(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.stats.reset()
        state.webhooks.reset_counts()
        return Response(status_code=204)
    return JSONResponse(
        {**state.stats.snapshot(), "limits": state.limiter.snapshot(), "webhooks": state.webhooks.snapshot()}
    )


async def limits(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.limiter.reset()
        return Response(status_code=204)
    return JSONResponse(
        {
            "config": dataclasses.asdict(state.limiter.limits),
            "day_limits": {tid: state.day_limit(tid) for tid in state.world.tenants},
            "tenants": state.limiter.snapshot(),
        }
    )


async def clock(request: Request) -> Response:
    state = _state(request)
    if request.method == "POST":
        body = await _json(request)
        if "advance_seconds" in body:
            state.clock.advance(float(body["advance_seconds"]))
        elif "now" in body:
            state.clock.set(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")))
        else:
            return _error('send {"advance_seconds": N} or {"now": "<ISO 8601>"}')
    return JSONResponse({"now": state.clock.now().isoformat()})


async def mutate(request: Request) -> Response:
    state = _state(request)
    spec = await _json(request)
    books = state.tenant(spec.get("tenant_id"))
    if books is None:
        return _error("unknown or missing tenant_id", 404)
    result = await _in_books(state, books, lambda: books.mutate(spec), write=True)
    state.webhooks.publish(books.tenant_id, result.get("changes", ()))
    return JSONResponse(result)


async def faults(request: Request) -> Response:
    state = _state(request)
    if request.method == "DELETE":
        state.faults.clear()
        return Response(status_code=204)
    if request.method == "POST":
        body = await _json(request)
        specs = body.get("rules", [body]) if "rules" in body else [body]
        rules = [FaultRule.from_json(spec) for spec in specs]  # validate all before adding any
        for rule in rules:
            state.faults.add(rule)
    return JSONResponse({"rules": [rule.to_json() for rule in state.faults.rules()]})


async def apps(request: Request) -> Response:
    """POST {name?, client_id?, client_secret? (null: a PKCE app), redirect_uris, allowed_scopes?,
    custom_connection_tenant_id?} registers an app. Posting an existing client_id adds its redirect_uris to that app
    and changes only the fields given (so a test can add a callback URI to the default app)."""
    state = _state(request)
    if request.method == "GET":
        return JSONResponse({"apps": [app.public() for app in state.identity.apps()]})
    body = await _json(request)
    existing = state.identity.app(str(body.get("client_id") or ""))
    if existing is not None:
        changes = {k: body[k] for k in ("client_secret", "name") if k in body}
        if "allowed_scopes" in body:
            changes["allowed_scopes"] = frozenset(body["allowed_scopes"]) if body["allowed_scopes"] else None
        app = state.identity.update_app(existing.client_id, body.get("redirect_uris") or (), **changes)
        return JSONResponse(app.public())
    has_secret = "client_secret" not in body or body["client_secret"] is not None
    app = App(
        client_id=str(body.get("client_id") or uuid.uuid4().hex.upper()),
        client_secret=(body.get("client_secret") or secrets.token_urlsafe(36)) if has_secret else None,
        name=str(body.get("name") or "Sandbox app"),
        redirect_uris=tuple(body.get("redirect_uris") or ()),
        allowed_scopes=frozenset(body["allowed_scopes"]) if body.get("allowed_scopes") else None,
        custom_connection_tenant_id=body.get("custom_connection_tenant_id"),
    )
    state.identity.register_app(app)
    return JSONResponse(app.public(), status_code=201)


async def users(request: Request) -> Response:
    state = _state(request)
    body = await _json(request)
    if not body.get("email") or not body.get("password"):
        return _error("email and password are required")
    tenant_ids = body.get("tenant_ids")
    unknown = [t for t in tenant_ids or () if t not in state.world.tenants]
    if unknown:
        return _error(f"unknown tenants {unknown}")
    user = state.identity.add_user(
        User(
            user_id=str(uuid.uuid4()),
            email=str(body["email"]),
            password=str(body["password"]),
            first_name=str(body.get("first_name") or "Sandbox"),
            last_name=str(body.get("last_name") or "User"),
            tenant_ids=frozenset(tenant_ids) if tenant_ids is not None else None,
        )
    )
    return JSONResponse({"user_id": user.user_id, "email": user.email}, status_code=201)


def _guarded(endpoint: Any) -> Any:
    """Bad control input is a 400 with the reason; a failure behind it (the books) a 500 that says what broke."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except QueryError as exc:  # the books refusing a spec, e.g. an unknown mutation
            return _error(exc.message, type=exc.type)
        except (ValueError, TypeError, KeyError) as exc:
            return _error(str(exc))
        except Exception as exc:
            log.exception("control route %s failed", request.url.path)
            return _error(f"{type(exc).__name__}: {exc}", 500)

    wrapped.__name__ = endpoint.__name__
    wrapped.__doc__ = endpoint.__doc__
    return wrapped


ROUTES = [
    Route("/_sandbox/info", _guarded(info), methods=["GET"]),
    Route("/_sandbox/tenants", _guarded(tenants), methods=["GET"]),
    Route("/_sandbox/consent", _guarded(consent), methods=["POST"]),
    Route("/_sandbox/truth/{tenant_id}", _guarded(truth), methods=["GET"]),
    Route("/_sandbox/stats", _guarded(stats), methods=["GET", "DELETE"]),
    Route("/_sandbox/limits", _guarded(limits), methods=["GET", "DELETE"]),
    Route("/_sandbox/clock", _guarded(clock), methods=["GET", "POST"]),
    Route("/_sandbox/mutate", _guarded(mutate), methods=["POST"]),
    Route("/_sandbox/faults", _guarded(faults), methods=["GET", "POST", "DELETE"]),
    Route("/_sandbox/apps", _guarded(apps), methods=["GET", "POST"]),
    Route("/_sandbox/users", _guarded(users), methods=["POST"]),
]
