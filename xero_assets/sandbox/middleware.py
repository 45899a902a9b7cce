"""What every Xero response gets, whichever route made it: Xero-Correlation-Id, the configured latency, and a line
in the stats.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware) so dropped and truncated responses reach the socket
exactly as the fault injector wrote them. Routes leave what the stats need in `request.state`: `stats_path` (the route
template), `tenant_id`, `api` and `data_api`. The /_sandbox/ control API is neither delayed nor counted.
"""

from __future__ import annotations

import asyncio
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xero_assets.sandbox.state import SandboxState

CONTROL_PREFIX = "/_sandbox"


class XeroResponses:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        control = path.startswith(CONTROL_PREFIX)
        delay = 0.0 if control else self.state.config.latency_ms / 1000
        correlation_id = str(uuid.uuid4())
        status: int | str = "dropped"

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("Xero-Correlation-Id", correlation_id)
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if not control:
                seen = scope.get("state") or {}
                self.state.stats.record_request(
                    method=scope["method"],
                    path=seen.get("stats_path", path),
                    status=status,
                    tenant_id=seen.get("tenant_id"),
                    api=seen.get("api"),
                    data_api=bool(seen.get("data_api")),
                    at=self.state.clock.now(),
                )
