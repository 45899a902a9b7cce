"""Integrations, Connect (the permission list), Xero's callback and the success page.

The flow is the product page's: Integrations -> Xero -> the Permission List (defaults checked, optional ones not)
-> Sync -> Xero's login and "Allow access" -> "Xero oauth redirect success!" -> back to Integrations. The state
and PKCE verifier of each authorize request stay in the server-side session; the callback accepts a state only
once, only in the session that started it, and only within CONSENT_LIFETIME_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from xero_assets import catalog
from xero_assets.connections import SUCCESS_TEXT, finish_consent
from xero_assets.store.tokens import Connection
from xero_assets.web.app import WebState
from xero_assets.web.dagster_runs import DagsterUnavailable
from xero_assets.web.guard import admin_form, admin_page, refused, session_of
from xero_assets.web.organisations import card_status, organisations
from xero_assets.web.render import render
from xero_assets.web.routes.organisation import launch_sync
from xero_assets.web.security import PendingConsent, Session
from xero_assets.xero.errors import XeroError
from xero_assets.xero.scopes import PERMISSIONS, ScopeStyle, expand

log = logging.getLogger(__name__)

REQUIRED = "offline_access"  # without it there is no refresh token and every sync stops after 30 minutes


@dataclass(frozen=True)
class PermissionRow:
    scope: str
    default: bool
    description: str
    apis: list[str]  # the catalog APIs it grants (titles)
    granted_now: bool


def _granted_by(scopes: list[str]) -> list[catalog.XeroApi]:
    return [api for api in catalog.SYNCABLE if api.is_granted(scopes)]


def permission_rows(style: ScopeStyle, current: set[str]) -> list[PermissionRow]:
    rows = []
    for permission in PERMISSIONS:
        requested = expand([permission.scope], style)
        apis = [api.title for api in _granted_by(requested)]
        rows.append(
            PermissionRow(
                scope=permission.scope,
                default=permission.default,
                description=permission.xero_description,
                apis=apis,
                granted_now=bool(current) and all(s in current for s in requested),
            )
        )
    return rows


@dataclass(frozen=True)
class Change:
    """What a reconnect changed for one organisation: the APIs its new scopes add and remove."""

    name: str
    added: list[str]
    removed: list[str]


def changes(before: dict[str, tuple[str, ...]], saved: list[Connection]) -> list[Change]:
    out = []
    for connection in saved:
        if connection.tenant_id not in before:
            continue
        old = {a.name for a in _granted_by(list(before[connection.tenant_id]))}
        new = {a.name for a in _granted_by(list(connection.scopes))}
        titles = {a.name: a.title for a in catalog.SYNCABLE}
        out.append(
            Change(
                connection.tenant_name,
                sorted(titles[n] for n in new - old),
                sorted(titles[n] for n in old - new),
            )
        )
    return out


# --- pages ---------------------------------------------------------------------------------------------------------


@admin_page
def integrations(request: Request) -> Response:
    state = request.app.state.web
    orgs = organisations(state.store.list_connections(include_removed=True), state.warehouse)
    return render(request, "integrations.html", orgs=orgs, status=card_status(orgs))


@admin_page
def connect_page(request: Request) -> Response:
    state = request.app.state.web
    active = [c for c in state.store.list_connections() if c.active]
    current = set.intersection(*(set(c.scopes) for c in active)) if active else set()
    return render(
        request,
        "connect.html",
        permissions=permission_rows(state.settings.scope_style, current),
        style=state.settings.scope_style.value,
        reconnect=bool(active),
        connected=[c.tenant_name for c in active],
    )


@admin_form
def connect_start(request: Request, form: ImmutableMultiDict) -> Response:
    """Build the authorize request for the chosen permissions and send the browser to Xero."""
    state = request.app.state.web
    known = {p.scope for p in PERMISSIONS}
    chosen = [scope for scope in form.getlist("permission") if scope in known]
    if REQUIRED not in chosen:
        chosen.insert(0, REQUIRED)
    if chosen == [REQUIRED]:
        session_of(request).notice = "Choose at least one permission besides offline_access."  # type: ignore[union-attr]
        return RedirectResponse("/integrations/xero/connect", status_code=303)
    scopes = expand(chosen, state.settings.scope_style)
    authorize = state.store.oauth.authorization_request(scopes)
    known = state.store.list_connections(include_removed=True)
    before = tuple((c.tenant_id, c.scopes) for c in known if c.active)
    session_of(request).add_pending(  # type: ignore[union-attr]
        PendingConsent(
            authorize.state, authorize.code_verifier, authorize.redirect_uri, tuple(scopes), time.monotonic(), before,
            frozenset(c.tenant_id for c in known),
        )
    )  # fmt: skip
    return RedirectResponse(authorize.url, status_code=303)


async def callback(request: Request) -> Response:
    """Xero's redirect: refused unless its state is one this signed-in session started and has not used yet."""
    session = session_of(request)
    if session is None or not session.authenticated:
        return refused("the Xero redirect arrived without the admin's session (sign in and connect again)")
    params = request.query_params
    pending = session.take_pending(params.get("state", ""), time.monotonic())
    if pending is None:
        return refused("the OAuth state does not match a connect started here, or was already used or expired")
    if params.get("error"):
        session.notice = f"Xero did not connect: {params['error']}. Nothing was changed."
        return RedirectResponse("/integrations", status_code=303)
    code = params.get("code")
    if not code:
        return refused("the Xero redirect carries neither a code nor an error", status=400)
    return await run_in_threadpool(_complete, request.app.state.web, session, pending, code)


