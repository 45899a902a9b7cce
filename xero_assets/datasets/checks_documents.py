"""Tie-outs for the document datasets: pure functions, and the asset checks (`CHECKS`) that run them.

Each function returns the differences (empty = the check passes) as rows naming the tenant and organisation, the
contact, invoice or account, the period, the figure, ours, Xero's and the difference, so a check's metadata shows
them as a table a person can act on:

- AR/AP ageing against Xero's own AgedReceivablesByContact / AgedPayablesByContact (stored by the sync, one per
  contact with an open invoice), contact by contact;
- AR/AP ageing in total against the receivables / payables control account in the general ledger (journal lines,
  when the journals scope is granted): this also covers contacts with only an unapplied credit, whose aged report
  the sync does not read;
- every invoice's Total and TotalTax against its lines (a run of invoices at a time: both tables grow with the
  organisation).

The first two compare sources read at different times, and a run need not read them all (a webhook run reads only
the invoices that changed). One rule decides whether they can be compared (`read_since_change`): Xero's side (an
aged report, the journals) must have been read at or after the documents last changed (their UpdatedDateUTC).
Read before, it shows the books as they were then, and a difference would be the gap between two reads, not an
error: a stale aged report is left out (the control account still covers its contact), and a stale ledger makes the
control-account check pass as "not compared", saying when each was read, until the next sync reads the journals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets import money
from xero_assets.datasets.documents import invoice_id_ranges, is_inclusive, read_range
from xero_assets.datasets.load import organisation_time
from xero_assets.datasets.spec import CheckOutcome, DatasetCheck, DatasetInputs, Organisation
from xero_assets.store import typed
from xero_assets.store.warehouse import SyncState, raw_records, report_cells, sync_state

AGED_REPORT = {"ACCREC": "aged_receivables_by_contact", "ACCPAY": "aged_payables_by_contact"}
CONTROL_ACCOUNT = {"ACCREC": "DEBTORS", "ACCPAY": "CREDITORS"}
TAIL_COLUMNS = ["period", "figure", "dataset", "xero", "difference"]
TOTAL_FIGURE = "total: lines + tax"


def _differences(tenant: str, organisation: str, subject: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """Rows where `dataset` and `xero` (int cents) differ, money as Decimal, named and dated."""
    wrong = frame[frame["dataset"] != frame["xero"]].copy()
    wrong["difference"] = wrong["dataset"] - wrong["xero"]
    wrong = money.money_columns(wrong, ("dataset", "xero", "difference"))
    wrong.insert(0, "organisation", organisation)
    wrong.insert(0, "tenant", tenant)
    return wrong.reset_index(drop=True)[["tenant", "organisation", *subject, *TAIL_COLUMNS]]


def aged_report_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Each stored aged report's total Due, per contact (the report's period key is the contact id), in cents."""
    summary = cells[(cells["row_type"] == "SummaryRow") & (cells["column_label"] == "Due")]
    totals = summary.groupby("period", as_index=False)["amount"].sum()
    return pd.DataFrame({"contact_id": totals["period"], "xero": money.cents(totals["amount"])})


def ageing_against_aged_reports(
    tenant: str, organisation: str, ageing: pd.DataFrame, cells: pd.DataFrame
) -> pd.DataFrame:
    """Each contact Xero returned an aged report for: our total due against the report's, to the cent."""
    reports = aged_report_totals(cells)
    ours = pd.DataFrame(
        {"contact_id": ageing["contact_id"], "dataset": money.cents(ageing["total_due"]),
         "contact": ageing["contact_name"]}
    )  # fmt: skip
    joined = reports.merge(ours, on="contact_id", how="left")
    joined["dataset"] = joined["dataset"].fillna(0).astype("int64")
    as_at = ageing["as_at"].iloc[0] if not ageing.empty else ""
    joined = joined.assign(contact=joined["contact"].fillna(joined["contact_id"]), period=f"as at {as_at}",
                           figure="total due")  # fmt: skip
    return _differences(tenant, organisation, ["contact_id", "contact"], joined)


