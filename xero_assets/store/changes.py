"""What changed in a tenant's books since a cursor, read from the warehouse: the facts that decide which report
months, which contacts' aged reports and which linked transactions a sync has to re-read.

Every cursor here is Xero's own (a JournalNumber, an UpdatedDateUTC), never our clock, so a sandbox clock moved by a
test, or a machine whose clock drifts, cannot make a change look older than the read that should have caught it.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from xero_assets.store import typed
from xero_assets.store.warehouse import Warehouse, raw_records

# Documents whose Date puts them in a month of the reports (when journals are not granted, their dates stand in).
DATED_DOCUMENTS = (
    "xero_invoices",
    "xero_credit_notes",
    "xero_bank_transactions",
    "xero_payments",
    "xero_manual_journals",
    "xero_overpayments",
    "xero_prepayments",
)


def last_journal_number(warehouse: Warehouse, tenant_id: str) -> int | None:
    """The highest JournalNumber stored for the tenant, or None when no journal has been stored."""
    j = typed.TABLES["xero_journals"].c
    with warehouse.engine.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(j.journalnumber)).where(j.tenant_id == tenant_id)).scalar()
    return int(value) if value is not None else None


def journal_dates_after(warehouse: Warehouse, tenant_id: str, number: int) -> set[date]:
    """The JournalDates of journals numbered after `number`: every posting since then, back-dated or not (an edit
    posts a reversal at the document's old date and a new journal at its new one, so both months appear)."""
    j = typed.TABLES["xero_journals"].c
    query = sa.select(j.journaldate).where(j.tenant_id == tenant_id, j.journalnumber > number).distinct()
    with warehouse.engine.connect() as conn:
        return {d for d in conn.execute(query).scalars() if d is not None}


def newest_document_update(warehouse: Warehouse, tenant_id: str) -> datetime | None:
    """The newest UpdatedDateUTC over the dated documents (the cursor `document_dates_since` continues from)."""
    newest: datetime | None = None
    with warehouse.engine.connect() as conn:
        for name in DATED_DOCUMENTS:
            t = typed.TABLES[name].c
            value = conn.execute(sa.select(sa.func.max(t.updateddateutc)).where(t.tenant_id == tenant_id)).scalar()
            if value is not None and (newest is None or value > newest):
                newest = value
    return newest


def document_dates_since(warehouse: Warehouse, tenant_id: str, since: datetime) -> set[date]:
    """The Dates of documents Xero updated after `since`: the months a change touched, when journals are not
    granted (a date moved by an edit shows only its new month; the periodic full re-read covers the old one)."""
    out: set[date] = set()
    with warehouse.engine.connect() as conn:
        for name in DATED_DOCUMENTS:
            t = typed.TABLES[name].c
            query = sa.select(t.date).where(t.tenant_id == tenant_id, t.updateddateutc > since).distinct()
            out |= {d for d in conn.execute(query).scalars() if d is not None}
    return out


def contacts_updated_since(warehouse: Warehouse, tenant_id: str, invoice_type: str, since: datetime) -> set[str]:
    """Contacts with an ACCREC or ACCPAY invoice Xero updated after `since`: a payment, credit or edit moves a
    contact's balance only by updating one of its invoices, so only these contacts' aged reports can have changed
    (time moving an amount into an older bucket, and quiet edits, are what the periodic re-read is for)."""
    inv = typed.TABLES["xero_invoices"].c
    query = sa.select(inv.contactid).where(
        inv.tenant_id == tenant_id,
        inv.type == invoice_type,
        inv.updateddateutc > since,
        inv.contactid.is_not(None),
    )
    with warehouse.engine.connect() as conn:
        return set(conn.execute(query.distinct()).scalars())


def newest_invoice_update(warehouse: Warehouse, tenant_id: str, invoice_type: str) -> datetime | None:
    inv = typed.TABLES["xero_invoices"].c
    query = sa.select(sa.func.max(inv.updateddateutc)).where(inv.tenant_id == tenant_id, inv.type == invoice_type)
    with warehouse.engine.connect() as conn:
        return conn.execute(query).scalar()


def stored_report_reads(warehouse: Warehouse, tenant_id: str, api: str) -> dict[str, datetime]:
    """{period: when it was last read} for one report API's stored responses."""
    t = raw_records.c
    query = sa.select(t.record_id, t.last_seen).where(
        t.tenant_id == tenant_id, t.api == api, t.deleted_in_xero.is_(False)
    )
    with warehouse.engine.connect() as conn:
        return dict(conn.execute(query).all())


def documents_updated_since(
    warehouse: Warehouse, tenant_id: str, since: datetime, limit: int | None = None
) -> list[tuple[str, str]]:
    """(id, type) of invoices and bank transactions Xero updated after `since`: the only documents a linked
    transaction (a billable expense) has as its source or target. At most `limit` of them: past that many a caller
    reads the whole list instead, and after a mass edit of a large organisation every id would otherwise be held."""
    out: list[tuple[str, str]] = []
    with warehouse.engine.connect() as conn:
        for name in ("xero_invoices", "xero_bank_transactions"):
            if limit is not None and len(out) >= limit:
                break
            t = typed.TABLES[name].c
            query = sa.select(t.id, t.type).where(t.tenant_id == tenant_id, t.updateddateutc > since).order_by(t.id)
            if limit is not None:
                query = query.limit(limit - len(out))
            out += [(str(i), str(kind or "")) for i, kind in conn.execute(query)]
    return out
