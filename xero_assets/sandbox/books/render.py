"""Rendering internal records as Xero's Accounting JSON (PascalCase, MS dates as plain strings, amounts as numbers).

Rendering happens per response, so derived fields (AmountDue, Status after a payment, RemainingCredit) are always
current. Date strings are cached per day: a page of 1,000 invoices touches a few hundred distinct dates at most.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from xero_assets.sandbox.books.attachments import has_attachment
from xero_assets.sandbox.books.currency import to_base
from xero_assets.sandbox.books.model import (
    Account,
    Allocation,
    Contact,
    Doc,
    Item,
    Journal,
    Line,
    Payment,
    TrackingOption,
)
from xero_assets.xero.dates import format_ms

Json = dict[str, Any]

# How each document type names its number field and its list of credits.
_NUMBER_KEY = {
    "invoices": "InvoiceNumber",
    "credit_notes": "CreditNoteNumber",
    "quotes": "QuoteNumber",
    "purchase_orders": "PurchaseOrderNumber",
    "receipts": "ReceiptNumber",
}
_ID_KEY = {
    "invoices": "InvoiceID",
    "credit_notes": "CreditNoteID",
    "bank_transactions": "BankTransactionID",
    "overpayments": "OverpaymentID",
    "prepayments": "PrepaymentID",
    "quotes": "QuoteID",
    "purchase_orders": "PurchaseOrderID",
    "repeating_invoices": "RepeatingInvoiceID",
    "receipts": "ReceiptID",
}
_CREDIT_KEY = {"credit_notes": "CreditNotes", "overpayments": "Overpayments", "prepayments": "Prepayments"}
_TYPED = frozenset(
    {"invoices", "credit_notes", "bank_transactions", "overpayments", "prepayments", "repeating_invoices"}
)
_DUE_KEY = {"invoices": "DueDate", "credit_notes": "DueDate", "quotes": "ExpiryDate", "purchase_orders": "DeliveryDate"}
# Kinds whose schema requires LineItems even in a summary: the key is there, empty, when lines are left out.
_ALWAYS_LINES = frozenset({"bank_transactions"})


# Readers of the value a render puts under one top-level key, without rendering (`Collection`'s fast `order`).
FieldReaders = dict[str, Callable[[Any], Any]]


def _unless_extra(key: str, read: Callable[[Doc], Any]) -> Callable[[Doc], Any]:
    """`read`, unless the document's `extra` (merged last by the render) overrides `key`."""

    def value(doc: Doc) -> Any:
        return doc.extra[key] if doc.extra and key in doc.extra else read(doc)

    return value


def money(cents: int) -> float:
    """Cents as Xero's JSON number: 12345 -> 123.45 (a float whose repr is the exact decimal)."""
    return cents / 100


@lru_cache(maxsize=8192)
def ms_date(day: date) -> str:
    return format_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


