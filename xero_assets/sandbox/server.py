"""The sandbox server: Xero's identity, connections and data APIs plus /_sandbox/ control, on one Starlette app.

- `create_app(config)` builds the app (books, default apps and user, limits, faults, stats);
- `serve_forever(config, host, port)` is `xero-assets sandbox`: it prints ONE JSON line (base URL, default app
  credentials, login, tenants; see `SandboxState.info`) and serves with uvicorn until interrupted;
- `running_sandbox(config)` serves the same app from a background thread on 127.0.0.1 (a free port) for tests,
  benchmarks and the demo, so they talk real HTTP over loopback exactly as a client talks to Xero.

Paths are Xero's own, so a client changes base URLs only: /identity/connect/authorize, /connect/token,
/connect/revocation, /connect/userinfo, /.well-known/openid-configuration (+ /jwks), /connections,
/api.xro/2.0/..., /payroll.xro/1.0/..., /payroll.xro/2.0/.... The control API is under /_sandbox/ (control.py).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from xero_assets.sandbox import control, identity_routes, webhook_routes, wire
from xero_assets.sandbox.middleware import XeroResponses
from xero_assets.sandbox.routes import data_api, is_data_path
from xero_assets.sandbox.state import SandboxConfig, SandboxState, World, build_state

__all__ = ["SandboxConfig", "SandboxHandle", "create_app", "running_sandbox", "serve_forever"]

_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _DataRoute(Route):
    """Every path under a data API's prefix, in any case (Xero's router ignores case, so `/API.XRO/2.0/INVOICES`
    is the invoices list): `data_api` resolves the rest against the catalog, and answers 404 itself."""

    def __init__(self) -> None:
        super().__init__("/api.xro/2.0/{rest:path}", data_api, methods=_ANY_METHOD)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and is_data_path(scope["path"]):
            return Match.FULL, {"endpoint": self.endpoint, "path_params": {}}
        return Match.NONE, {}


async def _not_found(request: Request, exc: Exception) -> Response:
    return wire.not_found()


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return wire.method_not_allowed()


def create_app(config: SandboxConfig | None = None, world: World | None = None) -> Starlette:
    """The sandbox as an ASGI app. `world` replaces the books built from `config` (tests may pass their own)."""
    state = build_state(config or SandboxConfig(), world)
    routes = [
        Route("/identity/connect/authorize", identity_routes.authorize, methods=["GET", "POST"]),
        Route("/connect/token", identity_routes.token, methods=["POST"]),
        Route("/connect/revocation", identity_routes.revocation, methods=["POST"]),
        Route("/connect/userinfo", identity_routes.userinfo, methods=["GET"]),
        Route("/.well-known/openid-configuration", identity_routes.openid_configuration, methods=["GET"]),
        Route("/.well-known/openid-configuration/jwks", identity_routes.jwks, methods=["GET"]),
        Route("/connections", identity_routes.connections, methods=["GET"]),
        Route("/connections/{connection_id}", identity_routes.connection, methods=_ANY_METHOD),
        *control.ROUTES,
        *webhook_routes.ROUTES,
        _DataRoute(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(XeroResponses, state=state)],
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.sandbox = state
    return app


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _base_url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://{shown}:{port}"


def _server(app: Starlette, quiet: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve_forever(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8790) -> None:
    """`xero-assets sandbox`: print the connection details as one JSON line on stdout, then serve until Ctrl-C."""
    app = create_app(config)
    state: SandboxState = app.state.sandbox
    sock = _bind(host, port)
    state.set_base_url(_base_url(host, sock))
    sys.stdout.write(json.dumps(state.info()) + "\n")
    sys.stdout.flush()
    try:
        _server(app, quiet=False).run(sockets=[sock])
    finally:
        state.webhooks.close()


@dataclass
class SandboxHandle:
    """A sandbox serving in the background: where it is and its live state (clock, identity, stats, ...)."""

    base_url: str
    app_state: SandboxState
    app: Starlette

    @property
    def info(self) -> dict[str, Any]:
        return self.app_state.info()


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, world: World | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SandboxHandle]:
    """Serve a sandbox on a background thread for the duration of the block (real HTTP over loopback)."""
    app = create_app(config, world)
    state: SandboxState = app.state.sandbox
    sock = _bind(host, port)
    state.set_base_url(_base_url(host, sock))
    server = _server(app, quiet=True)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="xero-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    try:
        yield SandboxHandle(state.base_url, state, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        state.webhooks.close()
