"""The read-only Xero data client: one pooled HTTP client per app, one paced `TenantClient` per tenant.

It does what open-source Xero syncs have got wrong (Airbyte's source-xero 2.0.1 made its first request unpaged, so every
invoice arrived twice; singer-io/tap-xero's mid-run 401 kills the run; airbytehq/airbyte#38928 never refreshes): it
never makes an unpaged first call, it refreshes and retries once when an access token expires mid-run, it raises scope
and tenant errors instead of returning nothing, it paces itself under Xero's limits instead of bursting into 429s, and
it cannot write: no public method sends any verb but GET to api.xro or payroll.xro, and an HTTP hook refuses one before
it leaves the process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import orjson

from xero_assets.catalog import JOURNALS_PAGE_SIZE, PAGE_ONLY_SIZE, PAGE_SIZE_MAX, Endpoint, Paging
from xero_assets.xero import lazy_json
from xero_assets.xero.dates import format_if_modified_since
from xero_assets.xero.errors import (
    BadResponse,
    DayLimitReached,
    RequestRejected,
    ScopeNotGranted,
    TenantNotConnected,
    WriteNotAllowed,
    XeroError,
    XeroUnavailable,
    scope_hint,
)
from xero_assets.xero.limiter import (
    AppLimiter,
    Clock,
    DayAllowanceSpent,
    RateLimits,
    SharedPacing,
    Sleep,
    TenantLimiter,
    backoff_delay,
    header_int,
)

log = logging.getLogger(__name__)

DATA_PREFIXES = ("/api.xro/", "/payroll.xro/")
USER_AGENT = "xero-assets/0.1"
# A list body larger than this keeps its records as JSON text, decoded one at a time as the sync writes them
# (`lazy_json`): 8,100 repeating invoices in one call are 17 MB of JSON and were 70 MB decoded. A 1,000-invoice page
# (2.4 MB) stays below it and is decoded at once by orjson, the fastest way.
LAZY_BODY_BYTES = 4 * 2**20
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class TokenSource(Protocol):
    """Where a tenant's current access token comes from (the TokenStore, or a fake in tests)."""

    def access_token(self, tenant_id: str, *, force_refresh: bool = False) -> str: ...


@dataclass
class CallStats:
    """What one tenant's calls cost, for run metadata and the rate tests. Updated under a lock by many threads."""

    calls: int = 0  # HTTP requests sent, retries included
    pages: int = 0  # pages (successful logical calls) returned
    retries: int = 0
    waits_seconds: float = 0.0  # time spent waiting for the limiter, Retry-After and backoff
    rate_limited_429s: int = 0
    day_remaining: int | None = None
    minute_remaining: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def remaining(self, day: int | None, minute: int | None) -> None:
        with self._lock:
            if day is not None:
                self.day_remaining = day
            if minute is not None:
                self.minute_remaining = minute


@dataclass(frozen=True)
class FetchedPage:
    """One response's records and where it sits, so a sync can checkpoint and resume."""

    records: Sequence[dict[str, Any]]  # a list, or for a large body `lazy_json.LazyRecords`
    page: int | None
    offset: int | None
    next_offset: int | None
    employee_id: str | None = None  # PER_EMPLOYEE endpoints: whose records these are


def _refuse_writes(request: httpx.Request) -> None:
    """httpx request hook: the last line of the read-only guarantee, whatever code built the request."""
    if request.method != "GET" and any(prefix in request.url.path for prefix in DATA_PREFIXES):
        raise WriteNotAllowed(request.method, request.url.path)


