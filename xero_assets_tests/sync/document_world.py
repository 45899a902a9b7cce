"""Shared by the document-dataset sync tests: sync the APIs those datasets read, build them through their specs,
and ask the sandbox for Xero's aged reports over HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import pandas as pd

from xero_assets import catalog
from xero_assets.datasets import checks_documents, documents, load, operations, receivables, recurring
from xero_assets.datasets.spec import DatasetInputs, DatasetSkipped, DatasetSpec, Organisation
from xero_assets.defs.dashboards import granted_apis
from xero_assets_tests.sync.conftest import Synced

DOCUMENT_APIS = (
    "organisation", "contacts", "accounts", "invoices", "credit_notes", "overpayments", "prepayments", "journals",
    "repeating_invoices", "items", "purchase_orders", "payroll_employees",
    "aged_receivables_by_contact", "aged_payables_by_contact",
)  # fmt: skip
SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for module in (documents, receivables, recurring, operations)
    for spec in module.DATASETS  # type: ignore[attr-defined]
}
AGED_PATH = {"ACCREC": "/api.xro/2.0/Reports/AgedReceivablesByContact",
             "ACCPAY": "/api.xro/2.0/Reports/AgedPayablesByContact"}  # fmt: skip


def sync_documents(synced: Synced, tenant_id: str) -> None:
    results = synced.sync(tenant_id, [catalog.get(name) for name in DOCUMENT_APIS])
    failed = [r for r in results if getattr(r, "error", None)]
    assert not failed, failed


def inputs(synced: Synced, tenant_id: str, as_at: date) -> DatasetInputs:
    """What the Dagster layer hands a builder: the organisation as synced, and the APIs the tenant granted."""
    organisation = load.organisation(synced.warehouse, tenant_id)
    granted = granted_apis(tuple(synced.connections[tenant_id].scopes))
    return DatasetInputs(synced.warehouse.engine, organisation, as_at, granted)


def build(name: str, dataset_inputs: DatasetInputs) -> pd.DataFrame:
    """One dataset as one frame (a dataset built in chunks, like invoice_lines, concatenated)."""
    result = SPECS[name].build(dataset_inputs, {})
    return result if isinstance(result, pd.DataFrame) else pd.concat(list(result), ignore_index=True)


def sandbox_today(synced: Synced) -> date:
    return date.fromisoformat(synced.control("GET", "clock")["now"][:10])


def xero_aged_totals(synced: Synced, tenant_id: str, invoice_type: str, contacts: Iterable[str], as_at: date) -> dict:
    """{contact: Due total} from the sandbox's aged-by-contact report, fetched over HTTP for each contact."""
    client = synced.tenant(tenant_id)
    out: dict[str, Decimal] = {}
    for contact in contacts:
        document = client.get_json(AGED_PATH[invoice_type], {"contactId": contact, "date": as_at.isoformat()})
        rows = document["Reports"][0]["Rows"]
        header = [c["Value"] for c in rows[0]["Cells"]]
        summary = next(r for section in rows[1:] for r in section["Rows"] if r["RowType"] == "SummaryRow")
        out[contact] = Decimal(summary["Cells"][header.index("Due")]["Value"] or "0")
    return out


def contacts_with_documents(synced: Synced, tenant_id: str) -> list[str]:
    """Every contact with any invoice or credit (the ones an aged report could show)."""
    frames = [
        DatasetInputs(synced.warehouse.engine, Organisation(tenant_id, "", "", "", 31, 12), date.today()).typed(
            table, ("contactid",)
        )
        for table in ("xero_invoices", *receivables.CREDIT_TABLES)
    ]
    return sorted(set(pd.concat(frames)["contactid"].dropna()))


def ageing_problems(synced: Synced, tenant_id: str, dataset_inputs: DatasetInputs) -> list[str]:
    """Everything that disagrees between our AR/AP ageing and Xero (aged reports over HTTP for every contact with
    documents, the stored aged reports, the control accounts); [] when all tie to the cent."""
    problems = []
    everyone = contacts_with_documents(synced, tenant_id)
    for invoice_type, name in (("ACCREC", "ar_ageing"), ("ACCPAY", "ap_ageing")):
        aged = build(name, dataset_inputs)
        ours = dict(zip(aged["contact_id"], aged["total_due"], strict=True))
        xero = xero_aged_totals(synced, tenant_id, invoice_type, everyone, dataset_inputs.as_at)
        for contact in everyone:
            if ours.get(contact, Decimal("0.00")) != xero[contact]:
                problems.append(f"{name} {contact}: ours {ours.get(contact)} Xero {xero[contact]}")
        engine = dataset_inputs.engine
        stored = checks_documents.comparable_aged_reports(engine, tenant_id, invoice_type)
        org = dataset_inputs.organisation.name
        failures = checks_documents.ageing_against_aged_reports(tenant_id, org, aged, stored)
        problems += [f"{name} vs stored report: {row}" for row in failures.to_dict("records")]
        account, balance = checks_documents.control_account_balance(
            engine, tenant_id, invoice_type, dataset_inputs.as_at
        )
        control = checks_documents.ageing_against_control_account(
            tenant_id, org, aged, account, balance, dataset_inputs.as_at
        )
        problems += [f"{name} vs control: {row}" for row in control.to_dict("records")]
    return problems


def build_all(dataset_inputs: DatasetInputs) -> dict[str, pd.DataFrame | str]:
    """Every document dataset (a skipped one as its reason), each checked for a unique key and no float money."""
    out: dict[str, pd.DataFrame | str] = {}
    for name, spec in SPECS.items():
        try:
            frame = build(name, dataset_inputs)
        except DatasetSkipped as skipped:
            out[name] = str(skipped)
            continue
        assert not frame.duplicated(list(spec.key)).any(), f"{name}: duplicate keys"
        for column in spec.money:
            assert all(isinstance(v, Decimal) for v in frame[column]), f"{name}.{column} is not Decimal"
        out[name] = frame
    return out
