"""Which collection serves which catalog API, with its renderer, default filters and endpoint parameters.

This is the one place that knows Xero's per-endpoint list quirks that are not paging: contacts and tracking
categories hide ARCHIVED rows unless includeArchived=true, bank transfers hide DELETED ones unless includeDeleted=true,
and the filter parameters some endpoints take (ContactIDs, InvoiceNumbers, Status, DateFrom/DateTo, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from xero_assets import catalog
from xero_assets.sandbox.books.model import Doc, Plain
from xero_assets.sandbox.books.query import VALIDATION, Query, QueryError
from xero_assets.sandbox.books.render import Renderer, ms_time
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
# Collections kept as stored dicts, with the parameter that shows their hidden records (if any). Their timestamp
# key is the catalog's `updated_field` for the API, so there is one place that says which field IMS reads.
PLAIN_KINDS: dict[str, str | None] = {
    "branding_themes": None,
    "currencies": None,
    "tax_rates": None,
    "tracking_categories": "includeArchived",
    "users": None,
    "contact_groups": None,
    "bank_transfers": "includeDeleted",
    "batch_payments": None,
    "expense_claims": None,
    "linked_transactions": None,
    "manual_journals": None,
    "budgets": None,
}
_INVOICE_SUMMARY_DROP = ("LineItems", "Payments", "CreditNotes", "Prepayments", "Overpayments", "Allocations")
_CONTACT_SUMMARY_DROP = ("Addresses", "Phones", "ContactGroups", "ContactPersons")


def plain_renderer(updated_key: str | None) -> Callable[[Plain, bool], Json]:
    """Render a stored dict, adding its current timestamp and (for full responses) its lines."""

    def render(record: Plain, full: bool) -> Json:
        out = dict(record.data)
        if updated_key is not None and record.updated is not None:
            out[updated_key] = ms_time(record.updated)
        if record.lines is not None and full:
            out[record.lines_key] = record.lines
        return out

    return render


def _hidden_unless(flag: str) -> Callable[[Query], Callable[[Plain], bool] | None]:
    """Hide records flagged hidden (archived, deleted) unless the query sets `flag` (includeArchived, ...)."""
    return lambda query: None if query.flag(flag) else (lambda record: not record.hidden)


def _fields_filter(*names: str) -> Callable[[Query], Callable[[Plain], bool] | None]:
    """Exact-match filters on a stored record's own fields (LinkedTransactions' SourceTransactionID, Status, ...)."""

    def make(query: Query) -> Callable[[Plain], bool] | None:
        wanted = {n: v.lower() for n in names if (v := query.param(n))}
        if not wanted:
            return None
        return lambda r: all(str(r.data.get(n, "")).lower() == v for n, v in wanted.items())

    return make


def _contacts_filter(query: Query) -> Callable[[Any], bool] | None:
    """ARCHIVED contacts only with includeArchived=true; searchTerm matches names, number and email."""
    checks: list[Callable[[Any], bool]] = []
    if not query.include_archived:
        checks.append(lambda contact: contact.status != "ARCHIVED")
    term = (query.param("searchTerm") or "").lower()
    if term:
        checks.append(
            lambda c: any(term in text.lower() for text in (c.name, c.first_name, c.last_name, c.number, c.email))
        )
    return _all(checks)


def _all(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool] | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda record: all(check(record) for check in checks)


def _date_param(query: Query, name: str) -> date | None:
    raw = query.param(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise QueryError(VALIDATION, f"{name} is not a date: {raw!r}") from None


def _docs_filter(query: Query) -> Callable[[Doc], bool] | None:
    """The document filters Xero's list endpoints take as parameters, each applied only where it is given."""
    checks: list[Callable[[Doc], bool]] = []
    contact_ids = query.param("ContactIDs") or query.param("ContactID")
    if contact_ids:
        wanted = {c.strip().lower() for c in contact_ids.split(",")}
        checks.append(lambda d: d.contact.id.lower() in wanted)
    numbers = query.param("InvoiceNumbers") or query.param("QuoteNumber")
    if numbers:
        chosen = {n.strip() for n in numbers.split(",")}
        checks.append(lambda d: d.number in chosen)
    references = query.param("References")
    if references:
        wanted_refs = {r.strip() for r in references.split(",")}
        checks.append(lambda d: d.reference in wanted_refs)
    term = (query.param("searchTerm") or "").lower()
    if term:
        checks.append(lambda d: term in d.number.lower() or term in d.reference.lower())
    status = (query.param("Status") or "").upper()
    if status:
        checks.append(lambda d: Renderer.status(d) == status)
    start, end = _date_param(query, "DateFrom"), _date_param(query, "DateTo")
    if start:
        checks.append(lambda d: d.date >= start)
    if end:
        checks.append(lambda d: d.date <= end)
    if query.flag("createdByMyApp"):  # the data APIs are read-only: no app ever created an invoice through them
        checks.append(lambda d: d.kind != "invoices")
    expiry_start, expiry_end = _date_param(query, "ExpiryDateFrom"), _date_param(query, "ExpiryDateTo")
    if expiry_start:
        checks.append(lambda d: d.kind != "quotes" or (d.due is not None and d.due >= expiry_start))
    if expiry_end:
        checks.append(lambda d: d.kind != "quotes" or (d.due is not None and d.due <= expiry_end))
    return _all(checks)


_PLAIN_FILTERS = {
    "linked_transactions": _fields_filter(
        "LinkedTransactionID", "SourceTransactionID", "TargetTransactionID", "ContactID", "Status"
    ),
}


def build_collections(renderer: Renderer) -> dict[str, Collection[Any]]:
    """Every records collection an organisation serves (journals and payroll leave are kept elsewhere)."""
    out: dict[str, Collection[Any]] = {
        "accounts": Collection("accounts", renderer.account),
        "contacts": Collection(
            "contacts",
            renderer.contact,
            filter_for=_contacts_filter,
            summary_drop=_CONTACT_SUMMARY_DROP,
        ),
        "items": Collection("items", renderer.item),
        "payments": Collection("payments", renderer.payment, fields=renderer.payment_fields()),
    }
    for kind in DOC_KINDS:
        out[kind] = Collection(
            kind,
            renderer.doc,
            filter_for=_docs_filter,
            summary_drop=_INVOICE_SUMMARY_DROP,
            status_of=Renderer.status,
            fields=renderer.doc_fields(kind),
        )
    for name, flag in PLAIN_KINDS.items():
        hide = _hidden_unless(flag) if flag is not None else _PLAIN_FILTERS.get(name)
        updated_key = catalog.get(name).endpoint.updated_field
        out[name] = Collection(name, plain_renderer(updated_key), filter_for=hide)
    return out
