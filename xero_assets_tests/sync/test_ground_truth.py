"""A medium organisation of each country, synced into the warehouse over real HTTP, equals the sandbox's books;
a second sync with no changes makes one call per incremental API and changes nothing; a full sync makes exactly
the minimum number of calls.

Every country runs on SQLite; PostgreSQL runs one country (the warehouse code is the same, the dialects differ
only in the upsert, which test_warehouse.py covers on both), to keep the default run short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from xero_assets import catalog
from xero_assets.sandbox.server import SandboxHandle
from xero_assets.sync import SyncResult, minimum_calls
from xero_assets_tests.sync.conftest import Synced, assert_matches_truth, connect

COUNTRIES = ("AU", "NZ", "GB", "US")
OFFSET = catalog.Paging.OFFSET
RECORD_APIS = [a for a in catalog.SYNCABLE if a.kind is not catalog.Kind.REPORT]


def tenant_of(synced: Synced, country: str) -> str:
    for tenant in synced.control("GET", "tenants")["tenants"]:
        if tenant["country"] == country:
            return tenant["tenant_id"]
    raise AssertionError(f"no {country} tenant in the sandbox")


def expected_calls(truth: dict[str, Any], result: SyncResult) -> int:
    """The minimum for this API given the sandbox's record counts (the same function the benchmark prints)."""
    api = catalog.get(result.api)
    counts = truth["counts"]
    return minimum_calls(api, truth["country"], counts.get(api.name, 0), employees=counts.get("payroll_employees", 0))


def check_full_then_incremental(synced: Synced, tenant_id: str) -> None:
    country = synced.country(tenant_id)
    first = synced.sync(tenant_id, RECORD_APIS)
    assert_matches_truth(synced, tenant_id)
    truth = synced.truth(tenant_id)
    wrong = {r.api: (r.calls, expected_calls(truth, r)) for r in first if r.calls != expected_calls(truth, r)}
    assert not wrong, f"calls made vs minimum: {wrong}"

    second = synced.sync(tenant_id, RECORD_APIS)
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
    assert_matches_truth(synced, tenant_id)


@pytest.fixture
def medium_sqlite(medium_sandbox: SandboxHandle, sqlite_url: str) -> Iterator[Synced]:
    synced = connect(medium_sandbox, sqlite_url)
    yield synced
    synced.client.close()
    synced.store.close()


@pytest.mark.parametrize("country", COUNTRIES)
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
        synced.client.close()
        synced.store.close()
