"""Writes in a child process (`xero_assets.store.write_behind`): the same warehouse as writing in process, errors
that reach the API they belong to, a writer that dies losing nothing committed, and large plans that use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psutil
import pytest
import sqlalchemy as sa

from xero_assets import catalog, plan
from xero_assets.store import typed, write_behind
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import SyncState, Warehouse, now_utc
from xero_assets.sync import SyncResult, TenantSyncError
from xero_assets.xero.client import XeroClient
from xero_assets_tests.sync.conftest import Synced, assert_matches_truth, private_synced

WRITER_MODULE = "xero_assets.store.write_behind"


@pytest.fixture
def small(database_url: str) -> Iterator[Synced]:
    """A private sandbox: these tests slow it down or break the warehouse under it."""
    with private_synced(database_url, tenants=2, size="small") as synced:
        yield synced


def _tenant(synced: Synced) -> str:
    return next(t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"] if t["country"] == "AU")


def _writers() -> list[psutil.Process]:
    """This process's writer children (the sandbox runs in a thread here, not a process)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if WRITER_MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_sync_through_the_writer_stores_what_an_in_process_sync_does(small: Synced) -> None:
    tenant = _tenant(small)
    first = {r.api: r for r in small.sync(tenant, write_behind=True)}
    assert_matches_truth(small, tenant)
    counts = small.truth(tenant)["counts"]
    assert first["invoices"].counts.inserted == counts["invoices"] > 0
    assert first["journals"].counts.inserted == counts["journals"] > 100  # more than one page, handed over apiece
    again = {r.api: r for r in small.sync(tenant, write_behind=True)}
    assert sum(r.counts.inserted + r.counts.updated for r in again.values() if r.api != "organisation") == 0
    # Repeating invoices are read whole every time: each record comes back, is compared, and counted unchanged.
    assert again["repeating_invoices"].counts.unchanged == counts["repeating_invoices"] > 0
    assert _writers() == [], "the writer process outlived its sync"


def test_a_write_that_fails_in_the_writer_fails_its_api_with_the_databases_reason(small: Synced) -> None:
    tenant = _tenant(small)
    invoices = typed.BY_API["invoices"]
    with small.warehouse.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {invoices.table_name}"))
    apis = [catalog.get("contacts"), catalog.get("invoices")]
    with pytest.raises(TenantSyncError) as raised:
        small.sync(tenant, apis, write_behind=True)
    failure = raised.value.failed["invoices"]
    assert invoices.table_name in str(failure)
    assert any("warehouse writer process" in note for note in getattr(failure, "__notes__", []))
    assert [r.api for r in raised.value.results] == ["contacts"]
    small.warehouse.create()
    small.sync(tenant, apis)
    assert small.warehouse.count(tenant, "invoices") == small.truth(tenant)["counts"]["invoices"]


def test_a_writer_killed_mid_sync_fails_the_sync_plainly_and_the_next_one_completes(small: Synced) -> None:
    tenant = _tenant(small)
    small.control("POST", "faults", json={"kind": "slow", "delay_ms": 30, "target": "data", "rate": 1.0})
    outcome: dict[str, BaseException] = {}

    def sync() -> None:
        try:
            small.sync(tenant, write_behind=True)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=sync)
    thread.start()
    deadline = time.monotonic() + 30
    while not _writers() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # some pages in
    [writer] = _writers()
    writer.kill()
    thread.join(120)
    small.control("DELETE", "faults")
    error = outcome.get("error")
    assert isinstance(error, TenantSyncError), error
    assert "writer process ended" in str(error) and "run the sync again" in str(error)
    small.sync(tenant)
    assert_matches_truth(small, tenant)


def test_a_sync_planned_at_many_calls_writes_through_the_writer(small: Synced, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = _tenant(small)
    seen: list[int] = []

    def watch(_result: SyncResult) -> None:
        seen.append(len(_writers()))

    def planned() -> plan.DayPlan:
        client = XeroClient(small.base_url, small.store, limits=small.client.limits)
        try:
            scopes = small.connections[tenant].scopes
            _, day = plan.planned_sync(
                client.for_tenant(tenant), small.warehouse, granted_scopes=scopes, on_result=watch
            )
        finally:
            client.close()
        return day

    small_plan = planned()
    assert small_plan.planned < write_behind.MIN_CALLS and max(seen) == 0  # a routine size: written in process
    seen.clear()
    monkeypatch.setattr(write_behind, "MIN_CALLS", 1)
    planned()
    on_sqlite = small.warehouse.engine.dialect.name == "sqlite"
    assert max(seen) == (1 if on_sqlite else 0)  # PostgreSQL writes from a server process of its own already
    assert_matches_truth(small, tenant)


def test_a_read_waits_for_the_writes_issued_before_it(database_url: str) -> None:
    """Pages handed over and not yet written are counted by the next read, from any thread: reads wait for them."""
    warehouse = Warehouse(make_engine(database_url))
    warehouse.create()
    quotes = [{"QuoteID": f"q{i}", "UpdatedDateUTC": "2026-11-01T00:00:00Z", "Total": i} for i in range(3000)]
    with write_behind.WriteBehind(warehouse) as writer:
        pending = [
            writer.write_records_later(
                "t1",
                "quotes",
                quotes[i : i + 1000],
                id_field="QuoteID",
                updated_field="UpdatedDateUTC",
                seen_at=now_utc(),
            )
            for i in range(0, 3000, 1000)
        ]
        assert writer.count("t1", "quotes") == 3000
        assert [f.result().inserted for f in pending] == [1000, 1000, 1000]
    warehouse.engine.dispose()


def test_each_apis_pages_are_applied_in_the_order_they_were_handed_over(database_url: str) -> None:
    """Pages of two APIs interleaved, each carrying the cursor it reaches: each API's must land in order, or the
    cursor saved last would be an earlier page's."""
    warehouse = Warehouse(make_engine(database_url))
    warehouse.create()
    with write_behind.WriteBehind(warehouse) as writer:
        for page in range(12):
            for api, id_field in (("quotes", "QuoteID"), ("contacts", "ContactID")):
                records = [{id_field: f"{api}-{page}-{i}"} for i in range(200 if api == "quotes" else 5)]
                writer.write_records_later(
                    "t1", api, records, id_field=id_field, updated_field=None, seen_at=now_utc(),
                    state=SyncState(journal_offset=page),
                )  # fmt: skip
        assert writer.state("t1", "quotes").journal_offset == 11
        assert writer.state("t1", "contacts").journal_offset == 11
        assert writer.count("t1", "quotes") == 12 * 200
    warehouse.engine.dispose()