def _complete(state: WebState, session: Session, pending: PendingConsent, code: str) -> Response:
    """Redeem the code (with the PKCE verifier only this session holds) and store the organisations.

    A new organisation's first sync is the tenant sensor's (it adds the partition and requests the sync, once per
    tenant); starting one here too would race it into two. An organisation known before (a reconnect, maybe with
    new permissions) has its partition already, so the sensor leaves it alone: its sync starts here, in the
    background (Dagster can take seconds to accept a run; the admin should not wait on it)."""
    try:
        saved = finish_consent(state.store, code, pending.code_verifier, pending.redirect_uri)
    except XeroError as exc:
        log.warning("consent could not be completed: %s", type(exc).__name__)
        session.notice = f"Xero did not connect: {exc}"
        return RedirectResponse("/integrations", status_code=303)
    state.warehouse.set_tenant_status([(c.tenant_id, c.tenant_name, str(c.status)) for c in saved])
    result: dict[str, Any] = {
        "names": [c.tenant_name for c in saved],
        "changes": changes(dict(pending.scopes_before), saved),
        "runs": [],
        "problem": None,
        "new": [c.tenant_name for c in saved if c.tenant_id not in pending.known_before],
    }
    session.connected = result
    again = [c for c in saved if c.tenant_id in pending.known_before]
    threading.Thread(target=_resyncs, args=(state, again, result), name="resync", daemon=True).start()
    return RedirectResponse("/integrations/xero/connected", status_code=303)


def _resyncs(state: WebState, reconnected: list[Connection], result: dict[str, Any]) -> None:
    for connection in reconnected:
        try:
            result["runs"].append((connection.tenant_name, launch_sync(state, connection, None, source="reconnect")))
        except DagsterUnavailable as exc:
            result["problem"] = f"The sync after reconnecting could not start: {exc}"
            log.warning("sync of %s after reconnecting not started: %s", connection.tenant_id, exc)
            return


@admin_page
def connected(request: Request) -> Response:
    """The success page. Reached by redirect so reloading it never replays the callback."""
    result = getattr(session_of(request), "connected", None)
    if not result:
        return RedirectResponse("/integrations", status_code=303)
    dagster = request.app.state.web.dagster
    return render(
        request,
        "connected.html",
        success_text=SUCCESS_TEXT,
        names=result["names"],
        changes=result["changes"],
        runs=[(name, dagster.run_url(run_id)) for name, run_id in result["runs"]],
        problem=result["problem"],
        new=result["new"],
    )


def routes(callback_path: str) -> list[Route]:
    return [
        Route("/integrations", integrations),
        Route("/integrations/xero/connect", connect_page, methods=["GET"]),
        Route("/integrations/xero/connect", connect_start, methods=["POST"]),
        Route("/integrations/xero/connected", connected),
        Route(callback_path, callback),
    ]
