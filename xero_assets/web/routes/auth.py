"""Sign in and out. The password comes from XERO_ASSETS_ADMIN_PASSWORD; failed attempts are throttled per client
and overall; a successful sign-in rotates the session id so one planted before it is worthless."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from xero_assets.web.guard import checked_form, client_key, ensure_session, session_of
from xero_assets.web.render import render
from xero_assets.web.security import password_ok


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//other.host` or a URL), so the login cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/integrations"


async def login(request: Request) -> Response:
    state = request.app.state.web
    if request.method == "GET":
        session = ensure_session(request)
        if session.authenticated:
            return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        return render(request, "login.html", next=_safe_next(request.query_params.get("next")))
    form = await checked_form(request, need_admin=False)
    if isinstance(form, Response):
        return form
    client = client_key(request)
    target = _safe_next(form.get("next"))
    wait = state.throttle.wait_seconds(client)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        return render(request, "login.html", status_code=429, error=message, next=target)
    if not password_ok(state.settings.admin_password, form.get("password", "")):
        state.throttle.failed(client)
        return render(request, "login.html", status_code=401, error="That password is not right.", next=target)
    state.throttle.succeeded(client)
    session = state.sessions.rotate(ensure_session(request))
    session.authenticated = True
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await checked_form(request, need_admin=False)
    if isinstance(form, Response):
        return form
    session = session_of(request)
    if session is not None:
        request.app.state.web.sessions.drop(session)
    request.state.session = None
    return RedirectResponse("/login", status_code=303)


ROUTES = [Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["POST"])]
