"""The document datasets after a real sync of one small organisation per country (AU, NZ, GB, US): AR/AP ageing
equal Xero's aged reports fetched over HTTP, contact by contact, and the control accounts, to the cent; the checks
pass; every dataset builds with unique keys and exact money."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xero_assets.datasets import checks_documents
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync import document_world as world
from xero_assets_tests.sync.conftest import Synced, connect, fast_config

COUNTRIES = ("AU", "NZ", "GB", "US")


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One small organisation per country, each synced once for the whole module (nothing here mutates them)."""
    database = Path(tmp_path_factory.mktemp("documents")) / "warehouse.db"
    with running_sandbox(fast_config(tenants=4, size="small")) as handle:
        synced = connect(handle, f"sqlite:///{database}")
        for tenant_id in synced.connections:
            world.sync_documents(synced, tenant_id)
        yield synced
        synced.close()


def _tenant(synced: Synced, country: str) -> str:
    return next(t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"] if t["country"] == country)


@pytest.mark.parametrize("country", COUNTRIES)
def test_ageing_ties_to_xero_aged_reports_and_control_accounts(synced: Synced, country: str) -> None:
    tenant_id = _tenant(synced, country)
    dataset_inputs = world.inputs(synced, tenant_id, world.sandbox_today(synced))
    aged = world.build("ar_ageing", dataset_inputs)
    assert len(aged) > 3 and aged["contact_name"].notna().all()  # a real book, every contact named
    assert world.ageing_problems(synced, tenant_id, dataset_inputs) == []


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_document_dataset_builds_and_invoices_equal_their_lines(synced: Synced, country: str) -> None:
    tenant_id = _tenant(synced, country)
    dataset_inputs = world.inputs(synced, tenant_id, world.sandbox_today(synced))
    built = world.build_all(dataset_inputs)
    lines, mrr = built["invoice_lines"], built["recurring_revenue"]
    assert not isinstance(lines, str) and not isinstance(mrr, str)
    assert lines["contact_name"].notna().all() and lines["account_name"].notna().all()
    assert set(lines["base_currency"]) == {dataset_inputs.organisation.base_currency}
    assert (mrr["new"] > 0).any() and (mrr["mrr"] > 0).any()
    if country == "US":  # Xero has no US payroll: skipped with the reason, not built as zeros
        assert "not available for US" in str(built["payroll_headcount"])
    else:
        headcount = built["payroll_headcount"]
        assert not isinstance(headcount, str) and headcount["headcount"].max() > 0
    invoices = dataset_inputs.typed("xero_invoices", ("id", "type", "status", "invoicenumber", "date",
                                                      "lineamounttypes", "total", "totaltax"))  # fmt: skip
    item_lines = dataset_inputs.typed("xero_invoice_line_items", ("parent_id", "lineamount", "taxamount"))
    assert checks_documents.invoice_totals_against_lines(tenant_id, "", invoices, item_lines).empty