@lru_cache(maxsize=8192)
def iso_date(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def ms_time(moment: datetime) -> str:
    return format_ms(moment)


def iso_time(moment: datetime) -> str:
    """UpdatedDateUTCString as Xero sends it: `2019-03-05T18:59:06Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line_id(owner_id: str, index: int) -> str:
    """A stable LineItemID/JournalLineID derived from its owner, so lines need no stored ids."""
    head = int(owner_id[:8], 16)
    return f"{(head + index + 1) % 0x100000000:08x}{owner_id[8:]}"


class Renderer:
    """Turns records into Xero JSON for one organisation (its base currency; `today` for what is overdue)."""

    def __init__(self, currency: str, today: Callable[[], date]) -> None:
        self.currency = currency
        self.today = today

    # --- small pieces -------------------------------------------------------------------------------------------
    @staticmethod
    def contact_ref(contact: Contact) -> Json:
        return {
            "ContactID": contact.id,
            "Name": contact.name,
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasValidationErrors": False,
        }

    @staticmethod
    def tracking(option: TrackingOption | tuple[TrackingOption, ...] | None) -> list[Json]:
        if option is None:
            return []
        return [
            {
                "Name": one.category_name,
                "Option": one.name,
                "TrackingCategoryID": one.category_id,
                "TrackingOptionID": one.id,
            }
            for one in (option if isinstance(option, tuple) else (option,))
        ]

    def line(self, owner_id: str, index: int, line: Line) -> Json:
        out: Json = {
            "LineItemID": line_id(owner_id, index),
            "Description": line.description,
            "Quantity": float(line.quantity),
            "UnitAmount": money(line.unit_cents),
            "TaxType": line.tax.tax_type,
            "TaxAmount": money(line.tax_cents),
            "LineAmount": money(line.amount),
            "AccountCode": line.account.code,
            "AccountID": line.account.id,
            "Tracking": self.tracking(line.options),
        }
        if line.item is not None:
            out["ItemCode"] = line.item.code
            out["Item"] = {"ItemID": line.item.id, "Name": line.item.name, "Code": line.item.code}
        return out

    @staticmethod
    def payment_ref(payment: Payment) -> Json:
        return {
            "PaymentID": payment.id,
            "Date": ms_date(payment.date),
            "Amount": money(payment.amount),
            "Reference": payment.reference,
            "CurrencyRate": 1.0,
            "HasAccount": False,
            "HasValidationErrors": False,
        }

    # --- documents ----------------------------------------------------------------------------------------------
    def doc(self, doc: Doc, full: bool) -> Json:
        """Every invoice-like document in one shape; which keys appear depends on the kind, as in Xero."""
        kind = doc.kind
        out: Json = {_ID_KEY[kind]: doc.id}
        if kind in _TYPED:
            out["Type"] = doc.type
        if kind in _NUMBER_KEY:
            out[_NUMBER_KEY[kind]] = doc.number
        out["Reference"] = doc.reference
        out["Contact"] = self.contact_ref(doc.contact)
        if kind != "repeating_invoices":
            out["Date"] = ms_date(doc.date)
            out["DateString"] = iso_date(doc.date)
        due_key = _DUE_KEY.get(kind)
        if due_key is not None and doc.due is not None:
            out[due_key] = ms_date(doc.due)
            out[f"{due_key}String"] = iso_date(doc.due)
        out["Status"] = self.status(doc)
        out["LineAmountTypes"] = "EXCLUSIVE" if kind == "quotes" else "Exclusive"
        out["SubTotal"] = money(doc.sub_total)
        out["TotalTax"] = money(doc.total_tax)
        out["Total"] = money(doc.total)
        out["CurrencyCode"] = doc.currency or self.currency
        out["CurrencyRate"] = float(doc.rate) if doc.rate is not None else 1.0
        if kind != "repeating_invoices":
            out["UpdatedDateUTC"] = ms_time(doc.updated)
        if kind in _CREDIT_KEY or kind == "invoices":
            out["UpdatedDateUTCString"] = iso_time(doc.updated)
        out["HasAttachments"] = has_attachment(kind, doc.id)
        if doc.bank is not None:
            out["BankAccount"] = self.account_ref(doc.bank)
        if kind == "bank_transactions":
            out["IsReconciled"] = True
        if kind == "invoices":
            out["AmountDue"] = money(doc.outstanding())
            out["AmountPaid"] = money(doc.paid())
            out["AmountCredited"] = money(doc.allocated())
            out["SentToContact"] = doc.sent
            out["IsDiscounted"] = False
            out["HasErrors"] = False
            out["Payments"] = [self.payment_ref(p) for p in doc.payments if p.status == "AUTHORISED"]
            for credit_kind, key in _CREDIT_KEY.items():
                out[key] = [self.allocated_credit(a) for a in doc.allocations if a.credit.kind == credit_kind]
            if doc.repeating_id:
                out["RepeatingInvoiceID"] = doc.repeating_id
        elif kind in _CREDIT_KEY:
            out["RemainingCredit"] = money(doc.outstanding())
            out["AppliedAmount"] = money(doc.allocated())
            out["Allocations"] = [self.allocation(a) for a in doc.allocations]
            out["Payments"] = [self.payment_ref(p) for p in doc.payments if p.status == "AUTHORISED"]
            if kind == "credit_notes":
                out["SentToContact"] = doc.sent
        settled = doc.last_settled()
        if kind in ("invoices", "credit_notes") and out["Status"] == "PAID" and settled is not None:
            out["FullyPaidOnDate"] = ms_date(settled)
        if doc.extra:
            out.update(doc.extra)
        if full:
            out["LineItems"] = [self.line(doc.id, i, line) for i, line in enumerate(doc.lines)]
        elif kind in _ALWAYS_LINES:
            out["LineItems"] = []  # the spec requires the key; unpaged calls still carry no lines
        return out

    def doc_fields(self, kind: str) -> FieldReaders:
        """What `doc` renders under each plain top-level key of `kind`, read straight from the model.

        `order` on such a key sorts the whole collection once: rendering every one of a large organisation's 205,000
        invoices for it took a minute on a 2-core machine, reading one attribute takes well under a second. Keys the
        render derives (Status, AmountDue, the Contact's fields) are left out: `order` on them renders.
        """
        fields: FieldReaders = {_ID_KEY[kind]: lambda d: d.id, "Reference": lambda d: d.reference}
        if kind in _TYPED:
            fields["Type"] = lambda d: d.type
        if kind in _NUMBER_KEY:
            fields[_NUMBER_KEY[kind]] = lambda d: d.number
        if kind != "repeating_invoices":
            fields["Date"] = lambda d: ms_date(d.date)
            fields["DateString"] = lambda d: iso_date(d.date)
        due_key = _DUE_KEY.get(kind)
        if due_key is not None:
            fields[due_key] = lambda d: ms_date(d.due) if d.due is not None else None
            fields[f"{due_key}String"] = lambda d: iso_date(d.due) if d.due is not None else None
        fields["SubTotal"] = lambda d: money(d.sub_total)
        fields["TotalTax"] = lambda d: money(d.total_tax)
        fields["Total"] = lambda d: money(d.total)
        fields["CurrencyCode"] = lambda d: d.currency or self.currency
        fields["CurrencyRate"] = lambda d: float(d.rate) if d.rate is not None else 1.0
        return {key: _unless_extra(key, read) for key, read in fields.items()}

    @staticmethod
    def status(doc: Doc) -> str:
        """AUTHORISED documents read PAID once nothing is outstanding (credits: once fully applied)."""
        settles = doc.kind in ("invoices", "credit_notes", "overpayments", "prepayments")
        if doc.status == "AUTHORISED" and settles and doc.outstanding() == 0:
            return "PAID"
        return doc.status

    def allocated_credit(self, allocation: Allocation) -> Json:
        credit = allocation.credit
        key = _ID_KEY[credit.kind]
        out: Json = {key: credit.id, "Total": money(credit.total), "AppliedAmount": money(allocation.amount)}
        if credit.kind == "credit_notes":
            out["CreditNoteNumber"] = credit.number
        out["Date"] = ms_date(allocation.date)
        out["LineItems"] = []
        return out

    def allocation(self, allocation: Allocation) -> Json:
        invoice = allocation.invoice
        return {
            "AllocationID": allocation.id,
            "Amount": money(allocation.amount),
            "Date": ms_date(allocation.date),
            "Invoice": {
                "InvoiceID": invoice.id,
                "InvoiceNumber": invoice.number,
                "Type": invoice.type,
                "Payments": [],
                "CreditNotes": [],
                "Prepayments": [],
                "Overpayments": [],
                "HasErrors": False,
                "IsDiscounted": False,
                "LineItems": [],
            },
            "IsDeleted": False,
        }

    # --- payments, accounts, contacts, items ---------------------------------------------------------------------
    @staticmethod
    def account_ref(account: Account) -> Json:
        out: Json = {"AccountID": account.id, "Code": account.code, "Name": account.name}
        return out

    def payment(self, payment: Payment, full: bool) -> Json:
        doc = payment.doc
        out: Json = {
            "PaymentID": payment.id,
            "Date": ms_date(payment.date),
            "BankAmount": money(self.banked(payment)),
            "Amount": money(payment.amount),
            "Reference": payment.reference,
            "CurrencyRate": float(payment.rate) if payment.rate is not None else 1.0,
            "PaymentType": payment.type,
            "Status": payment.status,
            "UpdatedDateUTC": ms_time(payment.updated),
            "UpdatedDateUTCString": iso_time(payment.updated),
            "HasAccount": True,
            "IsReconciled": payment.reconciled,
            "Account": {"AccountID": payment.bank.id, "Code": payment.bank.code},
            "HasValidationErrors": False,
        }
        if payment.batch_id:
            out["BatchPaymentID"] = payment.batch_id
            out["BatchPayment"] = {"BatchPaymentID": payment.batch_id}
        ref = {
            _ID_KEY[doc.kind]: doc.id,
            "Type": doc.type,
            "Contact": self.contact_ref(doc.contact),
            "CurrencyCode": doc.currency or self.currency,
        }
        if doc.kind == "invoices":
            ref["InvoiceNumber"] = doc.number
            ref.update({"Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": []})
            ref.update({"HasErrors": False, "IsDiscounted": False, "LineItems": []})
            out["Invoice"] = ref
        elif doc.kind == "credit_notes":
            ref["CreditNoteNumber"] = doc.number
            out["CreditNote"] = ref
        elif doc.kind == "overpayments":
            out["Overpayment"] = ref
        else:
            out["Prepayment"] = ref
        return out

    @staticmethod
    def payment_fields() -> FieldReaders:
        """What `payment` renders under each plain top-level key, read straight from the model (see `doc_fields`)."""
        return {
            "PaymentID": lambda p: p.id,
            "Date": lambda p: ms_date(p.date),
            "Amount": lambda p: money(p.amount),
            "Reference": lambda p: p.reference,
            "CurrencyRate": lambda p: float(p.rate) if p.rate is not None else 1.0,
            "PaymentType": lambda p: p.type,
            "Status": lambda p: p.status,
            "IsReconciled": lambda p: p.reconciled,
        }

    @staticmethod
    def banked(payment: Payment) -> int:
        """BankAmount: what the bank account moved, in its own currency (a foreign payment into a home account at
        the payment's rate)."""
        if payment.rate is None or payment.bank.currency == payment.doc.currency:
            return payment.amount
        return to_base(payment.amount, payment.rate)

    def account(self, account: Account, full: bool) -> Json:
        out: Json = {
            "AccountID": account.id,
            "Code": account.code,
            "Name": account.name,
            "Status": account.status,
            "Type": account.type,
            "TaxType": account.tax_type,
            "Description": account.description,
            "Class": account.klass,
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": account.klass == "EXPENSE",
            "ReportingCode": account.klass[:3],
            "ReportingCodeName": account.klass.title(),
            "HasAttachments": has_attachment("accounts", account.id),
            "UpdatedDateUTC": ms_time(account.updated),
            "AddToWatchlist": False,
        }
        if account.system:
            out["SystemAccount"] = account.system
        if account.type == "BANK":
            out["BankAccountNumber"] = account.bank_number or ""
            out["BankAccountType"] = "BANK"
            out["CurrencyCode"] = account.currency or self.currency
        return out

    def contact(self, contact: Contact, full: bool) -> Json:
        out: Json = {
            "ContactID": contact.id,
            "ContactNumber": contact.number,
            "AccountNumber": contact.account_number,
            "ContactStatus": contact.status,
            "Name": contact.name,
            "FirstName": contact.first_name,
            "LastName": contact.last_name,
            "EmailAddress": contact.email,
            "TaxNumber": contact.tax_number,
            "Addresses": [
                {"AddressType": "STREET", "City": contact.city, "Country": ""},
                {"AddressType": "POBOX", "City": contact.city, "Country": ""},
            ],
            "Phones": [
                {"PhoneType": "DEFAULT", "PhoneNumber": contact.phone},
                {"PhoneType": "MOBILE", "PhoneNumber": ""},
            ],
            "UpdatedDateUTC": ms_time(contact.updated),
            "ContactGroups": [
                {"ContactGroupID": group.id, "Name": group.data["Name"], "Status": "ACTIVE", "Contacts": []}
                for group in contact.groups
            ],
            "IsSupplier": contact.is_supplier,
            "IsCustomer": contact.is_customer,
            "DefaultCurrency": contact.currency or self.currency,
            "ContactPersons": [],
            "HasAttachments": has_attachment("contacts", contact.id),
            "HasValidationErrors": False,
        }
        if full:
            out["Balances"] = self.balances(contact)
        return out

    def balances(self, contact: Contact) -> Json:
        """Outstanding and overdue on the contact's sales and bills. Changing them never bumps the contact's
        UpdatedDateUTC, one of the edits Xero documents as invisible to If-Modified-Since."""
        today = self.today()
        sums = {"ACCREC": [0, 0], "ACCPAY": [0, 0]}
        for doc in contact.docs:
            if doc.type in sums and doc.kind == "invoices":
                due = doc.outstanding()
                sums[doc.type][0] += due
                if doc.due is not None and doc.due < today:
                    sums[doc.type][1] += due
        return {
            key: {"Outstanding": money(sums[type_][0]), "Overdue": money(sums[type_][1])}
            for key, type_ in (("AccountsReceivable", "ACCREC"), ("AccountsPayable", "ACCPAY"))
        }

    def item(self, item: Item, full: bool) -> Json:
        return {
            "ItemID": item.id,
            "Code": item.code,
            "Name": item.name,
            "Description": item.name,
            "PurchaseDescription": item.name,
            "IsSold": True,
            "IsPurchased": True,
            "IsTrackedAsInventory": False,
            "UpdatedDateUTC": ms_time(item.updated),
            "SalesDetails": {
                "UnitPrice": money(item.sale_cents),
                "AccountCode": item.sales_account.code,
                "TaxType": item.sales_account.tax_type,
            },
            "PurchaseDetails": {
                "UnitPrice": money(item.cost_cents),
                "COGSAccountCode": item.purchase_account.code,
                "TaxType": item.purchase_account.tax_type,
            },
        }

    # --- journals ------------------------------------------------------------------------------------------------
    def journal(self, journal: Journal, with_source: bool = True) -> Json:
        lines = []
        for index, (account, net, tax, rate, description, option) in enumerate(journal.lines):
            line: Json = {
                "JournalLineID": line_id(journal.id, index),
                "AccountID": account.id,
                "AccountCode": account.code,
                "AccountType": account.type,
                "AccountName": account.name,
                "Description": description,
                "NetAmount": money(net),
                "GrossAmount": money(net + tax),
                "TaxAmount": money(tax),
                "TrackingCategories": self.tracking(option),
            }
            if rate is not None:
                line["TaxType"] = rate.tax_type
                line["TaxName"] = rate.name
            lines.append(line)
        out: Json = {
            "JournalID": journal.id,
            "JournalDate": ms_date(journal.date),
            "JournalNumber": journal.number,
            "CreatedDateUTC": ms_time(journal.created),
            "Reference": journal.reference,
        }
        if with_source:
            out["SourceID"] = journal.source_id
            out["SourceType"] = journal.source_type
        out["JournalLines"] = lines
        return out
