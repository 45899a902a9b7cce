"""The day-limit planner: before a tenant's sync, how many calls it will take, what this sync may spend, and when a
sync too large for one day's allowance will be complete.

Xero gives each tenant 5,000 calls a day. A routine sync costs what changed (one call per API, the current month's
reports, a few aged reports) and must leave most of the day to Sync Data; a first sync of a large organisation
needs more than a day (its journals alone, 100 a call, are the floor) and so is split across days with an ETA.

How it decides:
- Estimate: from the warehouse's cursors for APIs read before (one call each, the current month's reports);
  for APIs never read, from cheap probes (a `pageSize=1` page gives a list's itemCount; Journals and page-only lists
  are measured by galloping on offset/page, about twenty calls for 400,000 journals). Probes are made only on a
  first read; the lists other than Journals are probed only when the invoice count says the organisation is large.
- Budget: what the day has left (Xero's X-DayLimit-Remaining, read on the first call) less a headroom kept for
  Sync Data (`HEADROOM_SHARE`), and for a routine sync no more than `ROUTINE_SHARE` of the allowance.
- Enforce: the client is wrapped so a call past the budget raises `BudgetSpent` (a day limit to the sync, which
  pauses that API with its cursor kept); aged-by-contact reports read only as many contacts as the budget leaves.
- ETA: the days the remaining calls need at the per-day budget, plus the last day's calls at Xero's minute pace.
  The plan is stored per tenant, so `xero-assets connections` can show it (`eta_label`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from xero_assets import catalog, reports
from xero_assets.catalog import Kind, Paging, XeroApi
from xero_assets.store import write_behind
from xero_assets.store.warehouse import Warehouse, now_utc, sync_state
from xero_assets.sync import (
    TENANT_STOPPERS,
    SyncResult,
    TenantClientLike,
    TenantSyncError,
    aged_contacts_due,
    per_employee_due,
    sync_api,
    sync_tenant,
    tenant_country,
)
from xero_assets.xero.errors import DayLimitReached

DAY_ALLOWANCE = 5000
HEADROOM_SHARE = 0.10  # of the day's allowance, never spent by a background sync: Sync Data's share
ROUTINE_SHARE = 0.05  # the most a routine (incremental) sync may spend of the day's allowance
ROUGH_JOURNALS_PER_INVOICE = 3  # pessimistic: an invoice, its payment, and edits or credits
PUBLISHED_RETURNS_GUESS = 4  # GST/BAS returns a first read finds (a year of quarterly returns), before listing
PLAN_ROW = "day_plan"  # its row in xero_sync_state (purged with the tenant)


class BudgetSpent(DayLimitReached):
    """This sync's call budget is spent: the API pauses with its cursor kept and the next sync continues."""


@dataclass(frozen=True)
class Estimate:
    """Calls per API, the probe calls made to know them, and what dominates."""

    per_api: dict[str, int]
    probes: int = 0
    first_read: bool = False

    @property
    def total(self) -> int:
        return sum(self.per_api.values())

    def why(self) -> str:
        journals = self.per_api.get("journals", 0)
        top = sorted(self.per_api.items(), key=lambda kv: -kv[1])[:3]
        parts = ", ".join(f"{name} {calls:,}" for name, calls in top if calls)
        size = catalog.JOURNALS_PAGE_SIZE
        floor = f"; journals at {size} a call are the floor ({journals:,})" if journals > 1 else ""
        return f"{self.total:,} calls ({parts}){floor}"


