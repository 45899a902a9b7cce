"""What happens to the warehouse when things go wrong or change: Xero edits, a killed sync, flaky Xero, many
tenants. Each test ends with the warehouse compared record by record with the sandbox's books."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from xero_assets import catalog
from xero_assets.store.warehouse import now_utc, raw_records
from xero_assets_tests.sync.conftest import Synced, assert_matches_truth, private_synced

ROOT = Path(__file__).resolve().parents[2]
CHILD = "xero_assets_tests.sync._sync_child"
RECORD_APIS = [a for a in catalog.SYNCABLE if a.kind is not catalog.Kind.REPORT]


@pytest.fixture
def small(database_url: str) -> Iterator[Synced]:
    """A private sandbox (tests here mutate it or inject faults) with small organisations of each country."""
    with private_synced(database_url, tenants=4, size="small") as synced:
        yield synced


def _first_tenant(synced: Synced, country: str = "AU") -> str:
    return next(t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"] if t["country"] == country)


MUTATIONS = [
    {"action": "create", "api": "invoices", "count": 3},
    {"action": "edit", "api": "invoices", "count": 1},
    {"action": "delete", "api": "invoices", "count": 1},
    {"action": "void", "api": "invoices", "count": 1},
    {"action": "create", "api": "payments", "count": 2},
    {"action": "edit", "api": "contacts", "count": 1},
    {"action": "create", "api": "credit_notes", "count": 1},
    {"action": "delete", "api": "bank_transactions", "count": 1},
    {"action": "edit", "api": "items", "count": 1},
]


def test_after_mutations_the_next_sync_picks_up_exactly_the_changed_records(small: Synced) -> None:
    tenant = _first_tenant(small)
    small.sync(tenant, RECORD_APIS)
    small.control("POST", "clock", json={"advance_seconds": 5})
    changed: set[str] = set()
    new_journals = 0
    for spec in MUTATIONS:
        result = small.control("POST", "mutate", json={"tenant_id": tenant, **spec})
        changed |= set(result["ids"])
        new_journals += len(result["journals"])
    truth = small.truth(tenant)
    expected = {api: len(changed & set(truth["collections"][api])) for api in truth["collections"] if api != "journals"}
    expected["journals"] = new_journals

    results = {r.api: r for r in small.sync(tenant, RECORD_APIS)}
    got = {api: r.counts.inserted + r.counts.updated for api, r in results.items()}
    mismatched = {api: (got.get(api, 0), n) for api, n in expected.items() if got.get(api, 0) != n}
    assert not mismatched, f"changed records picked up vs changed in Xero: {mismatched}"
    assert sum(expected.values()) > 10
    statuses = {r["InvoiceID"]: r["Status"] for r in small.warehouse.records(tenant, "invoices")}
    assert "VOIDED" in statuses.values()
    assert_matches_truth(small, tenant)


def test_quiet_edits_need_a_full_refresh_which_finds_them(small: Synced) -> None:
    """Xero does not bump UpdatedDateUTC for some edits; incremental cannot see them, a full refresh does."""
    tenant = _first_tenant(small)
    contacts = [catalog.get("contacts")]
    small.sync(tenant, contacts)
    small.control("POST", "mutate", json={"tenant_id": tenant, "action": "edit_quiet", "api": "contacts", "count": 1})
    incremental = small.sync(tenant, contacts)[0]
    assert incremental.counts.updated == 0
    full = small.sync(tenant, contacts, full_refresh=True)[0]
    assert (full.counts.updated, full.counts.inserted, full.full_read) == (1, 0, True)


@pytest.mark.parametrize("write_behind", [False, True], ids=["in-process", "write-behind"])
def test_a_sync_killed_mid_way_resumes_and_ends_equal_to_the_books(small: Synced, write_behind: bool) -> None:
    """SIGKILL to the sync's process group: with write-behind, the writer process dies with it, mid-queue."""
    tenant = _first_tenant(small)
    small.control("POST", "faults", json={"kind": "slow", "delay_ms": 40, "target": "data", "rate": 1.0})
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xero_assets_tests.sync._sync_child",
            small.base_url,
            small.database_url,
            small.secret_key,
            tenant,
            *(["write-behind"] if write_behind else []),
        ],
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _stored(small, tenant) < 300 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert child.poll() is None, "the sync finished before it could be killed; make the test tenant bigger"
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    small.control("DELETE", "faults")
    before = _stored(small, tenant)
    journals_done = small.warehouse.state(tenant, "journals").journal_offset or 0
    results = {r.api: r for r in small.sync(tenant)}
    assert_matches_truth(small, tenant)
    total = sum(len(v) for k, v in small.truth(tenant)["collections"].items() if k in {a.name for a in RECORD_APIS})
    assert before < total, "the kill came after everything was stored"
    assert results["journals"].counts.inserted == small.truth(tenant)["counts"]["journals"] - journals_done


def _stored(synced: Synced, tenant: str) -> int:
    with synced.warehouse.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(raw_records.c.tenant_id == tenant)
        return int(conn.execute(query).scalar() or 0)


def test_ten_percent_faults_still_end_equal_to_the_books(small: Synced) -> None:
    tenant = _first_tenant(small, "NZ")
    rules = [{"kind": kind, "rate": 0.02, "target": "data"} for kind in ("500", "503", "drop", "truncate")]
    rules.append({"kind": "429", "rate": 0.02, "target": "data", "retry_after": 1})
    small.control("POST", "faults", json={"rules": rules})
    small.sync(tenant)
    stats = small.control("GET", "stats")
    assert sum(stats["faults"].values()) >= 5, stats["faults"]
    small.control("DELETE", "faults")
    assert_matches_truth(small, tenant)


def test_tenants_are_isolated(small: Synced) -> None:
    tenants = [t["tenant_id"] for t in small.control("GET", "tenants")["tenants"]]
    for tenant in tenants:
        small.sync(tenant, RECORD_APIS)
    for tenant in tenants:
        assert_matches_truth(small, tenant)  # no missing and, above all, no extra ids under each tenant
    with small.warehouse.engine.connect() as conn:
        per_tenant = conn.execute(
            sa.select(raw_records.c.record_id, sa.func.count(sa.distinct(raw_records.c.tenant_id)))
            .where(raw_records.c.api.in_(["invoices", "contacts", "journals"]))
            .group_by(raw_records.c.record_id)
            .having(sa.func.count(sa.distinct(raw_records.c.tenant_id)) > 1)
        ).all()
    assert per_tenant == [], "a record id appears under more than one tenant"


def test_full_refresh_flags_records_xero_no_longer_returns(small: Synced) -> None:
    tenant = _first_tenant(small)
    invoices = catalog.get("invoices")
    small.sync(tenant, [invoices])
    ghost = {"InvoiceID": "00000000-dead-4000-8000-000000000000", "Status": "AUTHORISED", "Type": "ACCREC"}
    small.warehouse.write_records(
        tenant, "invoices", [ghost], id_field="InvoiceID", updated_field="UpdatedDateUTC", seen_at=now_utc()
    )
    [incremental] = small.sync(tenant, [invoices])
    assert incremental.counts.deleted_in_xero == 0  # an incremental read cannot know what disappeared
    [full] = small.sync(tenant, [invoices], full_refresh=True)
    assert (full.counts.deleted_in_xero, full.counts.inserted, full.counts.updated) == (1, 0, 0)
    assert ghost["InvoiceID"] in small.warehouse.record_versions(tenant, "invoices", include_deleted=True)
    assert_matches_truth(small, tenant, ["invoices"])