def ageing_against_control_account(
    tenant: str, organisation: str, ageing: pd.DataFrame, account: str, balance: Decimal, as_at: date
) -> pd.DataFrame:
    """The ageing's total against the control account's balance at `as_at` (positive: owed to us for AR, by us for
    AP), named by the account."""
    ours = int(money.cents(ageing["total_due"]).sum()) if not ageing.empty else 0
    frame = pd.DataFrame(
        {"account": [account], "period": [f"as at {as_at}"], "figure": ["total due"], "dataset": [ours],
         "xero": [int(money.cents(pd.Series([balance])).iloc[0])]}
    )  # fmt: skip
    return _differences(tenant, organisation, ["account"], frame)


def invoice_totals_against_lines(
    tenant: str, organisation: str, invoices: pd.DataFrame, lines: pd.DataFrame
) -> pd.DataFrame:
    """Every invoice's Total against the sum of its lines plus tax (LineAmount already holds the tax on Inclusive
    documents) and its TotalTax against the lines' tax; one row per wrong figure."""
    sums = (
        lines.assign(line=money.cents(lines["lineamount"]), tax=money.cents(lines["taxamount"]))
        .groupby("parent_id", as_index=False)[["line", "tax"]]
        .sum()
    )
    docs = invoices[invoices["status"] != "DELETED"].merge(sums, left_on="id", right_on="parent_id", how="left")
    docs = docs.fillna({"line": 0, "tax": 0})
    inclusive = is_inclusive(docs["lineamounttypes"])
    lines_total = docs["line"].where(inclusive, docs["line"] + docs["tax"]).astype("int64")
    base = {
        "invoice_id": docs["id"],
        "invoice": docs["invoicenumber"].fillna(docs["id"]) + " (" + docs["type"].fillna("") + ")",
        "period": pd.to_datetime(docs["date"]).dt.strftime("%Y-%m"),
    }
    totals = pd.DataFrame({**base, "figure": TOTAL_FIGURE, "dataset": lines_total,
                           "xero": money.cents(docs["total"])})  # fmt: skip
    taxes = pd.DataFrame({**base, "figure": "total tax: lines' tax", "dataset": docs["tax"].astype("int64"),
                          "xero": money.cents(docs["totaltax"])})  # fmt: skip
    both = pd.concat([totals, taxes], ignore_index=True)
    return _differences(tenant, organisation, ["invoice_id", "invoice"], both)


# --- reading what the checks compare against --------------------------------------------------------------------
DOCUMENT_TABLES = ("xero_invoices", "xero_credit_notes", "xero_overpayments", "xero_prepayments")


def stored_aged_reports(engine: sa.Engine, tenant_id: str, invoice_type: str) -> pd.DataFrame:
    """The summary cells of the aged-by-contact reports the sync stored for one tenant (only what the check reads),
    each with when it was read (`read_at`, naive UTC)."""
    c, raw = report_cells.c, raw_records.c
    report = AGED_REPORT[invoice_type]
    same_report = (raw.tenant_id == c.tenant_id) & (raw.api == c.report) & (raw.record_id == c.period)
    query = (
        sa.select(c.period, c.row_type, c.column_label, c.amount, raw.last_seen.label("read_at"))
        .select_from(report_cells.join(raw_records, same_report))
        .where(c.tenant_id == tenant_id, c.report == report, c.row_type == "SummaryRow")
    )
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def read_since_change(read_at: pd.Series, changed_at: pd.Series) -> pd.Series:
    """Whether each source (Xero's report, the ledger) was read at or after the documents it is compared with last
    changed: the one staleness rule of the cross-source checks. Documents that never changed (no row: NaT) leave it
    current; a source never read (None) is not."""
    read, changed = pd.to_datetime(read_at), pd.to_datetime(changed_at)
    return changed.isna() | (read >= changed)


def _document_changes(engine: sa.Engine, tenant_id: str, per: str) -> pd.DataFrame:
    """The newest UpdatedDateUTC (`changed_at`) of the tenant's invoices, credit notes, overpayments and
    prepayments, per `contact_id` or per `api`."""
    parts = []
    for name in DOCUMENT_TABLES:
        t = typed.TABLES[name]
        parts.append(sa.select(sa.literal(name.removeprefix("xero_")).label("api"), t.c.contactid.label("contact_id"),
                               t.c.updateddateutc.label("changed_at")).where(t.c.tenant_id == tenant_id))  # fmt: skip
    union = sa.union_all(*parts).subquery()
    query = sa.select(union.c[per], sa.func.max(union.c.changed_at).label("changed_at")).group_by(union.c[per])
    with engine.connect() as conn:
        return pd.read_sql(query, conn)


