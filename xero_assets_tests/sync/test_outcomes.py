"""Per-API outcomes below the CLI: a malformed field is NULL and reported, a full read that would flag most of an
API's records as deleted is refused until confirmed, and a 404 on a report is asked again only a day later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xero_assets import catalog
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store import typed
from xero_assets.store.warehouse import now_utc
from xero_assets.sync import MassDelete, TenantSyncError
from xero_assets_tests.sync.conftest import Synced, connect, fast_config


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(fast_config(tenants=1, size="small")) as handle:
        yield handle


@pytest.fixture
def small(small_sandbox: SandboxHandle, database_url: str) -> Iterator[Synced]:
    synced = connect(small_sandbox, database_url)
    yield synced
    small_sandbox.app_state.faults.clear()
    synced.close()


def test_a_field_that_cannot_be_typed_is_null_and_named_with_its_record() -> None:
    record = {
        "InvoiceID": "inv-1", "Total": "not-a-number", "AmountDue": "NaN", "Date": "someday", "SubTotal": "12.50",
        "LineItems": [{"LineItemID": "l1", "UnitAmount": {"x": 1}, "Quantity": 2}],
    }  # fmt: skip
    rows = typed.typed_rows(typed.BY_API["invoices"], "t", [record])
    [parent] = rows.parent
    assert parent["total"] is None and parent["amountdue"] is None and parent["date"] is None
    assert parent["subtotal"] == 12.5  # the rest of the record is typed
    assert rows.children["xero_invoice_line_items"][0]["quantity"] == 2
    assert [(p.api, p.record_id, p.field, p.value) for p in rows.problems] == [
        ("invoices", "inv-1", "Date", "someday"),
        ("invoices", "inv-1", "AmountDue", "NaN"),
        ("invoices", "inv-1", "Total", "not-a-number"),
        ("invoices", "inv-1", "LineItems[0].UnitAmount", "{'x': 1}"),
    ]


def test_booleans_from_strings_are_read_as_written() -> None:
    rows = typed.typed_rows(typed.BY_API["contacts"], "t", [{"ContactID": "c", "IsCustomer": "false"}])
    assert rows.parent[0]["iscustomer"] is False and not rows.problems


def test_a_full_read_that_would_flag_most_records_deleted_asks_for_confirmation(small: Synced) -> None:
    tenant = next(iter(small.connections))
    contacts = catalog.get("contacts")
    small.sync(tenant, [contacts])
    real = small.warehouse.count(tenant, "contacts")
    ghosts = [{"ContactID": f"ghost-{n}", "Name": f"Gone {n}"} for n in range(real + 1)]  # more than half once stored
    small.warehouse.write_records(
        tenant, "contacts", ghosts, id_field="ContactID", updated_field=None, seen_at=now_utc()
    )

    with pytest.raises(TenantSyncError) as refused:
        small.sync(tenant, [contacts], full_refresh=True)
    assert isinstance(refused.value.failed["contacts"], MassDelete)
    assert f"would flag {len(ghosts)} of its {real + len(ghosts)} stored records" in str(refused.value)
    assert "--allow-mass-delete" in str(refused.value)
    assert small.warehouse.count(tenant, "contacts") == real + len(ghosts)  # nothing flagged

    [result] = small.sync(tenant, [contacts], full_refresh=True, allow_mass_delete=True)
    assert result.counts.deleted_in_xero == len(ghosts)
    assert small.warehouse.count(tenant, "contacts") == real


def test_a_report_xero_does_not_serve_is_skipped_and_asked_again_only_a_day_later(small: Synced) -> None:
    tenant = next(iter(small.connections))
    small.control("POST", "faults", json={"kind": "404", "path": "Reports/BalanceSheet"})
    balance_sheet = catalog.get("balance_sheet")
    [first] = small.sync(tenant, [balance_sheet])
    assert first.status.startswith("skipped: not available for this organisation (Xero answered 404")
    assert small.control("GET", "faults")["rules"][0]["hits"] == 1
    [second] = small.sync(tenant, [balance_sheet])
    assert second.status.startswith("skipped: not available for this organisation")
    assert small.control("GET", "faults")["rules"][0]["hits"] == 1  # not asked again the same day
