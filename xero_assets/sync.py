"""One Xero API for one tenant: pages -> rows -> upsert + cursor, one page per transaction. No Dagster here.

`sync_api` is the unit (one asset's materialization); `sync_tenant` runs a tenant's selected APIs in a thread pool
that shares ONE TenantClient, so every API of a tenant draws on the same rate limiter (5 in flight, under 60 a
minute). The Dagster multi-asset, the CLI, the demo, the tests and the benchmark all go through `sync_tenant`.

Cursors, by paging kind (see `SyncState`):
- If-Modified-Since APIs re-read only what changed since the newest UpdatedDateUTC a completed scan stored; a scan in
  progress is resumed at its next page with the same If-Modified-Since.
- Journals continue after the last JournalNumber stored, page by page; a day limit pauses them (cursor kept).
- APIs Xero cannot filter are read whole each time, and a whole read also finds records Xero no longer returns.
- Reports are re-read in the fewest calls their parameters allow (`xero_assets.reports`).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from xero_assets import catalog, memory, reports
from xero_assets.catalog import Kind, Paging, XeroApi
from xero_assets.store import changes
from xero_assets.store.warehouse import SyncState, Warehouse, WriteCounts, drain, now_utc
from xero_assets.store.write_behind import WriteBehind
from xero_assets.xero import dates
from xero_assets.xero.errors import (
    DayLimitReached,
    ReauthorizationRequired,
    RequestRejected,
    ScopeNotGranted,
    TenantNotConnected,
    XeroError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class TenantClientLike(Protocol):
    """What the sync needs from `xero_assets.xero.client.TenantClient` (a Protocol, so tests may pass fakes)."""

    tenant_id: str

    @property
    def stats(self) -> Any: ...

    def get_json(
        self, full_path: str, params: dict[str, str] | None = None, *, modified_since: datetime | None = None
    ) -> dict[str, Any]: ...

    def iter_pages(self, endpoint: catalog.Endpoint, **kwargs: Any) -> Iterator[Any]: ...


@dataclass
class SyncResult:
    """What one API's sync did for one tenant: the numbers Dagster shows as materialization metadata."""

    api: str
    tenant_id: str
    counts: WriteCounts = field(default_factory=WriteCounts)
    calls: int = 0
    pages: int = 0
    records_read: int = 0
    day_remaining: int | None = None
    cursor: str = ""
    skipped: str | None = None
    paused_until: datetime | None = None
    row_count: int = 0
    seconds: float = 0.0
    full_read: bool = False

    @property
    def status(self) -> str:
        """The API's outcome in this run: synced, unchanged, skipped (reason) or paused (day limit). An API that
        failed has no result: `TenantSyncError.failed` says why."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.paused_until:
            return f"paused until {self.paused_until.isoformat(timespec='seconds')} (day limit)"
        counts = self.counts
        if self.calls and not (counts.inserted or counts.updated or counts.deleted_in_xero):
            return "unchanged"
        return "synced"


# ----- helpers -----------------------------------------------------------------------------------------------------


def prefetch(pages: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Read `pages` in a background thread, `depth` ahead, so the next download overlaps this page's write.

    The producer starts reading item k only once the consumer has taken item k - depth, and neither side keeps a
    reference to an item after handing it on, so at most `depth` + 1 items are alive at once (the one being written
    and those being read ahead), whatever the organisation's size: one page ahead is enough for the overlap (a write
    takes less than a download). A consumer that wants its previous item freed while it waits for the next must drop
    its own reference first (`del page` at the end of the loop body).

    Exceptions from the producer are re-raised in the consumer at the point they happened.
    """
    buffer: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    room = threading.Semaphore(depth)  # a place is taken to read an item ahead and given back when it is taken
    stop = threading.Event()

    def produce() -> None:
        try:
            iterator = iter(pages)
            while True:
                while not room.acquire(timeout=0.5):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    item = next(iterator)
                except StopIteration:
                    buffer.put(("end", None))
                    return
                buffer.put(("item", item))
                del item
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(("error", exc))

    thread = threading.Thread(target=produce, daemon=True, name="xero-prefetch")
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            room.release()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
            del value  # before waiting for the next item, so the consumer's last one can be freed
    finally:
        stop.set()


