"""The webhook receiver: a small Starlette app that `xero-assets webhooks` serves alone and `xero-assets serve`
mounts beside the Integrations page (`webhook_routes`, outside its admin login and CSRF checks: Xero signs each
delivery instead).

What Xero asks of it (developer.xero.com/documentation/webhooks/configuring-your-server): answer within 5 seconds,
200 with an empty body and no cookies for a correctly signed delivery, 401 for any other, including during "intent to
receive", when Xero sends empty deliveries signed rightly and wrongly. So the handler verifies the signature over the
raw bytes, stores the events in one transaction (`WebhookEventStore.record`, a few milliseconds) and only then
answers 200: an event Xero counts as delivered is on disk. It reads nothing but what identifies the event (tenant,
category, record id, date) and never takes data from the payload: the sensor's sync reads the record from Xero.
"""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xero_assets.store.webhook_events import MalformedEvent, WebhookEventStore
from xero_assets.webhooks.signature import SIGNATURE_HEADER, WEBHOOK_KEY_ENV, is_signed_by

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/xero/webhooks"
MAX_BODY_BYTES = 5 * 1024 * 1024  # Xero batches up to a few hundred small events; anything far larger is not Xero


def _empty(status: int) -> Response:
    return Response(status_code=status)  # no body and no cookies, as Xero requires


def webhook_routes(store: WebhookEventStore, key: str, path: str = WEBHOOK_PATH) -> list[Route]:
    """The receiver's one route, for mounting in another Starlette app."""
    if not key:
        raise ValueError(
            "a webhook receiver needs the webhook signing key (XERO_WEBHOOK_KEY): without it every "
            "delivery would be refused"
        )

    async def receive(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES or not is_signed_by(key, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("refused a webhook delivery with a missing or wrong %s", SIGNATURE_HEADER)
            return _empty(401)
        try:
            payload = json.loads(body)
            events = payload["events"]
            if not isinstance(events, list):
                raise TypeError("events is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            log.error("a correctly signed webhook delivery is not Xero's shape (%s); answering 400", exc)
            return _empty(400)
        if not events:
            return _empty(200)  # intent to receive (or an empty batch): nothing to store
        try:
            new = await run_in_threadpool(store.record, events)
        except MalformedEvent as exc:
            log.error("a correctly signed webhook delivery has a malformed event (%s); answering 400", exc)
            return _empty(400)
        log.info("stored %d new of %d webhook events", new, len(events))
        return _empty(200)

    return [Route(path, receive, methods=["POST"])]


def webhook_app(store: WebhookEventStore, key: str, path: str = WEBHOOK_PATH) -> Starlette:
    """The receiver as an app of its own (`xero-assets webhooks`)."""
    return Starlette(routes=webhook_routes(store, key, path))


def serve_receiver(host: str, port: int, path: str = WEBHOOK_PATH) -> None:
    """`xero-assets webhooks`: the receiver on its own, on our database (XERO_ASSETS_DATABASE_URL) with the webhook
    key Xero's developer portal shows for the app (XERO_WEBHOOK_KEY)."""
    import os

    import uvicorn

    from xero_assets.store.db import database_url_from_env, make_engine

    key = os.environ.get(WEBHOOK_KEY_ENV, "")
    if not key:
        raise SystemExit(
            f"xero-assets webhooks: set {WEBHOOK_KEY_ENV} to the webhook key of your Xero app (developer.xero.com, "
            "your app, Webhooks); without it no delivery can be verified."
        )
    store = WebhookEventStore(make_engine(database_url_from_env()))
    print(f"receiving Xero webhooks at http://{host}:{port}{path}", flush=True)
    uvicorn.run(webhook_app(store, key, path), host=host, port=port, log_level="warning")
