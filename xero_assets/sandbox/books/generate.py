"""Deterministic MSP-like books: settings, contacts and two years of trading that post a balanced ledger.

An MSP bills each managed-services client monthly from a repeating invoice (per-user services plus licence resale),
resells hardware through quote -> purchase order -> bill -> invoice with a billable-expense link, pays distributors and
overheads (often in batches), takes deposits (prepayments), gets overpaid, issues service credits, moves cash to
savings, depreciates equipment by manual journal and reimburses staff expenses. Clients pay on time, late, in part or
not at all. Everything draws from one seeded random stream, so a seed always produces the same books.

Sizes scale the client count, not the behaviour: small is hundreds of records, medium about 10,000 invoices, large
over 200,000 invoices and half a million journal lines.

This module holds the Generator's primitives (add a document, pay it, allocate a credit, void, post), which
mutations reuse so a record created later is made exactly like one generated at build time; setup.py makes the
organisation's settings and contacts, trading.py the months of business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from xero_assets.sandbox.books.attachments import has_attachment
from xero_assets.sandbox.books.books import Books
from xero_assets.sandbox.books.ids import add_months, stamp
from xero_assets.sandbox.books.ledger import doc_posting, payment_posting, reversal_lines
from xero_assets.sandbox.books.model import (
    UNPOSTED,
    Account,
    Allocation,
    Contact,
    Doc,
    Item,
    JournalLine,
    Line,
    Payment,
    Plain,
    TaxRate,
    TrackingOption,
)
from xero_assets.sandbox.books.render import money, ms_date


@dataclass(frozen=True)
class SizeSpec:
    months: int
    customers: int
    suppliers: int
    hardware_deals: int  # per month
    contractor_bills: int  # per month, beyond the recurring overhead bills
    employees: int


SIZES: dict[str, SizeSpec] = {
    "small": SizeSpec(months=12, customers=24, suppliers=10, hardware_deals=3, contractor_bills=2, employees=5),
    "medium": SizeSpec(months=24, customers=370, suppliers=45, hardware_deals=40, contractor_bills=30, employees=20),
    "large": SizeSpec(months=24, customers=8100, suppliers=320, hardware_deals=800, contractor_bills=520, employees=60),
}


class Generator:
    """Fills one Books with deterministic data up to the clock's current day."""

    def __init__(self, books: Books, spec: SizeSpec) -> None:
        self.books = books
        self.spec = spec
        self.rng = books.rng
        self.ids = books.ids
        self.profile = books.profile
        self.now = books.now()
        self.today = self.now.date()
        self.start = add_months(self.today.replace(day=1), -spec.months)
        self.out: dict[str, list[Any]] = {name: [] for name in books.collections}
        # Filled by setup (settings and contacts) and read while trading.
        self.customers: list[tuple[Contact, dict[str, Any]]] = []
        self.suppliers: list[Contact] = []
        self.groups: list[Plain] = []
        self.items: list[Item] = []
        self.region_options: list[TrackingOption] = []
        self.service_options: dict[str, TrackingOption] = {}

    # --- small helpers ------------------------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self.books.seq

    def next_seq(self) -> int:
        self.books.seq += 1
        return self.books.seq

    def number(self, prefix: str, width: int = 5) -> str:
        numbers = self.books.numbers
        numbers[prefix] = numbers.get(prefix, 0) + 1
        return f"{prefix}-{numbers[prefix]:0{width}d}"

    def stamp(self, day: date) -> datetime:
        return stamp(day, self.rng, self.now)

    def tax(self, kind: str) -> TaxRate:
        p = self.profile
        name = {
            "sales": p.sales_tax,
            "purchase": p.purchase_tax,
            "none": p.no_tax,
            "exempt_sales": p.exempt_sales_tax,
            "exempt_purchase": p.exempt_purchase_tax,
        }[kind]
        return self.books.tax_rates[name]

    def acc(self, code: str) -> Account:
        return self.books.account(code)

    def plain(self, name: str, record_id: str, updated: datetime | None, data: dict[str, Any], **kw: Any) -> Plain:
        record = Plain(record_id, self.next_seq(), updated, data, **kw)
        self.out[name].append(record)
        return record

    # --- posting ---------------------------------------------------------------------------------------------------
    def post_doc(self, doc: Doc, created: datetime, source: str | None = None) -> list[JournalLine]:
        source_type, lines = doc_posting(doc, self.books.controls)
        self.books.ledger.post(doc.date, created, source or source_type, doc.id, lines, doc.reference)
        return lines

    def add_doc(
        self,
        kind: str,
        type_: str,
        contact: Contact,
        day: date,
        lines: list[Line],
        *,
        due: date | None = None,
        number: str = "",
        status: str = "AUTHORISED",
        reference: str = "",
        bank: Account | None = None,
        post: bool = True,
        extra: dict[str, Any] | None = None,
        repeating_id: str | None = None,
        currency: str | None = None,
        rate: Decimal | None = None,
    ) -> Doc:
        created = self.stamp(day)
        doc = Doc(
            id=self.ids(),
            seq=self.next_seq(),
            updated=created,
            kind=kind,
            type=type_,
            status=status,
            contact=contact,
            date=day,
            due=due,
            lines=list(lines),  # its own list: a quote and its invoice start from the same lines, then diverge
            number=number,
            reference=reference,
            bank=bank,
            repeating_id=repeating_id,
            sent=kind == "invoices" and type_ == "ACCREC" and status != "DRAFT",
            extra=extra,
            created=created,
            currency=currency,
            rate=rate,
        )
        self.out[kind].append(doc)
        if post and status not in UNPOSTED:
            self.post_doc(doc, created)
        if kind in ("invoices", "credit_notes", "overpayments", "prepayments"):
            contact.docs.append(doc)
        return doc

    def pay(
        self, doc: Doc, day: date, amount: int, bank: Account | None = None, batch_id: str | None = None
    ) -> Payment:
        created = self.stamp(day)
        payment_type = {
            "ACCREC": "ACCRECPAYMENT",
            "ACCPAY": "ACCPAYPAYMENT",
            "ACCRECCREDIT": "ARCREDITPAYMENT",
            "ACCPAYCREDIT": "APCREDITPAYMENT",
        }[doc.type]
        payment = Payment(
            id=self.ids(),
            seq=self.next_seq(),
            updated=created,
            doc=doc,
            bank=bank or self.acc("090"),
            date=day,
            amount=amount,
            type=payment_type,
            reference=f"Payment {doc.number}".strip(),
            batch_id=batch_id,
        )
        if doc.currency is not None:  # at the day's rate; clears what the document carried in base currency
            from xero_assets.sandbox.books.currency import base_outstanding, rate_on, to_base

            payment.rate = rate_on(self.profile.currency, doc.currency, day)
            remaining = base_outstanding(doc)
            payment.base = remaining if amount == doc.outstanding() else to_base(amount, doc.rate)
        doc.payments.append(payment)
        doc.updated = max(doc.updated, created)
        self.out["payments"].append(payment)
        source, lines = payment_posting(payment, self.books.controls)
        self.books.ledger.post(day, created, source, payment.id, lines, payment.reference)
        return payment

    def delete_payment(self, payment: Payment, day: date) -> None:
        """A payment removed (dishonoured, or entered in error): DELETED, with a reversal dated as the payment."""
        moment = self.stamp(day)
        source, lines = payment_posting(payment, self.books.controls)
        self.books.ledger.post(payment.date, moment, source, payment.id, reversal_lines(lines), payment.reference)
        payment.status = "DELETED"
        payment.updated = max(payment.updated, moment)
        payment.doc.updated = max(payment.doc.updated, moment)

    def allocate(self, credit: Doc, invoice: Doc, amount: int, day: date) -> Allocation:
        allocation = Allocation(self.ids(), credit, invoice, amount, day)
        credit.allocations.append(allocation)
        invoice.allocations.append(allocation)
        moment = self.stamp(day)
        credit.updated = max(credit.updated, moment)
        invoice.updated = max(invoice.updated, moment)
        return allocation

    def void(self, doc: Doc, day: date) -> None:
        """Void an authorised document: a reversal journal dated as the original, created when it was voided."""
        moment = self.stamp(min(day, self.today))
        source, lines = doc_posting(doc, self.books.controls)
        doc.status = "VOIDED"
        doc.updated = max(doc.updated, moment)
        self.books.ledger.post(doc.date, moment, source, doc.id, reversal_lines(lines), doc.reference)

    # --- the whole organisation ------------------------------------------------------------------------------------
    def run(self) -> None:
        from xero_assets.sandbox.books.currency import setup_foreign, trade_foreign_month
        from xero_assets.sandbox.books.payroll import generate_payroll
        from xero_assets.sandbox.books.setup import budgets, contacts, opening_balances, settings
        from xero_assets.sandbox.books.trading import trade_month

        settings(self)
        contacts(self)
        opening_balances(self)
        foreign = setup_foreign(self)
        month = self.start
        while month <= self.today:
            trade_month(self, month)
            trade_foreign_month(self, foreign, month)
            month = add_months(month, 1)
        budgets(self)
        generate_payroll(self)
        self.books.ledger.seal()
        for name, records in self.out.items():
            self.books.collections[name].extend(records)

    # --- records mutations create too ----------------------------------------------------------------------------
    def new_contact(self, name: str, first: str, last: str, customer: bool, day: date) -> Contact:
        contact = Contact(
            id=self.ids(),
            seq=self.next_seq(),
            updated=self.stamp(day),
            name=name,
            number=f"C{self.seq:06d}",
            first_name=first,
            last_name=last,
            email=f"{first}.{last}@{name.split()[0].lower()}.example".lower(),
            is_customer=customer,
            is_supplier=not customer,
            account_number=f"AC{self.rng.randrange(10**5, 10**6)}",
            tax_number="",
            phone=f"0{self.rng.randrange(2, 9)} {self.rng.randrange(1000, 9999)} {self.rng.randrange(1000, 9999)}",
            city=self.rng.choice(self.profile.cities),
        )
        self.out["contacts"].append(contact)
        return contact

    def manual_journal(self, day: date, narration: str, lines: list[tuple[str, int, str]]) -> None:
        created = self.stamp(day)
        journal_id = self.ids()
        tax = self.tax("none")
        posted: list[JournalLine] = [(self.acc(code), cents, 0, None, text, None) for code, cents, text in lines]
        self.books.ledger.post(day, created, "MANJOURNAL", journal_id, posted, narration)
        self.plain("manual_journals", journal_id, created, {
            "ManualJournalID": journal_id, "Narration": narration, "Date": ms_date(day), "Status": "POSTED",
            "LineAmountTypes": "NoTax", "ShowOnCashBasisReports": True,
            "HasAttachments": has_attachment("manual_journals", journal_id),
        }, status="POSTED", lines=[{
            "LineAmount": money(cents), "AccountCode": code, "AccountID": self.acc(code).id, "Description": text,
            "TaxType": tax.tax_type, "TaxAmount": 0.0, "IsBlank": False, "Tracking": [],
        } for code, cents, text in lines], lines_key="JournalLines")  # fmt: skip

    def credit_note(self, contact: Contact, day: date, cents: int, supplier: bool = False) -> Doc:
        account = self.acc("310") if supplier else self.acc("200")
        tax = self.tax("purchase" if supplier else "sales")
        line = Line("Service credit" if not supplier else "Returned goods", 1, cents, account, tax)
        return self.add_doc(
            "credit_notes", "ACCPAYCREDIT" if supplier else "ACCRECCREDIT", contact, min(day, self.today), [line],
            due=min(day, self.today), number=self.number("CN", 5), reference="Service level credit",
        )  # fmt: skip


def generate(books: Books) -> None:
    """Fill `books` for its size; the ledger is sealed and every collection sorted when this returns."""
    Generator(books, SIZES[books.size]).run()


__all__ = ["SIZES", "Generator", "SizeSpec", "generate"]
