"""Which collection serves which catalog API, with its renderer, default filters and endpoint parameters.

This is the one place that knows Xero's per-endpoint list quirks that are not paging: contacts and tracking
categories hide ARCHIVED rows unless includeArchived=true, bank transfers hide DELETED ones unless includeDeleted=true,
and the filter parameters some endpoints take (ContactIDs, InvoiceNumbers, Status, DateFrom/DateTo, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from xero_assets.sandbox.books.model import Doc, Plain
from xero_assets.sandbox.books.query import VALIDATION, Query, QueryError
from xero_assets.sandbox.books.render import Renderer, iso_time, ms_time
from xero_assets.sandbox.books.store import Collection

Json = dict[str, Any]

DOC_KINDS = (
    "invoices",
    "credit_notes",
    "bank_transactions",
    "overpayments",
    "prepayments",
    "quotes",
    "purchase_orders",
    "repeating_invoices",
    "receipts",
)
PLAIN_KINDS = {
    # name: (updated key, ISO dates instead of MS dates, hide-flag parameter)
    "branding_themes": (None, False, None),
    "currencies": (None, False, None),
    "tax_rates": (None, False, None),
    "tracking_categories": (None, False, "includeArchived"),
    "users": ("UpdatedDateUTC", False, None),
    "contact_groups": (None, False, None),
    "bank_transfers": ("CreatedDateUTC", False, "includeDeleted"),
    "batch_payments": ("UpdatedDateUTC", False, None),
    "expense_claims": ("UpdatedDateUTC", False, None),
    "linked_transactions": ("UpdatedDateUTC", False, None),
    "manual_journals": ("UpdatedDateUTC", False, None),
    "budgets": ("UpdatedDateUTC", False, None),
}
_INVOICE_SUMMARY_DROP = ("LineItems", "Payments", "CreditNotes", "Prepayments", "Overpayments", "Allocations")
_CONTACT_SUMMARY_DROP = ("Addresses", "Phones", "ContactGroups", "ContactPersons")


def plain_renderer(updated_key: str | None, iso: bool = False) -> Callable[[Plain, bool], Json]:
    """Render a stored dict, adding its current timestamp and (for full responses) its lines."""

    def render(record: Plain, full: bool) -> Json:
        out = dict(record.data)
        if updated_key is not None and record.updated is not None:
            out[updated_key] = iso_time(record.updated).rstrip("Z") if iso else ms_time(record.updated)
        if record.lines is not None and full:
            out[record.lines_key] = record.lines
        return out

    return render


def _plain_visible(flag: str | None) -> Callable[[Plain, Query], bool] | None:
    if flag is None:
        return None
    return lambda record, query: not record.hidden or query.flag(flag)


def _date_param(query: Query, name: str) -> date | None:
    raw = query.param(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise QueryError(VALIDATION, f"{name} is not a date: {raw!r}") from None


def _doc_visible(record: Doc, query: Query) -> bool:
    """The document filters Xero's list endpoints take as parameters (each only where it is given)."""
    if not query.params:
        return True
    contact_ids = query.param("ContactIDs") or query.param("ContactID")
    if contact_ids and record.contact.id.lower() not in {c.strip().lower() for c in contact_ids.split(",")}:
        return False
    numbers = query.param("InvoiceNumbers")
    if numbers and record.number not in {n.strip() for n in numbers.split(",")}:
        return False
    status = query.param("Status")
    if status and Renderer.status(record) != status.upper():
        return False
    quote_number = query.param("QuoteNumber")
    if quote_number and record.number != quote_number:
        return False
    start, end = _date_param(query, "DateFrom"), _date_param(query, "DateTo")
    if (start and record.date < start) or (end and record.date > end):
        return False
    expiry = record.due if record.kind == "quotes" else None
    start, end = _date_param(query, "ExpiryDateFrom"), _date_param(query, "ExpiryDateTo")
    return not ((start or end) and expiry is not None and ((start and expiry < start) or (end and expiry > end)))


def build_collections(renderer: Renderer) -> dict[str, Collection[Any]]:
    """Every records collection an organisation serves (journals and payroll leave are kept elsewhere)."""
    out: dict[str, Collection[Any]] = {
        "accounts": Collection("accounts", renderer.account),
        "contacts": Collection(
            "contacts",
            renderer.contact,
            visible=lambda c, q: c.status != "ARCHIVED" or q.include_archived,
            summary_drop=_CONTACT_SUMMARY_DROP,
        ),
        "items": Collection("items", renderer.item),
        "payments": Collection("payments", renderer.payment),
    }
    for kind in DOC_KINDS:
        out[kind] = Collection(
            kind, renderer.doc, visible=_doc_visible, summary_drop=_INVOICE_SUMMARY_DROP, status_of=Renderer.status
        )
    for name, (updated_key, iso, flag) in PLAIN_KINDS.items():
        out[name] = Collection(name, plain_renderer(updated_key, iso), visible=_plain_visible(flag))
    return out