class XeroClient:
    """One pooled, keep-alive HTTP client for the whole app; hand out `for_tenant(id)` clients from it.

    One instance per process: the app-wide limiter and each tenant's limiter live here, so every thread calling a
    tenant shares its pacing. With `shared` (limits kept in our database), every process and run does too.
    """

    def __init__(
        self,
        api_url: str,
        tokens: TokenSource,
        *,
        limits: RateLimits = RateLimits(),  # noqa: B008 - frozen, safe to share
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        shared: SharedPacing | None = None,
        app_key: str = "app",
    ) -> None:
        self.limits = limits
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._app = AppLimiter(limits, clock, sleep, shared, app_key)
        self._tenants: dict[str, TenantClient] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            transport=transport,
            timeout=TIMEOUT,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            event_hooks={"request": [_refuse_writes]},
        )

    def for_tenant(self, tenant_id: str) -> TenantClient:
        """The client for one tenant; the same object (and limiter) for every caller in this process."""
        with self._lock:
            client = self._tenants.get(tenant_id)
            if client is None:
                limiter = TenantLimiter(self.limits, self._app, self._clock, self._sleep, tenant_id)
                client = self._tenants[tenant_id] = TenantClient(self, tenant_id, limiter)
            return client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, path: str, params: Mapping[str, str], headers: Mapping[str, str]) -> httpx.Response:
        """The only way a request leaves this client: a GET to a data API path."""
        if not path.startswith(DATA_PREFIXES) or ".." in path:
            raise ValueError(f"{path!r} is not a Xero data API path (expected /api.xro/... or /payroll.xro/...)")
        return self._http.get(path, params=params, headers=headers)