@dataclass
class DayPlan:
    """One tenant's plan for one sync, as shown in the run's metadata and by `xero-assets connections`."""

    tenant_id: str
    planned: int
    budget: int
    allowance: int
    left_today: int | None
    days: int
    eta: datetime | None  # naive UTC, when everything planned should be stored
    why: str
    started: datetime
    probes: int = 0
    used: int = 0
    day_left_after: int | None = None
    complete: bool = False
    per_api: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> DayPlan:
        raw = json.loads(text)
        for key in ("eta", "started"):
            raw[key] = datetime.fromisoformat(raw[key]) if raw.get(key) else None
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    def metadata(self) -> dict[str, Any]:
        """The run's call budget before and after: planned, used, left of the day, and the ETA when split."""
        out: dict[str, Any] = {
            "calls_planned": self.planned,
            "calls_budget": self.budget,
            "calls_used": self.used,
            "planning_calls": self.probes,
            "day_calls_left": self.day_left_after if self.day_left_after is not None else "unknown",
            "plan": self.label(),
        }
        if self.eta is not None:
            out["sync_eta"] = self.eta.isoformat(timespec="minutes") + "Z"
        return out

    def label(self) -> str:
        if self.complete:
            return f"complete; last sync used {self.used:,} of {self.budget:,} calls planned"
        when = f", ETA {self.eta.isoformat(timespec='minutes')}Z" if self.eta else ""
        if self.days > 1:
            return f"needs {self.days} days of Xero's {self.allowance:,}-a-day allowance: {self.why}{when}"
        return f"fits today: {self.why}{when}"


# ----- estimating --------------------------------------------------------------------------------------------------


def _item_count(client: TenantClientLike, endpoint: catalog.Endpoint) -> int:
    body = client.get_json(endpoint.full_path, {**endpoint.params, "page": "1", "pageSize": "1"})
    return int((body.get("pagination") or {}).get("itemCount") or 0)


def _employee_count(client: TenantClientLike, warehouse: Warehouse, country: str) -> tuple[int, int]:
    """(payroll employees, probe calls): those stored, or before the first read the first page of the list (payroll
    2.0 states its itemCount; AU's page-only list is counted, galloping past a full page of 100)."""
    if warehouse.state(client.tenant_id, "payroll_employees").last_completed is not None:
        return warehouse.count(client.tenant_id, "payroll_employees"), 0
    endpoint = catalog.get("payroll_employees").endpoint_for(country)
    if endpoint is None:
        return 0, 0
    body = client.get_json(endpoint.full_path, {"page": "1"})
    listed = len(body.get(endpoint.json_key) or [])
    count = (body.get("pagination") or {}).get("itemCount")
    if count is not None or listed < catalog.PAGE_ONLY_SIZE:
        return int(count if count is not None else listed), 1
    pages, calls = _page_count(client, endpoint)
    return pages * catalog.PAGE_ONLY_SIZE, 1 + calls


