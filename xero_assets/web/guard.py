"""Who may do what: every page but the login needs the admin's session, and every form its CSRF token.

Handlers are wrapped, not left to remember: `admin_page` for GETs (no session: off to the login page),
`admin_form` for POSTs (no session, or a missing or wrong CSRF token: 403, nothing done).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from xero_assets.web.security import CSRF_FIELD, Session, csrf_ok

log = logging.getLogger(__name__)

Page = Callable[[Request], Awaitable[Response]]
SyncPage = Callable[[Request], Response]
FormHandler = Callable[[Request, ImmutableMultiDict], Response]
MAX_FORM_BYTES = 64 * 1024


def session_of(request: Request) -> Session | None:
    return getattr(request.state, "session", None)


def ensure_session(request: Request) -> Session:
    """The visitor's session, starting an anonymous one (for the login form's CSRF token) when there is none."""
    session = session_of(request)
    if session is None:
        session = request.app.state.web.sessions.new()
        request.state.session = session
    return session


def client_key(request: Request) -> str:
    """Whom login throttling counts against: the peer address (the app serves directly, behind no proxy)."""
    return request.client.host if request.client else "unknown"


async def read_form(request: Request) -> ImmutableMultiDict:
    """A url-encoded form body (every form here is one), refusing oversized bodies."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return ImmutableMultiDict()
    return ImmutableMultiDict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def refused(reason: str, status: int = 403) -> Response:
    log.warning("refused %s", reason)
    return PlainTextResponse(f"Refused: {reason}.", status_code=status, headers={"Cache-Control": "no-store"})


def admin_page(handler: SyncPage) -> Page:
    """A GET for the admin only. The handler is plain (blocking: database, Dagster) and runs in the thread pool,
    so a slow Dagster never stalls the other pages."""

    @functools.wraps(handler)
    async def page(request: Request) -> Response:
        session = session_of(request)
        if session is None or not session.authenticated:
            target = request.url.path
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return await run_in_threadpool(handler, request)

    return page


async def checked_form(request: Request, *, need_admin: bool) -> ImmutableMultiDict | Response:
    """The form when its CSRF token is the session's (and the session is the admin's when asked), else a 403."""
    session = session_of(request)
    if session is None:
        return refused("no session (sign in first)")
    if need_admin and not session.authenticated:
        return refused("not signed in")
    form = await read_form(request)
    if not csrf_ok(session, form.get(CSRF_FIELD)):
        return refused("missing or wrong CSRF token (reload the page and try again)")
    return form


def admin_form(handler: FormHandler) -> Page:
    """A POST for the admin only, with its CSRF token checked before the (blocking) handler runs."""

    @functools.wraps(handler)
    async def post(request: Request) -> Response:
        form = await checked_form(request, need_admin=True)
        if isinstance(form, Response):
            return form
        return await run_in_threadpool(handler, request, form)

    return post
