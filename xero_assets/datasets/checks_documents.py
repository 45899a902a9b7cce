"""Tie-outs for the document datasets, as pure functions the Dagster asset checks call.

Each returns a frame of failures (empty = the check passes) whose rows name the tenant, the contact or invoice, the
period and the difference, so a check's metadata can show them as a table a person reads at a glance:

- ageing against Xero's own AgedReceivablesByContact / AgedPayablesByContact (stored by the sync, one per contact
  with something outstanding), contact by contact;
- ageing against the receivables / payables control account in the general ledger (journal lines, when granted);
- every invoice's total against its lines plus tax.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets import money
from xero_assets.datasets.documents import is_inclusive
from xero_assets.store import typed
from xero_assets.store.warehouse import report_cells

AGED_REPORT = {"ACCREC": "aged_receivables_by_contact", "ACCPAY": "aged_payables_by_contact"}
CONTROL_ACCOUNT = {"ACCREC": "DEBTORS", "ACCPAY": "CREDITORS"}
FAILURE_COLUMNS = ["tenant_id", "subject_id", "subject", "period", "ours", "xero", "difference"]


def _failures(tenant_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows where `ours` (cents) and `xero` (cents) differ, money as Decimal, named and dated."""
    wrong = frame[frame["ours"] != frame["xero"]].copy()
    wrong["difference"] = wrong["ours"] - wrong["xero"]
    wrong["tenant_id"] = tenant_id
    wrong = money.money_columns(wrong, ("ours", "xero", "difference"))
    return wrong.reset_index(drop=True)[FAILURE_COLUMNS]


def aged_report_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Each stored aged report's total Due, per contact (the report's period key is the contact id), in cents."""
    summary = cells[(cells["row_type"] == "SummaryRow") & (cells["column_label"] == "Due")]
    totals = summary.groupby("period", as_index=False)["amount"].sum()
    return pd.DataFrame({"contact_id": totals["period"], "xero": money.cents(totals["amount"])})


def ageing_against_aged_reports(tenant_id: str, ageing: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Each contact Xero returned an aged report for: our total due against the report's, to the cent. Contacts
    without a stored report (the sync asks only for contacts with an open invoice) are left to the control-account
    check, which covers every contact at once."""
    reports = aged_report_totals(cells)
    ours = pd.DataFrame(
        {"contact_id": ageing["contact_id"], "ours": money.cents(ageing["total_due"]), "name": ageing["contact_name"]}
    )
    joined = reports.merge(ours, on="contact_id", how="left").fillna({"ours": 0}).astype({"ours": "int64"})
    as_at = ageing["as_at"].iloc[0] if not ageing.empty else ""
    joined = joined.assign(
        subject_id=joined["contact_id"], subject=joined["name"].fillna(joined["contact_id"]), period=f"as at {as_at}"
    )
    return _failures(tenant_id, joined)


def ageing_against_control_account(
    tenant_id: str, ageing: pd.DataFrame, account: str, balance: Decimal, as_at: date
) -> pd.DataFrame:
    """The ageing's total against the control account's balance at `as_at` (positive: owed to us for AR, by us for
    AP), named by the account."""
    ours = int(money.cents(ageing["total_due"]).sum()) if not ageing.empty else 0
    frame = pd.DataFrame(
        {
            "subject_id": [account],
            "subject": [f"control account {account}"],
            "period": [f"as at {as_at}"],
            "ours": [ours],
            "xero": [int(money.cents(pd.Series([float(balance)])).iloc[0])],
        }
    )
    return _failures(tenant_id, frame)


def invoice_totals_against_lines(tenant_id: str, invoices: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Every invoice's Total against the sum of its lines plus tax (LineAmount already holds the tax on Inclusive
    documents) and its TotalTax against the lines' tax; one failure row per wrong figure."""
    sums = (
        lines.assign(line=money.cents(lines["lineamount"]), tax=money.cents(lines["taxamount"]))
        .groupby("parent_id", as_index=False)[["line", "tax"]]
        .sum()
    )
    docs = invoices[invoices["status"] != "DELETED"].merge(sums, left_on="id", right_on="parent_id", how="left")
    docs = docs.fillna({"line": 0, "tax": 0})
    inclusive = is_inclusive(docs["lineamounttypes"])
    expected_total = docs["line"].where(inclusive, docs["line"] + docs["tax"]).astype("int64")
    label = docs["invoicenumber"].fillna(docs["id"]) + " (" + docs["type"].fillna("") + ")"
    period = pd.to_datetime(docs["date"]).dt.strftime("%Y-%m")
    base = {"subject_id": docs["id"], "subject": label, "period": period}
    totals = pd.DataFrame({**base, "ours": expected_total, "xero": money.cents(docs["total"])})
    taxes = pd.DataFrame({**base, "ours": docs["tax"].astype("int64"), "xero": money.cents(docs["totaltax"])})
    taxes["subject"] = taxes["subject"] + " tax"
    return _failures(tenant_id, pd.concat([totals, taxes], ignore_index=True))


# --- reading what the checks compare against --------------------------------------------------------------------
def stored_aged_reports(engine: sa.Engine, tenant_id: str, invoice_type: str) -> pd.DataFrame:
    """The summary cells of the aged-by-contact reports the sync stored for one tenant (only what the check reads)."""
    c = report_cells.c
    query = sa.select(c.period, c.row_type, c.column_label, c.amount).where(
        c.tenant_id == tenant_id, c.report == AGED_REPORT[invoice_type], c.row_type == "SummaryRow"
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def control_account_balance(engine: sa.Engine, tenant_id: str, invoice_type: str, as_at: date) -> tuple[str, Decimal]:
    """(account "code name", balance at `as_at`) of the receivables (DEBTORS) or payables (CREDITORS) control
    account, summed in SQL from journal lines (debit positive; payables returned positive when owed)."""
    accounts, journals, lines = (typed.TABLES[n] for n in ("xero_accounts", "xero_journals", "xero_journal_lines"))
    with engine.connect() as conn:
        control = conn.execute(
            sa.select(accounts.c.id, accounts.c.code, accounts.c.name).where(
                accounts.c.tenant_id == tenant_id, accounts.c.systemaccount == CONTROL_ACCOUNT[invoice_type]
            )
        ).first()
        if control is None:
            raise LookupError(f"tenant {tenant_id} has no {CONTROL_ACCOUNT[invoice_type]} system account")
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(lines.c.netamount), 0))
            .select_from(
                lines.join(journals, (journals.c.tenant_id == lines.c.tenant_id) & (journals.c.id == lines.c.parent_id))
            )
            .where(lines.c.tenant_id == tenant_id, lines.c.accountid == control.id, journals.c.journaldate <= as_at)
        ).scalar_one()
    balance = Decimal(str(total)).quantize(money.CENT)
    return f"{control.code} {control.name}", balance if invoice_type == "ACCREC" else -balance
