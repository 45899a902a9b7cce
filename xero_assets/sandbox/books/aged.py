"""AgedReceivablesByContact / AgedPayablesByContact: one contact's open documents as at a date.

Xero requires `contactId`. Each row is an invoice (or a credit note, overpayment or prepayment as a negative) with
what was paid and credited by the report date, so summing every contact's Due equals the control account's balance
in the ledger on that date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from xero_assets.sandbox.books.currency import base_outstanding, to_base
from xero_assets.sandbox.books.layout import Json, amount, cell, date_param, document, header, long_date, param
from xero_assets.sandbox.books.model import Doc
from xero_assets.sandbox.books.query import VALIDATION, QueryError

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books

RECEIVABLE_TYPES = {"ACCREC": 1, "ACCRECCREDIT": -1, "RECEIVE-OVERPAYMENT": -1, "RECEIVE-PREPAYMENT": -1}
PAYABLE_TYPES = {"ACCPAY": 1, "ACCPAYCREDIT": -1, "SPEND-OVERPAYMENT": -1, "SPEND-PREPAYMENT": -1}


def _stamp(day: object) -> str:
    return f"{day} 00:00:00"


def _overdue(doc: Doc, as_at: object) -> str:
    if doc.due is None or doc.type not in ("ACCREC", "ACCPAY"):
        return ""
    days = (as_at - doc.due).days  # type: ignore[operator]
    return f"{days} days overdue" if days > 0 else ""


def _base_values(doc: Doc, as_at: date) -> list[int]:
    """Total, Paid, Credited and Due in base currency, as the ledger carries them (a foreign document at its rate)."""
    if doc.rate is None:
        return [doc.total, doc.paid(as_at), doc.allocated(as_at), doc.outstanding(as_at)]
    total, due = to_base(doc.total, doc.rate), base_outstanding(doc, as_at)
    return [total, total - due, 0, due]


def aged_by_contact(books: Books, params: Mapping[str, str], receivable: bool) -> Json:
    contact_id = param(params, "contactId")
    if not contact_id:
        raise QueryError(VALIDATION, "contactId is a required parameter")
    as_at = date_param(params, "date", books.now().date())
    start = date_param(params, "fromDate", books.now().date().replace(year=1900))
    end = date_param(params, "toDate", as_at)
    contact = books.collections["contacts"].find(contact_id)
    types = RECEIVABLE_TYPES if receivable else PAYABLE_TYPES
    rows: list[Json] = [header("Date", "Reference", "Due Date", "", "Total", "Paid", "Credited", "Due")]
    body: list[Json] = []
    totals = [0, 0, 0, 0]
    for doc in contact.docs if contact is not None else []:
        sign = types.get(doc.type)
        if sign is None or not (start <= doc.date <= min(end, as_at)):
            continue
        if doc.outstanding(as_at) == 0:
            continue
        values = _base_values(doc, as_at)
        values = [sign * v for v in values]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        attrs = {"invoiceID": doc.id}
        cells = [
            cell(_stamp(doc.date), attrs),
            cell(doc.number or doc.reference, attrs),
            cell(_stamp(doc.due) if doc.due else "", attrs),
            cell(_overdue(doc, as_at), attrs),
            *(cell(amount(v), attrs) for v in values),
        ]
        body.append({"RowType": "Row", "Cells": cells})
    body.append({"RowType": "SummaryRow", "Cells": [cell("Total"), cell(""), cell(""), cell(""),
                                                    *(cell(amount(t)) for t in totals)]})  # fmt: skip
    rows.append({"RowType": "Section", "Title": "", "Rows": body})
    kind = "Receivables" if receivable else "Payables"
    titles = ["Invoices" if receivable else "Bills", contact.name if contact else "", f"As at {long_date(as_at)}"]
    return document(books, f"Aged{kind}ByContact", f"Aged {kind} By Contact", titles, rows)