def _max_dt(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _newest(records: Iterable[dict[str, Any]], field_name: str | None) -> datetime | None:
    if not field_name:
        return None
    newest = None
    for record in records:
        value = record.get(field_name)
        if isinstance(value, str):
            moment = dates.parse(value)
            if moment is not None and (newest is None or moment > newest):
                newest = moment
    return newest.replace(tzinfo=None) if newest else None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def tenant_country(warehouse: Warehouse, tenant_id: str) -> str | None:
    """The organisation's CountryCode from the stored Organisation record (payroll and tax reports depend on it)."""
    orgs = warehouse.records(tenant_id, "organisation", limit=1)
    return orgs[0].get("CountryCode") if orgs else None


# ----- one API ----------------------------------------------------------------------------------------------------


class _Run:
    """The state of one `sync_api` call, so the per-paging-kind functions share counting and writing."""

    def __init__(
        self,
        client: TenantClientLike,
        warehouse: Warehouse,
        api: XeroApi,
        result: SyncResult,
        allow_mass_delete: bool = False,
    ) -> None:
        self.client = client
        self.warehouse = warehouse
        self.api = api
        self.result = result
        self.tenant_id = result.tenant_id
        self.allow_mass_delete = allow_mass_delete
        # aged-by-contact contacts this API may read: lowered by the sync's call budget (xero_assets.plan)
        self.aged_budget = getattr(client, "aged_budget", reports.aged_contacts_per_sync())
        self._writing: deque[Future[WriteCounts]] = deque()

    def write_page(self, records: Iterable[Mapping[str, Any]], **options: Any) -> None:
        """Hand one page (and the state it brings the API to) to the warehouse, which may write it in another
        process (`WriteBehind`) while the next page is read; counts are added as pages finish, and a failed write
        raises here at the next page, or at `settle`."""
        self._writing.append(self.warehouse.write_records_later(self.tenant_id, self.api.name, records, **options))
        while self._writing and self._writing[0].done():
            self.result.counts += self._writing.popleft().result()

    def settle(self, raising: bool = True) -> None:
        """Wait for every page handed over, adding their counts. A failed write raises its error, or, with
        `raising=False` (the read failed already: its error is the one to report), is logged."""
        while self._writing:
            try:
                self.result.counts += self._writing.popleft().result()
            except Exception:
                if raising:
                    raise
                log.warning("a page of %s for tenant %s was not stored", self.api.name, self.tenant_id, exc_info=True)

    def flag_missing(self, scan_started: datetime, done: SyncState) -> None:
        """After a complete read: flag what Xero no longer returned, unless it is most of the API (see MassDelete).

        `done` is saved either way: the records read are stored and the cursor may advance; only the flags wait."""
        wh, tenant, api = self.warehouse, self.tenant_id, self.api.name
        missing, stored = wh.count_missing(tenant, api, scan_started), wh.count(tenant, api)
        if not self.allow_mass_delete and is_mass_delete(missing, stored):
            wh.save_state(tenant, api, done)
            raise MassDelete(tenant, api, missing, stored)
        self.result.counts.deleted_in_xero += wh.mark_missing_deleted(tenant, api, scan_started, state=done)

    def page_seen(self, records: Sequence[Any]) -> None:
        self.result.calls += 1
        self.result.pages += 1
        self.result.records_read += len(records)


# A full read that would flag more than this share of an API's stored records (and more than a handful) as deleted
# in Xero is refused unless confirmed with --allow-mass-delete: an answer that lost its records looks just like it.
MASS_DELETE_SHARE = 0.5
MASS_DELETE_MIN_RECORDS = 10


def is_mass_delete(missing: int, stored: int) -> bool:
    return missing > MASS_DELETE_MIN_RECORDS and missing > MASS_DELETE_SHARE * stored


class MassDelete(Exception):
    """A full read would flag most of an API's records as deleted in Xero; nothing was flagged."""

    def __init__(self, tenant_id: str, api: str, missing: int, stored: int) -> None:
        self.tenant_id = tenant_id
        self.api = api
        super().__init__(
            f"a full read of {api} would flag {missing} of its {stored} stored records as deleted in Xero "
            f"(more than {MASS_DELETE_SHARE:.0%}); nothing was flagged. If Xero really no longer has them, sync "
            "again with --full-refresh --allow-mass-delete"
        )


# After Xero answers 404 for an endpoint (a report type or regional API the organisation does not have), it is not
# asked again for this long.
NOT_AVAILABLE_RETRY = timedelta(days=1)
NOT_AVAILABLE = "not available for this organisation"


def _not_served(api: XeroApi, exc: RequestRejected) -> bool:
    """A 404 on a report or a regional endpoint means the organisation does not have it, not a broken request."""
    return exc.status == 404 and (api.kind is Kind.REPORT or bool(api.regional))


def _mark_not_available(warehouse: Warehouse, tenant_id: str, api: XeroApi, result: SyncResult) -> None:
    retry_at = now_utc() + NOT_AVAILABLE_RETRY
    state = replace(warehouse.state(tenant_id, api.name), unavailable_until=retry_at)
    warehouse.save_state(tenant_id, api.name, state)
    result.skipped = f"{NOT_AVAILABLE} (Xero answered 404; asked again after {retry_at:%Y-%m-%d %H:%M} UTC)"


def sync_api(
    client: TenantClientLike,
    warehouse: Warehouse,
    api: XeroApi,
    *,
    country: str | None,
    granted_scopes: Iterable[str],
    full_refresh: bool = False,
    today: date | None = None,
    allow_mass_delete: bool = False,
) -> SyncResult:
    """Sync one API for the client's tenant. Scope gaps, countries without the API, endpoints the organisation does
    not have (404) and day limits are results (skipped / paused), never silent and never a failure of the tenant;
    anything else raises."""
    started = time.perf_counter()
    result = SyncResult(api=api.name, tenant_id=client.tenant_id)
    endpoint = api.endpoint_for(country or "")
    state = warehouse.state(client.tenant_id, api.name)
    if api.removed:
        result.skipped = "Xero removed this API"
    elif not api.is_granted(granted_scopes):
        result.skipped = f"scope {api.missing_scope(granted_scopes)} not granted"
    elif endpoint is None:
        result.skipped = f"not available for an organisation in {country or 'an unknown country'}"
    elif state.paused_until and state.paused_until > now_utc() and not full_refresh:
        result.paused_until = state.paused_until
    elif state.unavailable_until and state.unavailable_until > now_utc():
        result.skipped = f"{NOT_AVAILABLE} (Xero answered 404; asked again after {state.unavailable_until:%H:%M} UTC)"
    else:
        run = _Run(client, warehouse, api, result, allow_mass_delete)
        try:
            try:
                _read(run, endpoint, state, today or datetime.now(UTC).date(), full_refresh)
            except BaseException:
                run.settle(raising=False)  # the pages handed over before it are stored, counted, and resumed from
                raise
        except ScopeNotGranted as exc:
            result.skipped = f"scope {exc.scope or api.missing_scope(())} not granted (Xero answered 401)"
        except RequestRejected as exc:
            if not _not_served(api, exc):
                raise
            _mark_not_available(warehouse, client.tenant_id, api, result)
        except DayLimitReached as exc:
            reset = exc.reset_at.astimezone(UTC).replace(tzinfo=None)
            paused = replace(warehouse.state(client.tenant_id, api.name), paused_until=reset)
            warehouse.save_state(client.tenant_id, api.name, paused)
            result.paused_until = reset
    final = warehouse.state(client.tenant_id, api.name)
    result.cursor = final.cursor_label if api.kind is not Kind.REPORT else _report_cursor_label(final)
    result.row_count = warehouse.count(client.tenant_id, api.name)
    stats = client.stats
    result.day_remaining = getattr(stats, "day_remaining", None)
    result.seconds = time.perf_counter() - started
    return result


def _read(run: _Run, endpoint: catalog.Endpoint, state: SyncState, today: date, full_refresh: bool) -> None:
    """Read the API the way its paging kind allows, storing as it goes."""
    if run.api.kind is Kind.REPORT:
        _sync_report(run, endpoint, today, full_refresh)
    elif run.api.name == "linked_transactions":
        _sync_linked_transactions(run, endpoint, state, full_refresh)
    elif endpoint.paging is Paging.OFFSET:
        _sync_offset(run, endpoint, state, full_refresh)
    elif endpoint.paging is Paging.PER_EMPLOYEE:
        if full_refresh or per_employee_due(run.warehouse, run.tenant_id, run.api.name):
            _sync_per_employee(run, endpoint, state)
    else:
        _sync_scan(run, endpoint, state, full_refresh)


def _sync_scan(run: _Run, endpoint: catalog.Endpoint, state: SyncState, full_refresh: bool) -> None:
    """Page-numbered and single-call lists, incremental by If-Modified-Since where Xero honours it."""
    wh, api, tenant = run.warehouse, run.api, run.tenant_id
    resuming = state.scan_page is not None and not (full_refresh and not state.scan_full)
    if resuming:
        start_page, ims, complete = state.scan_page or 1, state.scan_ims, state.scan_full
        scan_started = state.scan_started
    else:
        ims = None if (full_refresh or not endpoint.modified_since) else state.updated_cursor
        start_page, scan_started, complete = 1, now_utc(), ims is None
    run.result.full_read = complete
    scan_started = scan_started or now_utc()
    newest = state.scan_max_updated if resuming else None
    pages = run.client.iter_pages(
        endpoint, modified_since=_aware(ims), params=dict(endpoint.params) or None, start_page=start_page
    )
    for page in prefetch(pages):
        run.page_seen(page.records)
        newest = _max_dt(newest, _newest(page.records, endpoint.updated_field))
        progress = replace(
            state,
            scan_page=(page.page or 1) + 1,
            scan_ims=ims,
            scan_started=scan_started,
            scan_full=complete,
            scan_max_updated=newest,
            paused_until=None,
        )
        run.write_page(
            drain(page.records), id_field=endpoint.id_field, updated_field=endpoint.updated_field,
            seen_at=now_utc(), state=progress, touch_unchanged=complete,
        )  # fmt: skip
        state = progress
        del page  # freed while the next page is awaited (see `prefetch`)
    run.settle()
    done = replace(
        state,
        updated_cursor=_max_dt(state.updated_cursor, newest) if endpoint.modified_since else None,
        scan_page=None, scan_ims=None, scan_started=None, scan_full=False, scan_max_updated=None,
        paused_until=None, last_completed=now_utc(),
    )  # fmt: skip
    if complete:
        run.flag_missing(scan_started, done)
    else:
        wh.save_state(tenant, api.name, done)


def _sync_offset(run: _Run, endpoint: catalog.Endpoint, state: SyncState, full_refresh: bool) -> None:
    """Journals: after the last JournalNumber stored, 100 a call, oldest first; the offset is saved with each page.

    Journals are immutable (an edit posts a reversal and a new journal), so the offset alone is the cursor and no
    If-Modified-Since is needed; a full refresh starts again from zero and upserts (nothing is written twice).
    """
    wh, tenant = run.warehouse, run.tenant_id
    offset = 0 if full_refresh else (state.journal_offset or 0)
    run.result.full_read = offset == 0
    for page in prefetch(run.client.iter_pages(endpoint, start_offset=offset)):
        run.page_seen(page.records)
        numbers = [int(r["JournalNumber"]) for r in page.records if r.get("JournalNumber") is not None]
        last = max(numbers, default=offset)
        if page.next_offset is not None:
            last = max(last, int(page.next_offset))
        progress = replace(
            state,
            journal_offset=max(offset, last) if not full_refresh else last,
            updated_cursor=_max_dt(state.updated_cursor, _newest(page.records, endpoint.updated_field)),
            paused_until=None,
        )
        run.write_page(
            drain(page.records), id_field=endpoint.id_field, updated_field=endpoint.updated_field,
            seen_at=now_utc(), state=progress,
        )  # fmt: skip
        state, offset = progress, progress.journal_offset or offset
        del page  # freed while the next page is awaited (see `prefetch`)
    run.settle()
    wh.save_state(tenant, run.api.name, replace(state, paused_until=None, last_completed=now_utc()))


# Leave balances move only when a pay run is posted, so a routine sync reads them (one call per employee) at most
# once a day: hourly, a 60-employee tenant would spend 1,440 of its 5,000 daily calls on unchanged figures.
BALANCES_REREAD = timedelta(hours=24)


def per_employee_due(warehouse: Warehouse, tenant_id: str, api_name: str) -> bool:
    """Whether a routine sync reads this per-employee API: leave every time (a new request matters the hour it is
    made); leave balances when last read a day ago or more, or when an employee has none stored yet."""
    if api_name != "payroll_leave_balances":
        return True
    last = warehouse.state(tenant_id, api_name).last_completed
    if last is None or now_utc() - last >= BALANCES_REREAD:
        return True
    return warehouse.count(tenant_id, api_name) < warehouse.count(tenant_id, "payroll_employees")


def _sync_per_employee(run: _Run, endpoint: catalog.Endpoint, state: SyncState) -> None:
    """NZ/UK leave, leave balances: one call per payroll employee (from the warehouse), read whole, so deletions are
    found too. NZ/UK balances have no id of their own: each employee's list is stored as one record keyed by them."""
    wh, tenant = run.warehouse, run.tenant_id
    employee_ids = [str(e.get("employeeID") or e.get("EmployeeID")) for e in wh.records(tenant, "payroll_employees")]
    scan_started = now_utc()
    run.result.full_read = True
    for employee_id in employee_ids:
        for page in run.client.iter_pages(endpoint, employee_ids=(employee_id,)):
            run.page_seen(page.records)
            records, id_field = page.records, endpoint.id_field
            if id_field is None:
                records, id_field = [{"employeeID": employee_id, endpoint.json_key: page.records}], "employeeID"
            run.result.counts += wh.write_records(
                tenant, run.api.name, records, id_field=id_field, updated_field=endpoint.updated_field,
                seen_at=now_utc(), touch_unchanged=True, typed_extra={"employeeid": employee_id},
            )  # fmt: skip
    run.flag_missing(scan_started, replace(state, last_completed=now_utc(), paused_until=None))


# Fields of a report document that change on every read without the figures changing (generation time, the
# envelope's request id): stripped before storing so a re-read of unchanged figures is "unchanged".
_VOLATILE_REPORT_FIELDS = ("UpdatedDateUTC", "ReportDate", "Id", "DateTimeUTC")


def _report_document(response: dict[str, Any]) -> dict[str, Any]:
    reports_ = [
        {k: v for k, v in report.items() if k not in _VOLATILE_REPORT_FIELDS}
        for report in response.get("Reports") or []
    ]
    return {"Reports": reports_}


def _sync_report(run: _Run, endpoint: catalog.Endpoint, today: date, full_refresh: bool = False) -> None:
    """Read what changed of one report (see `xero_assets.reports`): the requests `_report_requests` plans, each
    stored under its period with the dates it covers; its cursors are taken BEFORE reading, so a change that lands
    while the report is read is seen again next time rather than never."""
    wh, api, tenant = run.warehouse, run.api, run.tenant_id
    before = wh.state(tenant, api.name)
    now = now_utc()
    full = full_refresh or _full_read_due(before, now)
    after = _report_cursors(wh, tenant, api.name)
    if api.name == "tax_reports":  # published GST/BAS: the list call says which reports there are to read
        listing = run.client.get_json(endpoint.full_path)
        run.page_seen([0])
        requests = [
            reports.ReportRequest(str(r["ReportID"]), {}, f"/{r['ReportID']}")
            for r in listing.get("Reports") or []
            if r.get("ReportID")
        ]
        if not full:  # a published return does not change: read only those not stored yet (all at a full re-read)
            requests = reports.incremental(requests, set(), changes.stored_report_reads(wh, tenant, api.name))
    elif api.name in reports.AGED_INVOICE_TYPE:
        requests = _aged_requests(run, today, now)
        full = False  # the aged reports refresh by contact, stalest first, never all at once
    else:
        requests = reports.plan(api.name, today)
        if not full:
            needed = reports.months_touched(api.name, today, _changed_dates(wh, tenant, before))
            requests = reports.incremental(requests, needed, changes.stored_report_reads(wh, tenant, api.name))
    for request in requests:
        response = run.client.get_json(endpoint.full_path + request.path_suffix, request.params or None)
        run.page_seen([0])
        document = _report_document(response)
        if request.covers is not None:
            document["Covers"] = request.covers_label()
        run.result.counts += wh.write_report(tenant, api.name, request.period, document, now_utc())
    done = replace(after, last_completed=now_utc(), last_full_read=now if full else before.last_full_read)
    wh.save_state(tenant, api.name, done)
    run.result.full_read = full


def _full_read_due(state: SyncState, now: datetime) -> bool:
    return state.last_full_read is None or now - state.last_full_read >= reports.full_reread_interval()


def _report_cursor_label(state: SyncState) -> str:
    """A report's cursor as a person reads it: what the next sync looks past, and when all was last re-read."""
    parts = []
    if state.journal_offset is not None:
        parts.append(f"re-reads months of journals after JournalNumber {state.journal_offset}")
    elif state.updated_cursor is not None:
        parts.append(f"re-reads what changed after {state.updated_cursor.isoformat()}Z")
    if state.last_full_read is not None:
        parts.append(f"last full re-read {state.last_full_read.isoformat(timespec='seconds')}Z")
    return "; ".join(parts) or "read in full next sync"


def _report_cursors(wh: Warehouse, tenant: str, api_name: str) -> SyncState:
    """Where the books stand now, by Xero's own cursors: the last JournalNumber stored and the newest update of
    the documents (of the invoices, for aged reports); the next read looks only past these."""
    if api_name in reports.AGED_INVOICE_TYPE:
        invoice_type = reports.AGED_INVOICE_TYPE[api_name]
        return SyncState(updated_cursor=changes.newest_invoice_update(wh, tenant, invoice_type))
    journals, documents = changes.last_journal_number(wh, tenant), changes.newest_document_update(wh, tenant)
    return SyncState(journal_offset=journals, updated_cursor=documents)


def _changed_dates(wh: Warehouse, tenant: str, before: SyncState) -> set[date]:
    """The dates of every posting since the report's last read: from journals when they are stored (an edit's
    reversal carries the old date, so back-dated changes show), else from the documents Xero updated since."""
    if before.journal_offset is not None:
        return changes.journal_dates_after(wh, tenant, before.journal_offset)
    if changes.last_journal_number(wh, tenant) is not None:  # journals arrived since the last read: all are new
        return changes.journal_dates_after(wh, tenant, 0)
    if before.updated_cursor is not None:
        return changes.document_dates_since(wh, tenant, before.updated_cursor)
    return changes.document_dates_since(wh, tenant, datetime.min)


def aged_contacts_due(wh: Warehouse, tenant: str, api_name: str, budget: int, now: datetime) -> list[str]:
    """The contacts whose aged report this sync reads (`reports.choose_contacts`): the planner counts them, the sync
    reads them, so the two never disagree."""
    invoice_type = reports.AGED_INVOICE_TYPE[api_name]
    since = wh.state(tenant, api_name).updated_cursor or datetime.min
    return reports.choose_contacts(
        wh.outstanding_contacts(tenant, invoice_type),
        changes.contacts_updated_since(wh, tenant, invoice_type, since),
        changes.stored_report_reads(wh, tenant, api_name),
        now,
        budget=budget,
        stale_after=reports.full_reread_interval(),
    )


def _aged_requests(run: _Run, today: date, now: datetime) -> list[reports.ReportRequest]:
    """Aged-by-contact: the contacts due, within this sync's budget."""
    budget = min(reports.aged_contacts_per_sync(), run.aged_budget)
    return reports.plan(run.api.name, today, aged_contacts_due(run.warehouse, run.tenant_id, run.api.name, budget, now))


def _sync_linked_transactions(run: _Run, endpoint: catalog.Endpoint, state: SyncState, full_refresh: bool) -> None:
    """LinkedTransactions have no If-Modified-Since, so a whole read costs a call per 100. Between periodic full
    re-reads only the links of invoices and bank transactions Xero updated since the last read are re-read, by
    SourceTransactionID (bills, spend money) or TargetTransactionID (sales invoices), one call each; when that
    would cost more than a whole read, or a full re-read is due, the whole list is read (which also finds links
    Xero removed)."""
    wh, tenant = run.warehouse, run.tenant_id
    now = now_utc()
    cursor = _report_cursors(wh, tenant, "").updated_cursor
    due = _full_read_due(state, now)
    whole_read = wh.count(tenant, run.api.name) // catalog.PAGE_ONLY_SIZE + 1
    since = state.updated_cursor or now
    documents = [] if due or full_refresh else changes.documents_updated_since(wh, tenant, since, limit=whole_read)
    if due or full_refresh or state.updated_cursor is None or len(documents) >= whole_read or state.scan_page:
        _sync_scan(run, endpoint, state, full_refresh=True)
        final = wh.state(tenant, run.api.name)
        wh.save_state(tenant, run.api.name, replace(final, updated_cursor=cursor, last_full_read=now))
        return
    run.result.full_read = False
    for document_id, kind in documents:
        side = "TargetTransactionID" if kind == "ACCREC" else "SourceTransactionID"
        for page in run.client.iter_pages(endpoint, params={side: document_id}):
            run.page_seen(page.records)
            run.result.counts += wh.write_records(
                tenant, run.api.name, page.records, id_field=endpoint.id_field, updated_field=endpoint.updated_field,
                seen_at=now_utc(),
            )  # fmt: skip
    wh.save_state(tenant, run.api.name, replace(state, updated_cursor=cursor, last_completed=now_utc()))


# ----- minimum calls ----------------------------------------------------------------------------------------------


def minimum_calls(
    api: XeroApi,
    country: str,
    records: int,
    *,
    employees: int = 0,
    outstanding_contacts: int = 0,
    published_reports: int = 0,
) -> int:
    """The fewest calls a FULL read of `api` can take, given how many records Xero holds.

    - page + pageSize lists: ceil(n / 1000) pages, at least one (Xero's `pagination.pageCount` says when to stop);
    - page-only lists and Journals (100 a call, no page count): floor(n / 100) + 1, since only a short page (possibly
      empty) proves the end;
    - other lists: one call; NZ/UK leave: one per employee;
    - reports: `xero_assets.reports.plan`'s count (+1 list call for published tax reports, which a later sync
      reads only when newly published); aged-by-contact at most the per-sync contact budget.
    The tests assert the sync makes exactly this many calls; the benchmark prints its calls against it.
    """
    endpoint = api.endpoint_for(country)
    if endpoint is None or api.removed:
        return 0
    if api.kind is Kind.REPORT:
        if api.name == "tax_reports":
            return 1 + published_reports
        fake_contacts = ["x"] * min(outstanding_contacts, reports.aged_contacts_per_sync())
        return len(reports.plan(api.name, datetime.now(UTC).date(), fake_contacts))
    if endpoint.paging is Paging.PAGE_SIZE:
        return max(1, math.ceil(records / catalog.PAGE_SIZE_MAX))
    if endpoint.paging is Paging.OFFSET:
        return records // catalog.JOURNALS_PAGE_SIZE + 1
    if endpoint.paging is Paging.PAGE_ONLY:
        return records // catalog.PAGE_ONLY_SIZE + 1
    if endpoint.paging is Paging.PER_EMPLOYEE:
        return employees
    return 1


# Errors that concern the whole tenant, not one API: the first one stops the tenant's sync instead of every API
# collecting the same refusal (a removed connection answers 403 to every call).
TENANT_STOPPERS: tuple[type[BaseException], ...] = (TenantNotConnected, ReauthorizationRequired)


class TenantSyncError(Exception):
    """Some APIs of a tenant failed; `results` are those that synced, `failed` why each of the others did not.

    `stopped_by` is set when a tenant-wide error (connection removed, consent refused) ended the sync early; the
    APIs not yet started are in `not_started`."""

    def __init__(
        self,
        tenant_id: str,
        results: list[SyncResult],
        failed: Mapping[str, BaseException],
        not_started: Sequence[str] = (),
    ) -> None:
        self.tenant_id = tenant_id
        self.results = results
        self.failed = dict(failed)
        self.errors = list(self.failed.values())
        self.not_started = list(not_started)
        self.stopped_by = next((e for e in self.errors if isinstance(e, TENANT_STOPPERS)), None)
        if self.stopped_by is not None:
            super().__init__(str(self.stopped_by))
            return
        reasons = "; ".join(f"{api}: {failure_reason(e)}" for api, e in list(self.failed.items())[:3])
        super().__init__(f"{len(self.failed)} API(s) of tenant {tenant_id} failed ({reasons})")


def failure_reason(exc: BaseException) -> str:
    """Our own errors already say what happened and what to do; anything else is named by its type."""
    if isinstance(exc, (XeroError, MassDelete)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# ----- one tenant -------------------------------------------------------------------------------------------------

# Read after the rest: they use what the first waves stored (country; payroll employees; the journals and documents
# that say which report months and linked transactions changed; outstanding invoices).
_FIRST = ("organisation",)
_LAST = ("payroll_leave", "payroll_leave_balances", "linked_transactions")


def _reads_last(api: XeroApi) -> bool:
    return api.name in _LAST or api.kind is Kind.REPORT


def _weight(api: XeroApi) -> int:
    """Longest first, so the big paged lists start while the single calls fill the remaining slots."""
    paging = api.endpoint.paging
    return {Paging.OFFSET: 0, Paging.PAGE_SIZE: 1, Paging.PAGE_ONLY: 2}.get(paging, 4 if api.kind is Kind.REPORT else 3)


def sync_tenant(
    client: TenantClientLike,
    warehouse: Warehouse,
    apis: Sequence[XeroApi] | None = None,
    *,
    granted_scopes: Iterable[str],
    full_refresh: bool = False,
    max_workers: int = 5,
    today: date | None = None,
    on_result: Callable[[SyncResult], None] | None = None,
    allow_mass_delete: bool = False,
    write_behind: bool = False,
) -> list[SyncResult]:
    """Sync `apis` (default: every syncable API) for one tenant, sharing one client and so one rate limiter.

    With `write_behind`, the warehouse writes run in a child process (`xero_assets.store.write_behind`) while this
    one reads: worth its start-up for a large read, which `xero_assets.plan` decides from the sync's planned calls.

    Organisation goes first when the country is needed and unknown; payroll leave and the aged reports go last.
    One API failing does not stop the others: after all have finished, TenantSyncError carries the results of
    those that succeeded (so the Dagster step can still report them) and the failures, so a run stores everything
    it could and still fails loudly.

    Memory (`xero_assets.memory`): malloc's arenas are capped before the pool's threads start (a no-op when the
    CLI already did so at its start), and the free memory in the heaps is handed back after each API, so what a
    large API's pages freed does not stay resident for the rest of the sync and the dataset steps after it.
    """
    memory.bound_heap()
    writer = WriteBehind.start_or_none(warehouse) if write_behind else None
    try:
        return _sync_tenant(
            client, writer or warehouse, apis, granted_scopes=granted_scopes, full_refresh=full_refresh,
            max_workers=max_workers, today=today, on_result=on_result, allow_mass_delete=allow_mass_delete,
        )  # fmt: skip
    finally:
        if writer is not None:
            writer.close()


def _sync_tenant(
    client: TenantClientLike,
    warehouse: Warehouse,
    apis: Sequence[XeroApi] | None,
    *,
    granted_scopes: Iterable[str],
    full_refresh: bool,
    max_workers: int,
    today: date | None,
    on_result: Callable[[SyncResult], None] | None,
    allow_mass_delete: bool,
) -> list[SyncResult]:
    chosen = list(apis if apis is not None else catalog.SYNCABLE)
    scopes = tuple(granted_scopes)
    results: dict[str, SyncResult] = {}
    failed: dict[str, BaseException] = {}
    not_started: list[str] = []
    stop = threading.Event()

    def one(api: XeroApi, country: str | None) -> None:
        if stop.is_set():
            not_started.append(api.name)
            return
        try:
            result = sync_api(
                client, warehouse, api, country=country, granted_scopes=scopes, full_refresh=full_refresh, today=today,
                allow_mass_delete=allow_mass_delete,
            )  # fmt: skip
        except BaseException as exc:
            log.warning("sync of %s failed for tenant %s", api.name, client.tenant_id, exc_info=True)
            failed[api.name] = exc
            if isinstance(exc, TENANT_STOPPERS):
                stop.set()
            return
        finally:
            memory.release_free_memory()
        results[api.name] = result
        if on_result:
            on_result(result)

    country = tenant_country(warehouse, client.tenant_id)
    first = [a for a in chosen if a.name in _FIRST]
    if country is None and not first:
        first = [catalog.get("organisation")]  # read for its CountryCode even when not selected; not reported
    for api in first:
        if api in chosen:
            one(api, None)
        else:
            try:
                sync_api(client, warehouse, api, country=None, granted_scopes=scopes, full_refresh=False)
            except TENANT_STOPPERS as exc:
                raise TenantSyncError(client.tenant_id, [], {api.name: exc}, [a.name for a in chosen]) from exc
    country = tenant_country(warehouse, client.tenant_id)
    middle = sorted((a for a in chosen if a.name not in _FIRST and not _reads_last(a)), key=_weight)
    last = sorted((a for a in chosen if _reads_last(a) and a.name not in reports.AGED_INVOICE_TYPE), key=_weight)
    aged = [a for a in chosen if a.name in reports.AGED_INVOICE_TYPE]  # on what the call budget leaves (plan.py)
    for wave in (middle, last, aged):
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"sync-{client.tenant_id[:8]}") as pool:
            list(pool.map(lambda a: one(a, country), wave))
    done = [results[a.name] for a in chosen if a.name in results]
    if failed:
        raise TenantSyncError(client.tenant_id, done, failed, not_started)
    return done
