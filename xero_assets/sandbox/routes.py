"""The data APIs (api.xro/2.0, payroll.xro/1.0, payroll.xro/2.0): Xero's checks in Xero's order, then the books.

Each call goes through, in order: bearer token (401 AuthenticationUnsuccessful / TokenExpired), xero-tenant-id
(403 AuthenticationUnsuccessful when missing, unknown or not connected for this token), rate limits (429, and the
X-*Limit-Remaining headers on everything after this point), injected faults, method (only GET: the sandbox is
read-only, and stats count the attempt), the catalog route (404 plain text), scope (401 AuthorizationUnsuccessful),
the organisation's region and removed endpoints (404), then the books and the wire format.

Which path serves which API comes from the catalog alone (`Endpoint.full_path`), so there is no second table here.
Paths are matched as Xero's router matches them, which long-lived clients rely on against production Xero:
case-insensitively (singer-io/tap-xero requests `stream_id.title()` paths, other clients lowercase ones, payroll
clients `/employees`), with or without one trailing slash, and `/Organisations` (the spelling of pyxero's
`organisations` manager and of tap-xero) as `/Organisation`. Anything else
stays Xero's 404 plain text. Record ids and path arguments keep the case they were sent in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from xero_assets.catalog import CATALOG, ApiBase, Endpoint, Kind, XeroApi
from xero_assets.sandbox import extras, wire
from xero_assets.sandbox.faults import faulted
from xero_assets.sandbox.identity import AccessToken
from xero_assets.sandbox.identity_routes import bearer
from xero_assets.sandbox.state import ReadWriteLock, SandboxState, TenantBooks

DATA_PREFIXES = tuple(base.value for base in ApiBase)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """One resolved data path: the catalog API and endpoint, and the record id or path arguments it carried."""

    api: XeroApi
    endpoint: Endpoint
    label: str  # the path template, for stats
    record_id: str | None = None
    path_args: Mapping[str, str] | None = None
    extra: extras.Extra | None = None  # a spec GET beyond the catalog (extras.py); `api` is then its parent's


def _extra_route(found: tuple[extras.Extra, dict[str, str]], fallback: XeroApi) -> Route:
    extra, args = found
    api = extra.parent or fallback
    args = {name: _id(value) for name, value in args.items()}
    return Route(api, api.endpoint, "/api.xro/2.0" + extra.template, path_args=args, extra=extra)


# Other spellings Xero's router answers for a catalog path (full paths; matched case-insensitively like the rest).
ALIASES: Mapping[str, tuple[str, ...]] = {"/api.xro/2.0/Organisation": ("/api.xro/2.0/Organisations",)}


_compile = extras.compile_template


_Table = list[tuple[re.Pattern[str], XeroApi, Endpoint]]


def _routes() -> tuple[_Table, _Table]:
    lists: _Table = []
    singles: _Table = []
    for api in CATALOG:
        distinct = {e.full_path: e for e in (api.endpoint, *api.regional.values())}
        for endpoint in distinct.values():
            for path in (endpoint.full_path, *ALIASES.get(endpoint.full_path, ())):
                lists.append((_compile(path), api, endpoint))
                if endpoint.id_field and "{" not in endpoint.path:
                    singles.append((_compile(path + "/{record_id}"), api, endpoint))
    return lists, singles


_LISTS, _SINGLES = _routes()


_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def _id(value: str) -> str:
    """A GUID in any case is the same record to Xero (the books key them in lowercase); other ids (JournalNumber,
    InvoiceNumber) pass as sent."""
    return value.lower() if _GUID.match(value) else value


def resolve(path: str) -> Route | None:
    """The catalog entry for a data path; collection paths win over `/{Collection}/{id}` (so /Reports/BalanceSheet
    is the balance sheet, while /Reports/{ReportID} is a published tax report)."""
    for pattern, api, endpoint in _LISTS:
        match = pattern.match(path)
        if match:
            args = {name: _id(value) for name, value in match.groupdict().items()}
            if endpoint.path.endswith("}"):  # a record's own path (AU payroll's /Employees/{EmployeeID}): one record
                return Route(api, endpoint, endpoint.full_path, record_id=args[endpoint.path.rsplit("{", 1)[1][:-1]])
            return Route(api, endpoint, endpoint.full_path, path_args=args)
    found = extras.resolve(path)  # before single records: /Organisation/Actions is not an organisation id
    if found is not None:
        return _extra_route(found, CATALOG[0])
    for pattern, api, endpoint in _SINGLES:
        match = pattern.match(path)
        if match:
            return Route(api, endpoint, endpoint.full_path + "/{id}", record_id=_id(match.group("record_id")))
    return None


def is_data_path(path: str) -> bool:
    """True for a path under one of the data APIs' prefixes, in any case (the server routes these to `data_api`)."""
    lowered = path.lower()
    return any(lowered.startswith(prefix.lower() + "/") for prefix in DATA_PREFIXES)


