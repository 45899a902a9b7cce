"""LinkedTransactions have no If-Modified-Since, so a whole read costs a call per 100 links on every sync. Between
periodic full re-reads the sync re-reads only the links of documents Xero updated, by TargetTransactionID (sales
invoices) or SourceTransactionID (bills, spend money). Over real HTTP against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from xero_assets import catalog
from xero_assets.store import typed
from xero_assets.store.warehouse import raw_records
from xero_assets_tests.sync.conftest import Synced, private_synced

APIS = [
    catalog.get(name) for name in ("organisation", "contacts", "invoices", "bank_transactions", "linked_transactions")
]


@pytest.fixture
def synced(sqlite_url: str) -> Iterator[Synced]:
    with private_synced(sqlite_url, tenants=1, size="medium") as synced:
        yield synced


def stored_links(synced: Synced, tenant: str) -> dict[str, dict]:
    t = raw_records.c
    query = sa.select(t.record_id, t.data).where(t.tenant_id == tenant, t.api == "linked_transactions")
    with synced.warehouse.engine.connect() as conn:
        return {record_id: json.loads(data) for record_id, data in conn.execute(query)}


def open_target(synced: Synced, tenant: str, links: dict[str, dict]) -> tuple[str, str]:
    """A link whose target is an open sales invoice (one the sandbox's `edit` mutation can revise)."""
    inv = typed.TABLES["xero_invoices"].c
    with synced.warehouse.engine.connect() as conn:
        query = sa.select(inv.id).where(inv.type == "ACCREC", inv.status == "AUTHORISED", inv.amountdue > 0)
        open_sales = set(conn.execute(query).scalars())
    return next((link_id, link["TargetTransactionID"]) for link_id, link in sorted(links.items())
                if link["TargetTransactionID"] in open_sales)  # fmt: skip


def test_links_are_reread_only_for_changed_documents_and_wholly_at_the_periodic_reread(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = next(iter(synced.connections))
    first = {r.api: r for r in synced.sync(tenant, APIS)}
    links = stored_links(synced, tenant)
    whole_read = len(links) // catalog.PAGE_ONLY_SIZE + 1
    assert whole_read > 1 and first["linked_transactions"].calls == whole_read  # medium: links span pages

    quiet = {r.api: r for r in synced.sync(tenant, APIS)}
    assert quiet["linked_transactions"].calls == 0  # nothing changed: no link is worth a call

    link_id, invoice_id = open_target(synced, tenant, links)
    synced.control("POST", "mutate", json={"tenant_id": tenant, "action": "edit", "api": "linked_transactions",
                                           "id": link_id})  # fmt: skip
    synced.control("POST", "mutate", json={"tenant_id": tenant, "action": "edit", "api": "invoices", "id": invoice_id})
    changed = {r.api: r for r in synced.sync(tenant, APIS)}
    assert (changed["linked_transactions"].calls, changed["linked_transactions"].full_read) == (1, False)
    xeros = synced.tenant(tenant).get_json(f"/api.xro/2.0/LinkedTransactions/{link_id}")["LinkedTransactions"][0]
    assert stored_links(synced, tenant)[link_id]["UpdatedDateUTC"] == xeros["UpdatedDateUTC"]
    assert stored_links(synced, tenant)[link_id]["UpdatedDateUTC"] != links[link_id]["UpdatedDateUTC"]

    monkeypatch.setenv("XERO_ASSETS_REPORTS_FULL_REREAD_DAYS", "0")  # as when a week has passed
    due = {r.api: r for r in synced.sync(tenant, APIS)}
    assert (due["linked_transactions"].calls, due["linked_transactions"].full_read) == (whole_read, True)