def _journal_count(client: TenantClientLike, endpoint: catalog.Endpoint) -> tuple[int, int]:
    """(highest JournalNumber, calls) by galloping on offset: offset=N answers the journals numbered after N."""
    calls = 0
    size = catalog.JOURNALS_PAGE_SIZE

    def fetch(offset: int) -> int:
        nonlocal calls
        calls += 1
        return len(client.get_json(endpoint.full_path, {"offset": str(offset)}).get(endpoint.json_key) or [])

    first = fetch(0)
    if first < size:
        return first, calls
    lo, hi = 0, 1000
    while fetch(hi) >= size:
        lo, hi = hi, hi * 2
    while hi - lo > max(size, lo // 100):  # 1% is precise enough for an ETA
        mid = (lo + hi) // 2
        got = fetch(mid)
        if 0 < got < size:
            return mid + got, calls
        lo, hi = (mid, hi) if got else (lo, mid)
    return (lo + hi) // 2, calls


def _page_count(client: TenantClientLike, endpoint: catalog.Endpoint) -> tuple[int, int]:
    """(pages of a page-only list, calls): page p is full, short or empty; gallop then halve."""
    calls = 0
    size = catalog.PAGE_ONLY_SIZE

    def fetch(page: int) -> int:
        nonlocal calls
        calls += 1
        body = client.get_json(endpoint.full_path, {**endpoint.params, "page": str(page)})
        return len(body.get(endpoint.json_key) or [])

    lo, hi = 0, 1
    while True:
        got = fetch(hi)
        if got < size:
            if got:
                return hi, calls
            break
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        got = fetch(mid)
        if 0 < got < size:
            return mid, calls
        lo, hi = (mid, hi) if got else (lo, mid)
    return lo + 1, calls  # the empty page after the last full one still has to be read


def estimate(
    client: TenantClientLike,
    warehouse: Warehouse,
    apis: Sequence[XeroApi],
    granted_scopes: Iterable[str],
    country: str | None,
    today: date,
    allowance: int = DAY_ALLOWANCE,
) -> Estimate:
    """Calls the sync of `apis` will take, probing only what was never read and could be large."""
    scopes = tuple(granted_scopes)
    tenant = client.tenant_id
    per_api: dict[str, int] = {}
    unread: list[tuple[XeroApi, catalog.Endpoint]] = []
    aged: list[str] = []
    employees: int | None = None
    employee_probes = 0
    for api in apis:
        endpoint = api.endpoint_for(country or "")
        if api.removed or endpoint is None or not api.is_granted(scopes):
            continue
        state = warehouse.state(tenant, api.name)
        if api.kind is Kind.REPORT:
            requests = [] if api.name == "tax_reports" else reports.plan(api.name, today)
            if api.name == "tax_reports":  # the list, and (on a first read) each published return
                per_api[api.name] = 1 if state.last_completed else 1 + PUBLISHED_RETURNS_GUESS
            elif api.name in reports.AGED_INVOICE_TYPE:
                aged.append(api.name)  # at most the per-sync budget; how many are outstanding is known below
            elif state.last_completed is None:
                per_api[api.name] = len(requests)
            else:
                current = reports.months_touched(api.name, today, ())  # more when a past month changed
                per_api[api.name] = len(reports.incremental(requests, current, [r.period for r in requests]))
        elif state.last_completed is None and endpoint.paging in (Paging.OFFSET, Paging.PAGE_SIZE, Paging.PAGE_ONLY):
            unread.append((api, endpoint))
        elif endpoint.paging is Paging.PER_EMPLOYEE:  # leave, leave balances (at most daily): one call per employee
            if not per_employee_due(warehouse, tenant, api.name):
                per_api[api.name] = 0
                continue
            if employees is None:
                employees, employee_probes = _employee_count(client, warehouse, country or "")
            per_api[api.name] = max(1, employees)
        else:
            per_api[api.name] = 1
    probes, rough = employee_probes, 0
    if unread:
        invoices = next((e for a, e in unread if a.name == "invoices"), None)
        rough = _item_count(client, invoices) if invoices else 0
        probes += 1 if invoices else 0
        large = rough * ROUGH_JOURNALS_PER_INVOICE / catalog.JOURNALS_PAGE_SIZE > ROUTINE_SHARE * allowance
        for api, endpoint in unread:
            state = warehouse.state(tenant, api.name)
            if api.name == "invoices":
                per_api[api.name] = max(1, math.ceil(rough / catalog.PAGE_SIZE_MAX))
            elif not large and endpoint.paging is not Paging.OFFSET:  # small: one page each, no probes
                per_api[api.name] = 1
            elif endpoint.paging is Paging.PAGE_SIZE:
                pages = max(1, math.ceil(_item_count(client, endpoint) / catalog.PAGE_SIZE_MAX))
                per_api[api.name], probes = max(1, pages - (state.scan_page or 1) + 1), probes + 1
            elif endpoint.paging is Paging.OFFSET:
                last, calls = _journal_count(client, endpoint)
                per_api[api.name] = max(0, last - (state.journal_offset or 0)) // catalog.JOURNALS_PAGE_SIZE + 1
                probes += calls
            else:
                pages, calls = _page_count(client, endpoint)
                per_api[api.name], probes = max(1, pages - (state.scan_page or 1) + 1), probes + calls
    budget = reports.aged_contacts_per_sync()
    for name in aged:
        if warehouse.state(tenant, "invoices").last_completed is None:  # first read: a guess from the invoice count
            per_api[name] = min(budget, rough // 20 + 1)
        else:
            per_api[name] = len(aged_contacts_due(warehouse, tenant, name, budget, now_utc()))
    return Estimate(per_api, probes, first_read=bool(unread))


# ----- budgeting --------------------------------------------------------------------------------------------------


def day_plan(
    tenant_id: str,
    estimate: Estimate,
    left_today: int | None,
    *,
    allowance: int = DAY_ALLOWANCE,
    seconds_per_call: float = 1.0,
    now: datetime | None = None,
) -> DayPlan:
    """This sync's budget and, when the work needs more than today's budget, the days it needs and its ETA."""
    now = now or now_utc()
    headroom = math.ceil(HEADROOM_SHARE * allowance)
    per_day = allowance - headroom
    today = per_day if left_today is None else max(0, left_today - headroom)
    planned = estimate.total
    routine = not estimate.first_read and planned <= ROUTINE_SHARE * allowance
    budget = min(today, math.floor(ROUTINE_SHARE * allowance)) if routine else today
    if planned <= budget:
        days, eta = 1, now + timedelta(seconds=planned * seconds_per_call)
    else:
        # Each later day's sync first re-polls every API once (what changed since yesterday), then continues.
        overhead = len(estimate.per_api)
        rest, per_later_day = planned - budget, max(1, per_day - overhead)
        days = 1 + math.ceil(rest / per_later_day)
        last_day = overhead + rest - (days - 2) * per_later_day
        eta = now + timedelta(days=days - 1, seconds=last_day * seconds_per_call)
    return DayPlan(
        tenant_id, planned, budget, allowance, left_today, days, eta, estimate.why(), now,
        probes=estimate.probes, per_api=dict(estimate.per_api),
    )  # fmt: skip


class BudgetedClient:
    """A TenantClientLike that stops at `budget` calls: past it every call raises BudgetSpent, so each API still
    running pauses at a page boundary with its cursor saved, exactly as at Xero's own day limit."""

    def __init__(self, client: TenantClientLike, budget: int, resume_at: datetime) -> None:
        self._client = client
        self.tenant_id = client.tenant_id
        self.budget = budget
        self.used = 0
        self.resume_at = resume_at

    @property
    def stats(self) -> Any:
        return self._client.stats

    @property
    def aged_budget(self) -> int:
        """What an aged-by-contact report may read now: half of what is left (there are two aged reports)."""
        return max(0, (self.budget - self.used) // 2)

    def _spend(self, path: str) -> None:
        if self.used >= self.budget:
            raise BudgetSpent(self.tenant_id, path, self.resume_at)
        self.used += 1

    def get_json(self, full_path: str, params: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        self._spend(full_path)
        return self._client.get_json(full_path, params, **kwargs)

    def iter_pages(self, endpoint: catalog.Endpoint, **kwargs: Any) -> Any:
        pages = self._client.iter_pages(endpoint, **kwargs)
        while True:
            self._spend(endpoint.full_path)
            try:
                page = next(pages)
            except StopIteration:
                self.used -= 1  # the generator ended without a call
                return
            yield page


# ----- running and showing ------------------------------------------------------------------------------------------


def _lift_day_pauses(warehouse: Warehouse, tenant_id: str, apis: Sequence[XeroApi]) -> None:
    """Xero says the day has calls again: a pause for the day limit is over, whatever our clock says."""
    for api in apis:
        state = warehouse.state(tenant_id, api.name)
        if state.paused_until is not None:
            warehouse.save_state(tenant_id, api.name, replace(state, paused_until=None))


def planned_sync(
    client: TenantClientLike,
    warehouse: Warehouse,
    apis: Sequence[XeroApi] | None = None,
    *,
    granted_scopes: Iterable[str],
    full_refresh: bool = False,
    today: date | None = None,
    seconds_per_call: float = 1.0,
    allowance: int = DAY_ALLOWANCE,
    on_result: Callable[[SyncResult], None] | None = None,
    allow_mass_delete: bool = False,
) -> tuple[list[SyncResult], DayPlan]:
    """`sync_tenant` within the day's budget: estimate, plan, sync through a BudgetedClient, store the plan.

    Raises TenantSyncError as sync_tenant does; the plan is stored (and attached as `.plan`) either way."""
    chosen = list(apis if apis is not None else catalog.SYNCABLE)
    scopes = tuple(granted_scopes)
    today = today or now_utc().date()
    # The Organisation first: one call that gives Xero's X-DayLimit-Remaining before anything is spent, and the
    # country the estimate needs (payroll and tax reports depend on it).
    organisation = catalog.get("organisation")
    wanted_organisation = organisation in chosen
    chosen = [api for api in chosen if api is not organisation]
    # A narrow sync (a webhook's invoices, one Sync Data button) of a tenant whose country is known costs no extra
    # call: the Organisation is read first only when it was selected or the country is still unknown.
    firsts: list[SyncResult] = []
    if wanted_organisation or tenant_country(warehouse, client.tenant_id) is None:
        try:
            firsts.append(sync_api(client, warehouse, organisation, country=None, granted_scopes=scopes, today=today))
        except TENANT_STOPPERS as exc:  # a removed connection or refused consent ends the tenant's sync here, as
            # in sync_tenant: nothing else is asked, and the step reports it like any other tenant-wide stop
            raise TenantSyncError(client.tenant_id, [], {organisation.name: exc}, [a.name for a in chosen]) from exc
        if on_result:
            on_result(firsts[0])
    left = getattr(client.stats, "day_remaining", None)
    if left is not None and left > HEADROOM_SHARE * allowance:
        _lift_day_pauses(warehouse, client.tenant_id, chosen)
    work = estimate(client, warehouse, chosen, scopes, tenant_country(warehouse, client.tenant_id), today, allowance)
    left_now = None if left is None else left - work.probes  # the probes came out of today's calls too
    plan = day_plan(client.tenant_id, work, left_now, allowance=allowance, seconds_per_call=seconds_per_call)
    budgeted = BudgetedClient(client, plan.budget, resume_at=datetime.now(UTC))
    try:
        results = [*firsts, *sync_tenant(
            budgeted, warehouse, chosen, granted_scopes=scopes, full_refresh=full_refresh, today=today,
            on_result=on_result, allow_mass_delete=allow_mass_delete,
            write_behind=write_behind.worth_it(warehouse, min(plan.planned, plan.budget)),
        )]  # fmt: skip
    except TenantSyncError as exc:
        exc.results[:0] = firsts
        _finish(warehouse, plan, budgeted, exc.results, len(firsts))
        exc.plan = plan  # type: ignore[attr-defined]
        raise
    _finish(warehouse, plan, budgeted, results, len(firsts))
    return results, plan


def _finish(
    warehouse: Warehouse, plan: DayPlan, budgeted: BudgetedClient, results: Sequence[SyncResult], before: int
) -> None:
    plan.used = budgeted.used + plan.probes + before  # and the Organisation call made before the budget, if any
    plan.day_left_after = getattr(budgeted.stats, "day_remaining", None)
    plan.complete = not any(r.paused_until for r in results)
    save_plan(warehouse, plan)


def save_plan(warehouse: Warehouse, plan: DayPlan) -> None:
    row = {"tenant_id": plan.tenant_id, "api": PLAN_ROW, "state": plan.to_json(), "updated_at": now_utc()}
    with warehouse.engine.begin() as conn:
        t = sync_state.c
        conn.execute(sync_state.delete().where(t.tenant_id == plan.tenant_id, t.api == PLAN_ROW))
        conn.execute(sync_state.insert().values(**row))


def load_plan(warehouse: Warehouse, tenant_id: str) -> DayPlan | None:
    t = sync_state.c
    with warehouse.engine.connect() as conn:
        text = conn.execute(sa.select(t.state).where(t.tenant_id == tenant_id, t.api == PLAN_ROW)).scalar()
    return DayPlan.from_json(text) if text else None


def eta_label(warehouse: Warehouse, tenant_id: str) -> str:
    """One cell for `xero-assets connections`: when a split first sync completes, or that the last one fit."""
    plan = load_plan(warehouse, tenant_id)
    if plan is None:
        return "not synced yet"
    if plan.complete:
        return f"up to date (last sync {plan.used:,} calls)"
    eta = plan.eta.isoformat(timespec="minutes") + "Z" if plan.eta else "unknown"
    return f"first sync in progress: {plan.days} days, ETA {eta}"