def last_document_change(engine: sa.Engine, tenant_id: str) -> pd.DataFrame:
    """Per contact, the newest UpdatedDateUTC of its invoices, credit notes, overpayments and prepayments."""
    return _document_changes(engine, tenant_id, "contact_id")


def current_aged_reports(cells: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """The stored reports still current: read after the contact's documents last changed. A report read before (a
    contact paid off since is not asked again) shows what was due then, so it is left out, not compared; the
    control-account check still covers that contact."""
    joined = cells.merge(changes, left_on="period", right_on="contact_id", how="left")
    return cells[read_since_change(joined["read_at"], joined["changed_at"]).to_numpy()]


def last_reads(engine: sa.Engine, tenant_id: str, apis: list[str]) -> dict[str, datetime | None]:
    """When the sync last finished reading each of `apis` for the tenant (naive UTC; None: never)."""
    c = sync_state.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.api, c.state).where(c.tenant_id == tenant_id, c.api.in_(apis))).all()
    read = {api: SyncState.from_json(text).last_completed for api, text in rows}
    return {api: read.get(api) for api in apis}


def _when(org: Organisation, moment: datetime) -> str:
    return f"{organisation_time(org, moment):%Y-%m-%d %H:%M:%S %Z}"


def stale_ledger(engine: sa.Engine, org: Organisation) -> str | None:
    """Why the ledger (the journals) cannot be compared with the documents now, or None when it can: a document
    changed after the journals were last read (a webhook run read the invoices alone), so the control account may
    not hold that change yet. Says when each was read, in the organisation's time."""
    changes = _document_changes(engine, org.tenant_id, "api")
    reads = last_reads(engine, org.tenant_id, ["journals", *changes["api"]])
    ledger = reads["journals"]
    stale = changes[~read_since_change(pd.Series([ledger] * len(changes), dtype=object), changes["changed_at"])]
    if stale.empty:
        return None
    if ledger is None:
        return "the ledger (journals) has not been read yet; compared once a sync has read it"
    newer = ", ".join(
        f"{api.replace('_', ' ')} at {_when(org, read)}" if (read := reads.get(api)) else
        f"{api.replace('_', ' ')} changed at {_when(org, changed)}"
        for api, changed in zip(stale["api"], pd.to_datetime(stale["changed_at"]), strict=True)
    )  # fmt: skip
    return f"the ledger was last read at {_when(org, ledger)}, {newer}; compared at the next full sync"


def comparable_aged_reports(engine: sa.Engine, tenant_id: str, invoice_type: str) -> pd.DataFrame:
    """What the aged-report check compares with: the stored reports that are still current."""
    return current_aged_reports(
        stored_aged_reports(engine, tenant_id, invoice_type), last_document_change(engine, tenant_id)
    )


def control_account_balance(engine: sa.Engine, tenant_id: str, invoice_type: str, as_at: date) -> tuple[str, Decimal]:
    """(account "code name", balance at `as_at`) of the receivables (DEBTORS) or payables (CREDITORS) control
    account, summed in SQL from journal lines (debit positive; payables returned positive when owed)."""
    accounts, journals, lines = (typed.TABLES[n] for n in ("xero_accounts", "xero_journals", "xero_journal_lines"))
    on = (journals.c.tenant_id == lines.c.tenant_id) & (journals.c.id == lines.c.parent_id)
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
            .select_from(lines.join(journals, on))
            .where(lines.c.tenant_id == tenant_id, lines.c.accountid == control.id, journals.c.journaldate <= as_at)
        ).scalar_one()
    balance = money.money(total)
    return f"{control.code} {control.name}", balance if invoice_type == "ACCREC" else -balance


# --- the asset checks ----------------------------------------------------------------------------------------------
def _outcome(differences: pd.DataFrame, what: str, compared: str) -> CheckOutcome:
    if len(differences):
        return CheckOutcome(False, f"{len(differences)} {what} differ from Xero", differences)
    return CheckOutcome(True, compared)


