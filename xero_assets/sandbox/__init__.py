"""The emulated Xero: identity, Accounting and Payroll on Xero's own paths, over deterministic books that balance.

Start one with `xero-assets sandbox` (or `server.running_sandbox` in tests); it is driven through its control API
under /_sandbox/ (control.py lists every route). Paths are routed as Xero routes them (routes.py): any case, one
trailing slash, `/Organisations` for `/Organisation`.

Webhooks (webhooks.py, webhook_routes.py), as Xero's developer portal sets them up:

    POST /_sandbox/webhooks {"url": "http://host:port/path", "client_id"?: app, "key"?: signing key,
                             "retry_base_s"?: 5, "retry_max_s"?: 3600, "intent"?: false}
         -> 201 {"id", "client_id", "url", "key", "status": "INTENT_TO_RECEIVE_REQUIRED" | "OK", "intent"?: {...}}
    POST /_sandbox/webhooks/{id}/intent  -> {"status", "passed", "probes": [{"correctly_signed", "status"}]}
    GET  /_sandbox/webhooks; DELETE /_sandbox/webhooks/{id}; per-app counts under "webhooks" in GET /_sandbox/stats

An app (the default web app unless `client_id` says otherwise) has one webhook. Its receiver must verify
`x-xero-signature` (base64 HMAC-SHA256 of the raw body, keyed with `key`), answer 401 when it does not match and 200
(empty body) when it does. Nothing is delivered until intent to receive passes (four empty-`events` probes, two
signed with the key, two with another key). Then every /_sandbox/mutate of invoices, contacts or credit notes in an
organisation connected to the app is POSTed as Xero's payload: `{"events": [{resourceUrl, resourceId, eventDateUtc,
eventType: CREATE|UPDATE, eventCategory: INVOICE|CONTACT|CREDITNOTE, tenantId, tenantType}], "firstEventSequence",
"lastEventSequence", "entropy"}`, one event per changed record, `resourceUrl` on the sandbox's base URL. A delivery
that is not answered 200 is retried (same events) after retry_base_s, doubling to retry_max_s; events queued
meanwhile arrive batched. After 24 hours of failures on the sandbox clock the webhook is DISABLED until intent to
receive passes again.
"""
