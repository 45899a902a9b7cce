"""A medium organisation of each country, synced into the warehouse over real HTTP, equals the sandbox's books;
a first sync makes exactly the minimum number of calls; a second sync with no changes makes one call per incremental
API plus the current month's reports (under 60 in all) and changes nothing.

The aged-by-contact budget is raised here so the first sync reads every outstanding contact and the second has no
backlog to continue (test_incremental_reports.py covers the budget itself).

Every country runs on SQLite; PostgreSQL runs one country (the warehouse code is the same, the dialects differ
only in the upsert, which test_warehouse.py covers on both), to keep the default run short.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from xero_assets import catalog, reports
from xero_assets.sandbox.server import SandboxHandle
from xero_assets.sync import SyncResult, minimum_calls
from xero_assets_tests.sync.conftest import Synced, assert_matches_truth, connect

COUNTRIES = ("AU", "NZ", "GB", "US")
OFFSET = catalog.Paging.OFFSET
REPORT = catalog.Kind.REPORT


def tenant_of(synced: Synced, country: str) -> str:
    for tenant in synced.control("GET", "tenants")["tenants"]:
        if tenant["country"] == country:
            return tenant["tenant_id"]
    raise AssertionError(f"no {country} tenant in the sandbox")


def expected_calls(synced: Synced, tenant_id: str, truth: dict[str, Any], result: SyncResult) -> int:
    """The minimum for this API given the sandbox's record counts (the same function the benchmark prints).

    The aged reports need one call per contact with something outstanding (from the synced invoices, which equal
    the books), published tax reports one list call plus one per report listed.
    """
    api = catalog.get(result.api)
    counts = truth["counts"]
    aged = {"aged_receivables_by_contact": "ACCREC", "aged_payables_by_contact": "ACCPAY"}
    return minimum_calls(
        api,
        truth["country"],
        counts.get(api.name, 0),
        employees=counts.get("payroll_employees", 0),
        outstanding_contacts=len(synced.warehouse.outstanding_contacts(tenant_id, aged.get(api.name, ""))),
        published_reports=synced.warehouse.count(tenant_id, "tax_reports"),
    )


def current_month_calls(api: str, country: str) -> int:
    """Report calls of a sync after which nothing changed: the requests covering the current month."""
    entry = catalog.get(api)
    if entry.endpoint_for(country) is None or api in reports.AGED_INVOICE_TYPE:
        return 0
    if api == "tax_reports":
        return 1  # the list call: a published return does not change, and none was published since
    today = datetime.now(UTC).date()
    requests = reports.plan(api, today)
    needed = reports.months_touched(api, today, ())
    return len(reports.incremental(requests, needed, [r.period for r in requests]))


def check_full_then_incremental(synced: Synced, tenant_id: str) -> None:
    country = synced.country(tenant_id)
    first = synced.sync(tenant_id)
    assert not [r.api for r in first if "scope" in (r.skipped or "") or r.paused_until], "all scopes were granted"
    assert_matches_truth(synced, tenant_id)
    truth = synced.truth(tenant_id)
    minimum = {r.api: expected_calls(synced, tenant_id, truth, r) for r in first}
    wrong = {r.api: (r.calls, minimum[r.api]) for r in first if r.calls != minimum[r.api]}
    assert not wrong, f"calls made vs minimum: {wrong}"
    assert sum(r.calls for r in first if catalog.get(r.api).kind is REPORT) >= 40

    second = synced.sync(tenant_id)
    changed = {
        r.api: (r.counts.inserted, r.counts.updated, r.counts.deleted_in_xero)
        for r in second
        if r.counts.inserted or r.counts.updated or r.counts.deleted_in_xero
    }
    assert not changed, f"a sync with no changes in Xero changed the warehouse: {changed}"
    incremental = {}
    for r in second:
        endpoint = catalog.get(r.api).endpoint_for(country)
        if r.skipped is None and endpoint is not None and (endpoint.modified_since or endpoint.paging is OFFSET):
            incremental[r.api] = r.calls
    assert len(incremental) >= 15 and set(incremental.values()) == {1}, incremental
    expected = {r.api: current_month_calls(r.api, country) for r in second if catalog.get(r.api).kind is REPORT}
    reread = {r.api: (r.calls, expected[r.api]) for r in second if r.api in expected}
    assert all(calls == fewest for calls, fewest in reread.values()), reread
    assert sum(r.calls for r in second) < 60, sorted((r.calls, r.api) for r in second if r.calls > 1)
    per_employee = catalog.Paging.PER_EMPLOYEE  # NZ/UK leave: one call per employee is all Xero allows
    lists = [(r, catalog.get(r.api).endpoint_for(country)) for r in second if catalog.get(r.api).kind is not REPORT]
    assert all(r.calls <= 1 for r, endpoint in lists if endpoint is None or endpoint.paging is not per_employee)
    assert_matches_truth(synced, tenant_id)


@pytest.fixture(autouse=True)
def every_aged_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_ASSETS_AGED_CONTACTS_PER_SYNC", "100000")


@pytest.fixture
def medium_sqlite(medium_sandbox: SandboxHandle, sqlite_url: str) -> Iterator[Synced]:
    synced = connect(medium_sandbox, sqlite_url)
    yield synced
    synced.close()


# AU runs by default (as does the PostgreSQL case below); the other countries' medium syncs are ~40 s each and run
# under `-m slow`: every country's books are still synced in the default run by the datasets' tie-out tests.
@pytest.mark.parametrize("country", [c if c == "AU" else pytest.param(c, marks=pytest.mark.slow) for c in COUNTRIES])
def test_medium_tenant_matches_books_in_minimum_calls_then_resyncs_in_one_call_each(
    medium_sqlite: Synced, country: str
) -> None:
    check_full_then_incremental(medium_sqlite, tenant_of(medium_sqlite, country))


@pytest.mark.postgres
def test_medium_tenant_on_postgresql(medium_sandbox: SandboxHandle, postgres_url: str) -> None:
    synced = connect(medium_sandbox, postgres_url)
    try:
        check_full_then_incremental(synced, tenant_of(synced, "AU"))
    finally:
        synced.close()
