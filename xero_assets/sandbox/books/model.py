"""The books' internal records: compact objects with integer cents, rendered to Xero's JSON only when served.

A large organisation holds 200,000 invoices and over half a million journal lines, so records are slotted objects
that point at each other (a payment at its invoice, a line at its account) instead of ready-made dicts: building
them is cheap, an invoice's AmountDue is always derived from its payments and allocations (never stored twice), and
a mutation changes one object that every later response reflects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Statuses that keep a document off the ledger.
UNPOSTED = frozenset({"DRAFT", "SUBMITTED", "DELETED", "VOIDED"})


@dataclass(slots=True, eq=False)
class Account:
    """A chart-of-accounts entry; `klass` is Xero's Class (ASSET, LIABILITY, EQUITY, REVENUE, EXPENSE)."""

    id: str
    seq: int
    updated: datetime
    code: str
    name: str
    type: str
    klass: str
    tax_type: str
    status: str = "ACTIVE"
    system: str | None = None
    bank_number: str | None = None
    description: str = ""
    index: int = 0  # position in the chart, the ledger's key
    currency: str | None = None  # a bank account in a foreign currency; None: the base currency


@dataclass(slots=True, eq=False)
class TaxRate:
    """A tax rate; `rate_bp` is the percentage in hundredths (10% = 1000) so tax stays integer cents."""

    tax_type: str
    name: str
    rate_bp: int
    report_tax_type: str
    sales: bool
    purchases: bool
    status: str = "ACTIVE"

    def tax_on(self, cents: int) -> int:
        """Tax on a tax-exclusive amount, rounded half away from zero to the cent, as Xero rounds."""
        value = abs(cents) * self.rate_bp
        tax = (value + 5000) // 10000
        return tax if cents >= 0 else -tax


@dataclass(slots=True, eq=False)
class TrackingOption:
    id: str
    name: str
    category_id: str
    category_name: str


@dataclass(slots=True, eq=False)
class Contact:
    id: str
    seq: int
    updated: datetime
    name: str
    number: str
    first_name: str
    last_name: str
    email: str
    is_customer: bool
    is_supplier: bool
    status: str = "ACTIVE"
    account_number: str = ""
    tax_number: str = ""
    phone: str = ""
    city: str = ""
    groups: list[Any] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)  # every document raised for this contact, for aged reports
    currency: str | None = None  # DefaultCurrency when it is not the base currency


@dataclass(slots=True, eq=False)
class Item:
    id: str
    seq: int
    updated: datetime
    code: str
    name: str
    sale_cents: int
    cost_cents: int
    sales_account: Account
    purchase_account: Account
    status: str = "ACTIVE"
    tracked: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Line:
    """One line item: quantity x unit price, tax-exclusive, coded to an account with one tax rate.

    Immutable, so documents can share Line values (a quote and the invoice made from it); each document owns its
    list of lines, and an edit replaces a line rather than changing it.
    """

    description: str
    quantity: int
    unit_cents: int
    account: Account
    tax: TaxRate
    item: Item | None = None
    tracking: TrackingOption | None = None  # the Service Line option
    region: TrackingOption | None = None  # the Region option: a second tracking category, on a share of lines

    @property
    def options(self) -> TrackingOption | tuple[TrackingOption, ...] | None:
        """What its journal lines carry: no option, one, or both categories' options."""
        if self.region is None:
            return self.tracking
        return (self.tracking, self.region) if self.tracking is not None else self.region

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_cents

    @property
    def tax_cents(self) -> int:
        return self.tax.tax_on(self.amount)


@dataclass(slots=True, eq=False)
class Doc:
    """An invoice-like document: invoices, bills, credit notes, bank transactions, over/prepayments, quotes, POs.

    `kind` is the catalog API it is served under; `type` is Xero's Type (ACCREC, ACCPAYCREDIT, SPEND, ...).
    """

    id: str
    seq: int
    updated: datetime
    kind: str
    type: str
    status: str
    contact: Contact
    date: date
    due: date | None
    lines: list[Line]
    number: str = ""
    reference: str = ""
    bank: Account | None = None
    repeating_id: str | None = None
    sent: bool = False
    payments: list[Payment] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    extra: dict[str, Any] | None = None
    created: datetime | None = None
    currency: str | None = None  # CurrencyCode when foreign (amounts are then in it); None: the base currency
    rate: Decimal | None = None  # CurrencyRate: units of `currency` per unit of base currency on `date`

    @property
    def sub_total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def total_tax(self) -> int:
        return sum(line.tax_cents for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.amount + line.tax_cents for line in self.lines)

    def paid(self, as_at: date | None = None) -> int:
        return sum(p.amount for p in self.payments if p.status == "AUTHORISED" and (as_at is None or p.date <= as_at))

    def allocated(self, as_at: date | None = None) -> int:
        return sum(a.amount for a in self.allocations if as_at is None or a.date <= as_at)

    def outstanding(self, as_at: date | None = None) -> int:
        """AmountDue for an invoice, RemainingCredit for a credit note / overpayment / prepayment."""
        if self.status in UNPOSTED:
            return 0
        return self.total - self.paid(as_at) - self.allocated(as_at)

    def last_settled(self) -> date | None:
        dates = [p.date for p in self.payments if p.status == "AUTHORISED"] + [a.date for a in self.allocations]
        return max(dates) if dates else None


@dataclass(slots=True, eq=False)
class Payment:
    """Money applied to a document from a bank account (a refund when the document is a credit)."""

    id: str
    seq: int
    updated: datetime
    doc: Doc
    bank: Account
    date: date
    amount: int
    type: str
    status: str = "AUTHORISED"
    reference: str = ""
    batch_id: str | None = None
    reconciled: bool = True
    rate: Decimal | None = None  # CurrencyRate on the payment date, for a foreign-currency document
    base: int | None = None  # the receivable/payable it cleared in base currency (at the document's rate)


@dataclass(slots=True, eq=False)
class Allocation:
    """Part of a credit note, overpayment or prepayment applied to an invoice; no journal, both sit in AR/AP."""

    id: str
    credit: Doc
    invoice: Doc
    amount: int
    date: date


JournalLine = tuple[Account, int, int, "TaxRate | None", str, "TrackingOption | tuple[TrackingOption, ...] | None"]
"""(account, net cents, tax cents, tax rate, description, tracking option or options, one per category):
NetAmount + TaxAmount = GrossAmount."""


@dataclass(slots=True, eq=False)
class Journal:
    """An immutable general-ledger journal; its lines' net amounts sum to zero."""

    number: int
    id: str
    date: date
    created: datetime
    source_type: str
    source_id: str
    lines: list[JournalLine]
    reference: str = ""

    @property
    def updated(self) -> datetime:
        return self.created


@dataclass(slots=True, eq=False)
class Plain:
    """A record kept as its served dict (settings, small collections); `updated` drives IMS and ordering."""

    id: str
    seq: int
    updated: datetime | None
    data: dict[str, Any]
    status: str | None = None
    lines: list[dict[str, Any]] | None = None
    lines_key: str = "LineItems"
    hidden: bool = False  # archived/deleted records a default call does not return
    detail: dict[str, Any] | None = None  # fields only a single-record GET returns (payroll employees)
    owner: str | None = None  # the record this one belongs to (an employee's leave)