async def data_api(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    path = request.url.path
    route = resolve(path)
    request.state.stats_path = route.label if route else path
    request.state.data_api = True
    access = bearer(state, request)
    if isinstance(access, Response):
        return access
    tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()  # a GUID: case does not matter
    books = state.tenant(tenant_id)
    if books is None or tenant_id not in state.identity.connected_tenant_ids(access):
        return wire.forbidden()
    request.state.tenant_id = tenant_id
    decision = state.limiter.acquire(tenant_id, access.client_id)
    if not decision.allowed:
        state.stats.record_rate_limited(decision.problem or "")
        return wire.rate_limited(decision.problem or "", decision.retry_after, decision.headers)
    try:
        rule = state.faults.pick(path, tenant_id, "data")
        if rule is not None:
            state.stats.record_fault(rule.kind)

        async def produce() -> Response:
            response = await _answer(request, state, access, books, route)
            response.headers.update(decision.headers)
            return response

        response = await faulted(state.faults, rule, produce, decision.headers)
    finally:
        state.limiter.release(tenant_id)
    return response


async def _answer(
    request: Request, state: SandboxState, access: AccessToken, books: TenantBooks, route: Route | None
) -> Response:
    """Everything after admission: method, route, scope, region, then the books."""
    if request.method != "GET":
        return wire.method_not_allowed()
    if route is None:
        return wire.not_found()
    if route.extra is None:
        serving = route.api.endpoint_for(books.country)
        if serving is None or serving.full_path != route.endpoint.full_path:
            # A catalog path this country does not sync may still be a spec GET Xero serves there (GB /Reports).
            found = extras.resolve(request.url.path, books.country)
            route = _extra_route(found, route.api) if found is not None else route
    request.state.api = route.api.name
    granted = set(access.scopes)
    if not (route.extra.is_granted(granted) if route.extra else route.api.is_granted(granted)):
        return wire.unauthorized("AuthorizationUnsuccessful")
    serving = route.api.endpoint_for(books.country)
    if route.extra is not None:
        if not route.extra.serves(books.country):
            return wire.not_found()
    elif route.api.removed or serving is None or serving.full_path != route.endpoint.full_path:
        # Xero removed the accounting Employees endpoint (28 April 2026) and has no payroll API outside a country's
        # own: both answer as an unknown resource, 404 plain text.
        return wire.not_found()
    call = _Read(
        route=route,
        params=dict(request.query_params),
        if_modified_since=request.headers.get("if-modified-since"),
        accept=request.headers.get("accept"),
        provider=(state.identity.app(access.client_id) or state.web_app).name,
        now=state.clock.now(),
        base_url=state.base_url,
    )
    return await run_in_threadpool(_render, state.books_locks[books.tenant_id], books, call)


@dataclass(frozen=True)
class _Read:
    """What one data call asks of the books, taken from the request before leaving the event loop."""

    route: Route
    params: dict[str, str]
    if_modified_since: str | None
    accept: str | None
    provider: str
    now: datetime
    base_url: str


def _render(lock: ReadWriteLock, books: TenantBooks, call: _Read) -> Response:
    """Read the books and encode the answer (in a worker thread: a 1,000-invoice page is real work), with the
    tenant's books held for reading so a concurrent /_sandbox/mutate never shows half an edit."""
    with lock.reading():
        return _read(books, call)


def _read(books: TenantBooks, call: _Read) -> Response:
    from xero_assets.sandbox.books.query import Query, QueryError

    route, accept, now, provider, params = call.route, call.accept, call.now, call.provider, call.params
    api, endpoint, base = route.api, route.endpoint, route.endpoint.base
    try:
        if route.extra is not None:
            return _read_extra(books, call, route.extra)
        if api.kind is Kind.REPORT:
            result = books.report(api, params, route.record_id)
            reports = result if isinstance(result, list) else [result]
            return wire.document(wire.envelope(base, "Reports", reports, now, provider), base, accept)
        if route.record_id is not None:
            record = books.get(api, endpoint, route.record_id)
            if record is None:
                return wire.not_found()
            if base is ApiBase.PAYROLL_V2:  # payroll 2.0 answers one record under a singular key
                body = wire.envelope(base, wire.singular(endpoint.json_key), record, now, provider)
            else:
                body = wire.envelope(base, endpoint.json_key, [record], now, provider)
            return wire.document(body, base, accept)
        query = Query.from_params(params, call.if_modified_since, **(route.path_args or {}))
        page = books.list(api, endpoint, query)
        body = wire.envelope(base, endpoint.json_key, page.records, now, provider, page.pagination)
        return wire.document(body, base, accept)
    except QueryError as exc:
        return wire.bad_request(exc.type, exc.message, base, accept)
    except Exception:
        # A bug in the books must look like Xero's own unhandled error (500), not kill the client's connection.
        log.exception("the books failed on %s", route.label)
        return wire.server_error()


def _read_extra(books: TenantBooks, call: _Read, extra: extras.Extra) -> Response:
    """A spec GET beyond the catalog (extras.py): JSON in the accounting envelope, or a file's bytes."""
    today = call.now.date()
    answer = extra.answer(extras.Call(books, call.route.path_args or {}, call.params, call.base_url, today))
    if answer is None:
        return wire.not_found()
    if isinstance(answer, extras.File):
        return Response(answer.content, media_type=answer.media_type)
    body = wire.envelope(ApiBase.ACCOUNTING, answer.key, answer.records, call.now, call.provider)
    return wire.document(body, ApiBase.ACCOUNTING, call.accept)