def _ageing_vs_reports(invoice_type: str):  # type: ignore[no-untyped-def]
    def run(inputs: DatasetInputs, frame: pd.DataFrame | None, _: Mapping[str, pd.DataFrame]) -> CheckOutcome:
        assert frame is not None
        cells = comparable_aged_reports(inputs.engine, inputs.tenant_id, invoice_type)
        if cells.empty:
            return CheckOutcome.not_compared(f"no {AGED_REPORT[invoice_type]} stored (reports not granted or read yet)")
        found = ageing_against_aged_reports(inputs.tenant_id, inputs.organisation.name, frame, cells)
        return _outcome(found, "contacts' totals", f"all {cells['period'].nunique()} contacts equal Xero's report")

    return run


def _ageing_vs_control(invoice_type: str):  # type: ignore[no-untyped-def]
    def run(inputs: DatasetInputs, frame: pd.DataFrame | None, _: Mapping[str, pd.DataFrame]) -> CheckOutcome:
        assert frame is not None
        if "journals" not in inputs.granted:
            return CheckOutcome.not_compared("grant accounting.journals.read to tie the ageing to the ledger")
        stale = stale_ledger(inputs.engine, inputs.organisation)
        if stale is not None:
            return CheckOutcome.not_compared(stale)
        account, balance = control_account_balance(inputs.engine, inputs.tenant_id, invoice_type, inputs.as_at)
        found = ageing_against_control_account(
            inputs.tenant_id, inputs.organisation.name, frame, account, balance, inputs.as_at
        )
        return _outcome(found, "totals", f"total {balance} equals control account {account}")

    return run


TOTALS_HEADER = ("id", "type", "status", "invoicenumber", "date", "lineamounttypes", "total", "totaltax")
TOTALS_LINES = ("parent_id", "lineamount", "taxamount")


def invoice_totals_in_chunks(inputs: DatasetInputs) -> tuple[int, pd.DataFrame]:
    """(invoices compared, differences) of `invoice_totals_against_lines` run a run of invoices at a time (their
    lines read by the line table's key), so neither table is ever whole in memory; the differences are every
    total's, then every tax's, as one run over all invoices lists them."""
    tenant, name = inputs.tenant_id, inputs.organisation.name
    compared, parts = 0, []
    for first, last in invoice_id_ranges(inputs):
        invoices = read_range(inputs, "xero_invoices", TOTALS_HEADER, "id", first, last)
        lines = read_range(inputs, "xero_invoice_line_items", TOTALS_LINES, "parent_id", first, last)
        compared += len(invoices)
        parts.append(invoice_totals_against_lines(tenant, name, invoices, lines))
    if not parts:
        parts.append(invoice_totals_against_lines(tenant, name, inputs.typed("xero_invoices", TOTALS_HEADER),
                                                  inputs.typed("xero_invoice_line_items", TOTALS_LINES)))  # fmt: skip
    found = pd.concat(parts, ignore_index=True)
    order = found["figure"].ne(TOTAL_FIGURE)  # totals first, then taxes, each in invoice order
    return compared, found.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def _invoice_totals(inputs: DatasetInputs, _frame: pd.DataFrame | None, _: Mapping[str, pd.DataFrame]) -> CheckOutcome:
    compared, found = invoice_totals_in_chunks(inputs)
    return _outcome(found, "invoice figures", f"all {compared} invoices equal their lines plus tax")


CHECKS = (
    DatasetCheck("ar_ageing", "equals_aged_receivables", "Each contact's total equals Xero's "
                 "AgedReceivablesByContact, to the cent.", _ageing_vs_reports("ACCREC")),
    DatasetCheck("ar_ageing", "equals_receivables_control_account", "The total equals the receivables control "
                 "account in the general ledger at the as-at date.", _ageing_vs_control("ACCREC")),
    DatasetCheck("ap_ageing", "equals_aged_payables", "Each contact's total equals Xero's AgedPayablesByContact, "
                 "to the cent.", _ageing_vs_reports("ACCPAY")),
    DatasetCheck("ap_ageing", "equals_payables_control_account", "The total equals the payables control account "
                 "in the general ledger at the as-at date.", _ageing_vs_control("ACCPAY")),
    DatasetCheck("invoice_lines", "invoice_totals_equal_lines", "Every invoice's Total equals its lines plus tax, "
                 "and its TotalTax its lines' tax.", _invoice_totals),
)  # fmt: skip