class TenantClient:
    """Reads one tenant's data. Thread-safe: many threads may page different APIs through one instance."""

    def __init__(self, parent: XeroClient, tenant_id: str, limiter: TenantLimiter) -> None:
        self.tenant_id = tenant_id
        self.stats = CallStats()
        self._parent = parent
        self._limiter = limiter
        self._day_reset_at: datetime | None = None

    def get_json(
        self,
        full_path: str,
        params: Mapping[str, str] | None = None,
        *,
        modified_since: datetime | None = None,
        lazy_list: str | None = None,
    ) -> dict[str, Any]:
        """One logical GET: paced, retried on transient failures, refreshed once on an expired token.

        With `lazy_list`, a body over `LAZY_BODY_BYTES` keeps that key's list as `lazy_json.LazyRecords`."""
        parent = self._parent
        headers = {"xero-tenant-id": self.tenant_id}
        if modified_since is not None:
            headers["If-Modified-Since"] = format_if_modified_since(modified_since)
        params = dict(params or {})
        refreshed = force = False
        attempt = 0
        while True:
            self._check_day_limit(full_path)
            token = parent._tokens.access_token(self.tenant_id, force_refresh=force)
            force = False
            problem: str
            with ExitStack() as in_flight:
                try:
                    waited = in_flight.enter_context(self._limiter.slot())
                except DayAllowanceSpent as spent:  # other processes spent the day: stop before Xero says so
                    self._day_reset_at = datetime.now(UTC) + timedelta(seconds=spent.reset_in)
                    raise DayLimitReached(self.tenant_id, full_path, self._day_reset_at) from None
                self.stats.add(calls=1, waits_seconds=waited)
                sent_at = parent._clock()
                try:
                    response = parent._get(full_path, params, {**headers, "Authorization": f"Bearer {token}"})
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    response = None
                    problem = f"{type(exc).__name__} (timeout or dropped connection)"
            if response is not None:
                day, minute = self._limiter.observe(response.headers, sent_at)
                self.stats.remaining(day, minute)
                status = response.status_code
                if status == 200:
                    body = self._decode(full_path, response, lazy_list)
                    if body is not None:
                        self.stats.add(pages=1)
                        return body
                    problem = "a truncated or malformed JSON body"
                elif status == 401 and not refreshed and "TokenExpired" in _detail(response):
                    refreshed = force = True  # one refresh-and-retry; not a failure of Xero, so no backoff
                    log.info("access token expired for tenant %s; refreshing once and retrying", self.tenant_id)
                    continue
                elif status == 429:
                    self._on_429(full_path, response)
                    problem = f"429 {response.headers.get('X-Rate-Limit-Problem', 'rate limit')}"
                elif status >= 500:
                    problem = f"{status} {_text(response)}"
                else:
                    raise self._error(full_path, response)
            attempt += 1
            if attempt > parent.max_retries:
                if response is not None and response.status_code == 200:  # answered, but cut off every time
                    raise BadResponse(self.tenant_id, full_path, f"{problem}, {attempt} times")
                raise XeroUnavailable(self.tenant_id, full_path, problem, attempt)
            self.stats.add(retries=1)
            if response is None or response.status_code != 429:
                delay = backoff_delay(attempt - 1, parent.backoff_base)
                log.info("retrying %s for tenant %s in %.2fs after %s", full_path, self.tenant_id, delay, problem)
                self.stats.add(waits_seconds=delay)
                parent._sleep(delay)

    def iter_pages(
        self,
        endpoint: Endpoint,
        *,
        modified_since: datetime | None = None,
        params: Mapping[str, str] | None = None,
        start_page: int = 1,
        start_offset: int | None = None,
        employee_ids: Sequence[str] = (),
    ) -> Iterator[FetchedPage]:
        """Every page of `endpoint`, paged the way Xero pages it (never an unpaged first call).

        Nothing here reads a page after yielding it or keeps it while reading the next, so a consumer may empty a
        page's records as it writes them (`xero_assets.store.warehouse.drain`) and a page lives no longer than its
        consumer keeps it."""
        base = {**endpoint.params, **(params or {})}
        since = modified_since if endpoint.modified_since else None
        path = endpoint.full_path
        lazy = endpoint.json_key
        if endpoint.paging is Paging.NONE:
            body = self.get_json(path, base, modified_since=since, lazy_list=lazy)
            yield FetchedPage(self._records(endpoint, path, body), None, None, None)
        elif endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
            size = PAGE_SIZE_MAX if endpoint.paging is Paging.PAGE_SIZE else PAGE_ONLY_SIZE
            page = start_page
            while True:
                query = {**base, "page": str(page)}
                if endpoint.paging is Paging.PAGE_SIZE:
                    query["pageSize"] = str(size)
                body = self.get_json(path, query, modified_since=since, lazy_list=lazy)
                records = self._records(endpoint, path, body)
                page_count = _page_count(body)
                last = len(records) < size or (page_count is not None and page >= page_count)
                del body
                yield FetchedPage(records, page, None, None)
                del records
                if last:
                    return
                page += 1
        elif endpoint.paging is Paging.OFFSET:
            offset = start_offset or 0
            while True:
                body = self.get_json(path, {**base, "offset": str(offset)}, modified_since=since, lazy_list=lazy)
                records = self._records(endpoint, path, body)
                next_offset = _last_journal_number(records, offset, self.tenant_id, path)
                last = len(records) < JOURNALS_PAGE_SIZE
                del body
                yield FetchedPage(records, None, offset, next_offset)
                del records
                if last:
                    return
                offset = next_offset
        elif endpoint.paging is Paging.PER_EMPLOYEE:
            for employee_id in employee_ids:
                employee_path = path.replace("{EmployeeID}", employee_id)
                body = self.get_json(employee_path, base, modified_since=since)
                yield FetchedPage(self._records(endpoint, employee_path, body), None, None, None, employee_id)
        else:  # pragma: no cover - a new Paging kind must be taught here
            raise NotImplementedError(f"paging {endpoint.paging} for {path}")

    # --- helpers -------------------------------------------------------------------------------------------------

    def _records(self, endpoint: Endpoint, path: str, body: Mapping[str, Any]) -> Sequence[dict[str, Any]]:
        if endpoint.json_key not in body:
            keys = ", ".join(sorted(body)) or "none"
            raise BadResponse(self.tenant_id, path, f"the key {endpoint.json_key!r} is missing (keys: {keys})")
        value = body[endpoint.json_key]
        if value is None:  # never read as "no records": on a full read that would flag every stored one deleted
            raise BadResponse(self.tenant_id, path, f"the key {endpoint.json_key!r} is null instead of a list")
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, (list, lazy_json.LazyRecords)):
            raise BadResponse(self.tenant_id, path, f"{endpoint.json_key!r} is a {type(value).__name__}, not a list")
        return value

    def _decode(self, path: str, response: httpx.Response, lazy_list: str | None = None) -> dict[str, Any] | None:
        """The JSON body; None when it is cut off (worth a retry); BadResponse when it is the wrong kind."""
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            raise BadResponse(
                self.tenant_id, path, f"content type {content_type or 'missing'!r} instead of application/json"
            )
        try:
            # orjson (a dependency already): the decode is the client's main CPU cost on large pages, about half of
            # stdlib json's. Either decoder refuses a cut-off body or invalid UTF-8 with a ValueError: None, retried.
            content = response.content
            if lazy_list is not None and len(content) > LAZY_BODY_BYTES:
                body = lazy_json.loads(content, lazy_list)
            else:
                body = orjson.loads(content)
        except ValueError:  # orjson's and json's JSONDecodeError, invalid UTF-8
            return None
        if not isinstance(body, dict):
            raise BadResponse(self.tenant_id, path, f"a JSON {type(body).__name__} instead of an object")
        return body

    def _on_429(self, path: str, response: httpx.Response) -> None:
        problem = response.headers.get("X-Rate-Limit-Problem", "").lower()
        retry_after = header_int(response.headers, "Retry-After")
        self.stats.add(rate_limited_429s=1)
        if problem == "day":
            reset_in = retry_after if retry_after is not None else 86400
            reset_at = datetime.now(UTC) + timedelta(seconds=reset_in)
            self._day_reset_at = reset_at
            self._limiter.day_spent(reset_in)
            raise DayLimitReached(self.tenant_id, path, reset_at)
        wait = float(retry_after) if retry_after is not None else self._parent.limits.interval
        log.info("429 %s for tenant %s; waiting %.1fs as Xero asks", problem or "limit", self.tenant_id, wait)
        if problem in ("app", "appminute"):
            self._parent._app.pause(wait)
        else:
            self._limiter.pause(wait)

    def _check_day_limit(self, path: str) -> None:
        """After a day 429 every later call to this tenant fails fast until the reset, without asking Xero."""
        reset_at = self._day_reset_at
        if reset_at is not None:
            if datetime.now(UTC) < reset_at:
                raise DayLimitReached(self.tenant_id, path, reset_at)
            self._day_reset_at = None

    def _error(self, path: str, response: httpx.Response) -> XeroError:
        status = response.status_code
        if status == 401:
            detail = _detail(response)
            if "TokenExpired" in detail:
                return XeroError(
                    f"Xero rejected a freshly refreshed access token for tenant {self.tenant_id} on {path} "
                    f"({detail}); check this machine's clock, then reconnect with `xero-assets connect`.",
                    tenant_id=self.tenant_id,
                    path=path,
                )
            return ScopeNotGranted(self.tenant_id, path, scope_hint(path))
        if status == 403:
            return TenantNotConnected(self.tenant_id, path)
        return RequestRejected(self.tenant_id, path, status, _detail(response) or _text(response))


def _detail(response: httpx.Response) -> str:
    """Xero's explanation from a problem body (`Detail`/`detail`) or an accounting error (`Message`)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("Detail", "detail", "Message", "message", "title", "Title"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return ""


def _text(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] if text else response.reason_phrase


def _page_count(body: Mapping[str, Any]) -> int | None:
    pagination = body.get("pagination")
    if isinstance(pagination, dict):
        count = pagination.get("pageCount")
        if isinstance(count, int):
            return count
    return None


def _last_journal_number(records: Sequence[dict[str, Any]], offset: int, tenant_id: str, path: str) -> int:
    """The next Journals offset: the last JournalNumber returned (Xero returns JournalNumber > offset)."""
    if not records:
        return offset
    number = records[-1].get("JournalNumber")
    if not isinstance(number, int):
        raise BadResponse(tenant_id, path, "a journal without an integer JournalNumber, so paging cannot go on")
    return number
