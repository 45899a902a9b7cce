"""The Starlette app: its shared state (token store, warehouse, Dagster client, sessions), the middleware that loads
the session and sets the security headers, and the routes of each page.

`create_app(settings, extra_routes=...)` is the one way in. With a webhook key in the settings it mounts Xero's
webhook receiver at `/xero/webhooks` (`xero_assets.webhooks.receiver`); other parts of the project may mount their
own routes through `extra_routes`. Those routes get no session, cookie or CSRF check of ours (Xero posts webhooks
with no session and signs each one; its docs ask for an answer without cookies) but do get the security headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from xero_assets.store.db import database_url_from_env, make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.store.warehouse import Warehouse
from xero_assets.store.webhook_events import WebhookEventStore
from xero_assets.web.dagster_runs import DagsterRuns
from xero_assets.web.datasets import DatasetReader
from xero_assets.web.render import HERE
from xero_assets.web.security import SESSION_COOKIE, LoginThrottle, Session, SessionStore
from xero_assets.web.settings import WebSettings
from xero_assets.webhooks.receiver import webhook_routes

log = logging.getLogger("xero_assets.web")


@dataclass
class WebState:
    """Everything the handlers share, built once per app."""

    settings: WebSettings
    store: TokenStore
    warehouse: Warehouse
    datasets: DatasetReader
    dagster: DagsterRuns
    sessions: SessionStore
    throttle: LoginThrottle

    def close(self) -> None:
        self.store.close()
        self.dagster.close()
        self.warehouse.engine.dispose()


def build_state(settings: WebSettings, database_url: str | None = None) -> WebState:
    from xero_assets.store.crypto import cipher_from_env
    from xero_assets.xero.oauth import XeroOAuth

    engine = make_engine(database_url or database_url_from_env())
    warehouse = Warehouse(engine)
    warehouse.create()
    return WebState(
        settings=settings,
        store=TokenStore(engine, cipher_from_env(), XeroOAuth(settings.xero)),
        warehouse=warehouse,
        datasets=DatasetReader(engine),
        dagster=DagsterRuns(settings.dagster_url),
        sessions=SessionStore(settings.session_idle_seconds),
        throttle=LoginThrottle(),
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SessionAndHeaders(BaseHTTPMiddleware):
    """Loads the session named by the cookie, sets the cookie when the session is new or rotated (or clears it when
    the session ended), adds the security headers, and logs each request without its query string (the OAuth
    callback's query holds the authorization code)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        state: WebState = request.app.state.web
        started = time.perf_counter()
        pages = request.url.path not in request.app.state.sessionless_paths
        sent = request.cookies.get(SESSION_COOKIE) if pages else None
        request.state.session = state.sessions.get(sent) if pages else None
        response = await call_next(request)
        if pages:  # a webhook (or another extra route) gets no session cookie, set or cleared
            self._session_cookie(response, request.state.session, sent, state.settings.session_idle_seconds)
        login = _origin(state.settings.xero.authorize_url)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action 'self' {login}; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        log.info(
            "%s %s %s %.0f ms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    @staticmethod
    def _session_cookie(response: Response, session: Session | None, sent: str | None, idle_seconds: float) -> None:
        if session is not None and session.id != sent:
            response.set_cookie(
                SESSION_COOKIE, session.id, httponly=True, secure=True, samesite="lax", path="/",
                max_age=int(idle_seconds),
            )  # fmt: skip
        elif session is None and sent:
            response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def page_routes(settings: WebSettings) -> list[BaseRoute]:
    from xero_assets.web.routes import auth, connect, dashboards, organisation

    async def home(request: Request) -> Response:
        return RedirectResponse("/integrations", status_code=303)

    return [
        Route("/", home),
        *auth.ROUTES,
        *connect.routes(settings.callback_path),
        *organisation.ROUTES,
        *dashboards.ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


def create_app(
    settings: WebSettings, *, database_url: str | None = None, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The Integrations web app, with Xero's webhook receiver when `settings.webhook_key` is set. `extra_routes` are
    mounted beside the pages (before them, so they win)."""
    state = build_state(settings, database_url)
    outside = list(extra_routes)
    if settings.webhook_key:
        outside += webhook_routes(WebhookEventStore(state.warehouse.engine), settings.webhook_key)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()

    app = Starlette(
        routes=[*outside, *page_routes(settings)],
        middleware=[Middleware(SessionAndHeaders)],
        lifespan=lifespan,
    )
    app.state.web = state
    app.state.sessionless_paths = frozenset(route.path for route in outside if isinstance(route, Route))
    return app
