"""Ground truth: what a correct full sync of an organisation must end up with, and the numbers reports must show.

Computed from the books' own records and ledger, not through the list endpoints' paging, so a test (or a client's
reconciliation) can compare what it synced against an independent answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from xero_assets import catalog
from xero_assets.catalog import Kind
from xero_assets.sandbox.books.ids import add_months
from xero_assets.sandbox.books.layout import month_last
from xero_assets.sandbox.books.query import Query
from xero_assets.sandbox.books.render import money

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds")


def collection_truth(books: Books) -> dict[str, dict[str, str | None]]:
    """{api name: {id: updated-field timestamp (ISO) or None}} for every records API this organisation serves."""
    out: dict[str, dict[str, str | None]] = {}
    for api in catalog.SYNCABLE:
        endpoint = api.endpoint_for(books.country)
        if endpoint is None or api.kind is not Kind.RECORDS:
            continue
        stamped = endpoint.updated_field is not None
        if api.name == "organisation":
            out[api.name] = {books.organisation["OrganisationID"]: None}
        elif api.name == "journals":
            out[api.name] = {j.id: iso(j.created) for j in books.ledger.journals}
        elif api.name.startswith("payroll_"):
            out[api.name] = books.payroll.truth(api, endpoint) if books.payroll is not None else {}
        else:
            query = Query.from_params(dict(endpoint.params))
            records = books.collections[api.name].select(endpoint, query)
            out[api.name] = {r.id: iso(r.updated) if stamped else None for r in records}
    return out


def profit_and_loss_by_month(books: Books) -> dict[str, dict[str, float]]:
    """Revenue, expenses and net profit per calendar month, straight from the ledger's revenue/expense accounts."""
    ledger = books.ledger
    first = min((j.date for j in ledger.journals), default=books.now().date()).replace(day=1)
    today = books.now().date()
    revenue_accounts, expense_accounts = _accounts(books, "REVENUE"), _accounts(books, "EXPENSE")
    months: dict[str, dict[str, float]] = {}
    month = first
    while month <= today:
        last = month_last(month)
        revenue = -sum(ledger.balance(a, month, last) for a in revenue_accounts)
        expenses = sum(ledger.balance(a, month, last) for a in expense_accounts)
        months[month.strftime("%Y-%m")] = {
            "revenue": money(revenue),
            "expenses": money(expenses),
            "net_profit": money(revenue - expenses),
        }
        month = add_months(month, 1)
    return months


def _accounts(books: Books, klass: str) -> list[Any]:
    return [a for a in books.accounts_by_code.values() if a.klass == klass]


def aged_receivables_total(books: Books, as_at: date | None = None) -> int:
    """Cents owed by customers (in base currency, as the ledger carries them): open sales invoices less unapplied
    credit notes, overpayments and prepayments."""
    from xero_assets.sandbox.books.currency import base_outstanding

    total = 0
    for kind, sign in (("invoices", 1), ("credit_notes", -1), ("overpayments", -1), ("prepayments", -1)):
        for doc in books.collections[kind]:
            receivable = doc.type in ("ACCREC", "ACCRECCREDIT", "RECEIVE-OVERPAYMENT", "RECEIVE-PREPAYMENT")
            if receivable and (as_at is None or doc.date <= as_at):
                total += sign * (base_outstanding(doc, as_at) if doc.rate is not None else doc.outstanding(as_at))
    return total


def ground_truth(books: Books) -> dict[str, Any]:
    collections = collection_truth(books)
    ledger = books.ledger
    trial_balance = sum(ledger.balance(a, None, None) for a in books.accounts_by_code.values())
    return {
        "tenant_id": books.tenant_id,
        "country": books.country,
        "collections": collections,
        "reports": {
            "trial_balance_net": money(trial_balance),
            "profit_and_loss_by_month": profit_and_loss_by_month(books),
            "aged_receivables_total": money(aged_receivables_total(books)),
            "accounts_receivable_balance": money(ledger.balance(books.controls.ar, None, None)),
        },
        # {employee id: [{leave_type_id, leave_name, balance, units}]}: what the synced leave balances must equal
        "leave_balances": books.payroll.balance_truth() if books.payroll is not None else {},
        "counts": {
            **{name: len(ids) for name, ids in collections.items()},
            "journal_lines": ledger.line_count,
        },
    }
