"""The control routes for webhooks (not Xero's API: what Xero's developer portal does when an app sets its webhook).

- GET    /_sandbox/webhooks              {"webhooks": [{id, client_id, url, key, status, retry_base_s, retry_max_s}]}
- POST   /_sandbox/webhooks              {url, client_id? (default: the default web app), key? (default: a new one),
                                          retry_base_s? (5), retry_max_s? (3600), intent? (false)} -> 201 the webhook
                                          with its signing `key`; with "intent": true, also runs intent to receive
                                          and returns its result under "intent"
- POST   /_sandbox/webhooks/{id}/intent  runs intent to receive now -> {status, passed, probes: [{correctly_signed,
                                          status}]}; until it passes, nothing is delivered
- DELETE /_sandbox/webhooks/{id}         removes the webhook (queued events are dropped)

Deliveries and their outcomes are counted per app under "webhooks" in GET /_sandbox/stats (see webhooks.py).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xero_assets.sandbox.control import _error, _guarded, _json, _state


async def webhooks(request: Request) -> Response:
    state = _state(request)
    if request.method == "GET":
        return JSONResponse({"webhooks": [hook.public() for hook in state.webhooks.all()]})
    body = await _json(request)
    if not body.get("url"):
        return _error('send {"url": "https://your.receiver/path"} (client_id, key optional)')
    client_id = str(body.get("client_id") or state.web_app.client_id)
    if state.identity.app(client_id) is None:
        return _error(f"no app {client_id!r}; POST /_sandbox/apps to register one", 404)
    hook = state.webhooks.register(
        client_id,
        str(body["url"]),
        key=body.get("key"),
        retry_base_s=float(body.get("retry_base_s", 5.0)),
        retry_max_s=float(body.get("retry_max_s", 3600.0)),
    )
    out = hook.public()
    if body.get("intent"):
        out["intent"] = await run_in_threadpool(state.webhooks.intent_to_receive, hook)
        out["status"] = hook.status
    return JSONResponse(out, status_code=201)


async def intent(request: Request) -> Response:
    state = _state(request)
    hook = state.webhooks.get(request.path_params["webhook_id"])
    if hook is None:
        return _error("unknown webhook", 404)
    return JSONResponse(await run_in_threadpool(state.webhooks.intent_to_receive, hook))


async def webhook(request: Request) -> Response:
    if not _state(request).webhooks.remove(request.path_params["webhook_id"]):
        return _error("unknown webhook", 404)
    return Response(status_code=204)


ROUTES = [
    Route("/_sandbox/webhooks", _guarded(webhooks), methods=["GET", "POST"]),
    Route("/_sandbox/webhooks/{webhook_id}/intent", _guarded(intent), methods=["POST"]),
    Route("/_sandbox/webhooks/{webhook_id}", _guarded(webhook), methods=["DELETE"]),
]
