"""Deterministic MSP-like books: settings, contacts and two years of trading that post a balanced ledger.

An MSP bills each managed-services client monthly from a repeating invoice (per-user services plus licence resale),
resells hardware through quote -> purchase order -> bill -> invoice with a billable-expense link, pays distributors and
overheads (often in batches), takes deposits (prepayments), gets overpaid, issues service credits, moves cash to
savings, depreciates equipment by manual journal and reimburses staff expenses. Clients pay on time, late, in part or
not at all. Everything draws from one seeded random stream, so a seed always produces the same books.

Sizes scale the client count, not the behaviour: small is hundreds of records, medium about 10,000 invoices, large
over 200,000 invoices and half a million journal lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from xero_assets.sandbox.books.books import Books
from xero_assets.sandbox.books.chart import ARCHIVED_CODES, CHART
from xero_assets.sandbox.books.ids import add_months, stamp
from xero_assets.sandbox.books.ledger import doc_posting, payment_posting, reversal_lines, transfer_posting
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
from xero_assets.sandbox.books.render import iso_date, iso_time, line_id, money, ms_date, ms_time


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

_FIRST = (
    "Olivia",
    "Liam",
    "Amelia",
    "Noah",
    "Isla",
    "Oliver",
    "Mia",
    "Jack",
    "Ava",
    "William",
    "Grace",
    "Lucas",
    "Chloe",
    "Henry",
    "Zoe",
    "Leo",
    "Ruby",
    "Thomas",
    "Ella",
    "James",
    "Sophie",
    "Ethan",
    "Harper",
    "Max",
)
_LAST = (
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Anderson",
    "Walker",
    "Harris",
    "Clark",
    "Lewis",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Hall",
    "Turner",
    "Hill",
    "Moore",
    "Wood",
)
_WORDS = (
    "Harbour",
    "Summit",
    "Blue",
    "Granite",
    "Pioneer",
    "Coastal",
    "Northern",
    "Silver",
    "Evergreen",
    "Apex",
    "Redwood",
    "Bright",
    "Keystone",
    "Meridian",
    "Horizon",
    "Cedar",
    "Falcon",
    "Union",
    "Atlas",
    "Beacon",
    "Crescent",
    "Ironbark",
    "Lakeside",
    "Orchard",
    "Quarry",
    "Riverside",
    "Sterling",
    "Wattle",
    "Kestrel",
)
_TRADES = (
    "Dental",
    "Legal",
    "Accounting",
    "Logistics",
    "Architects",
    "Medical",
    "Engineering",
    "Realty",
    "Clinic",
    "Motors",
    "Builders",
    "Foods",
    "Pharmacy",
    "Veterinary",
    "Consulting",
    "Freight",
    "Studio",
    "Partners",
)
_HARDWARE = (
    ("LAPTOP-14", "Business Laptop 14in", 129900, 104000),
    ("LAPTOP-16", "Performance Laptop 16in", 219900, 178000),
    ("DESKTOP-SFF", "Small Form Factor Desktop", 109900, 86000),
    ("MONITOR-27", "27in QHD Monitor", 42900, 31000),
    ("DOCK-USBC", "USB-C Docking Station", 32900, 24500),
    ("FW-SMB", "SMB Firewall Appliance", 189900, 142000),
    ("SWITCH-24P", "24-port PoE Switch", 149900, 112000),
    ("AP-WIFI6", "Wi-Fi 6 Access Point", 54900, 39000),
    ("NAS-4BAY", "4-bay NAS", 99900, 76000),
    ("UPS-1500", "1500VA UPS", 69900, 51000),
    ("SERVER-1U", "1U Rack Server", 749900, 612000),
    ("PHONE-VOIP", "VoIP Desk Phone", 24900, 17500),
)
_SERVICE_LINES = ("Managed Services", "Licensing", "Hardware", "Projects")


def _company(rng: Any, suffix: str) -> str:
    return f"{rng.choice(_WORDS)} {rng.choice(_TRADES)} {suffix}"


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
            lines=lines,
            number=number,
            reference=reference,
            bank=bank,
            repeating_id=repeating_id,
            sent=kind == "invoices" and type_ == "ACCREC" and status != "DRAFT",
            extra=extra,
            created=created,
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
        doc.payments.append(payment)
        doc.updated = max(doc.updated, created)
        self.out["payments"].append(payment)
        source, lines = payment_posting(payment, self.books.controls)
        self.books.ledger.post(day, created, source, payment.id, lines, payment.reference)
        return payment

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
        self.settings()
        self.contacts()
        self.opening_balances()
        month = self.start
        while month <= self.today:
            self.trade_month(month)
            month = add_months(month, 1)
        self.budgets()
        from xero_assets.sandbox.books.payroll import generate_payroll

        generate_payroll(self)
        self.books.ledger.seal()
        for name, records in self.out.items():
            self.books.collections[name].extend(records)

    # --- settings ---------------------------------------------------------------------------------------------------
    def settings(self) -> None:
        b, p = self.books, self.profile
        created = stamp(self.start - timedelta(days=30), self.rng, self.now)
        b.created = created
        for index, (code, name, type_, klass, tax, system) in enumerate(CHART):
            account = Account(
                id=self.ids(),
                seq=self.next_seq(),
                updated=created + timedelta(seconds=index),
                code=code,
                name=name.format(tax=p.tax_name),
                type=type_,
                klass=klass,
                tax_type=self.tax(tax).tax_type,
                status="ARCHIVED" if code in ARCHIVED_CODES else "ACTIVE",
                system=system,
                bank_number=f"{self.rng.randrange(10**9, 10**10)}" if type_ == "BANK" else None,
                index=index,
            )
            b.accounts_by_code[code] = account
            self.out["accounts"].append(account)
        for code, description in ((p.currency, p.currency_name), *p.other_currencies):
            self.plain("currencies", code, None, {"Code": code, "Description": description})
        for rate in p.tax_rates:
            klass_ok = {
                "CanApplyToAssets": rate.purchases,
                "CanApplyToEquity": True,
                "CanApplyToExpenses": rate.purchases,
                "CanApplyToLiabilities": True,
                "CanApplyToRevenue": rate.sales,
            }
            percent = rate.rate_bp / 100
            self.plain("tax_rates", rate.tax_type, None, {
                "Name": rate.name, "TaxType": rate.tax_type, "ReportTaxType": rate.report_tax_type,
                "Status": rate.status, "DisplayTaxRate": percent, "EffectiveRate": percent,
                "TaxComponents": [
                    {"Name": p.tax_name, "Rate": percent, "IsCompound": False, "IsNonRecoverable": False}
                ],
                **klass_ok,
            })  # fmt: skip
        self.tracking_categories(created)
        for sort, name in enumerate(("Standard", "Managed Services", "Projects")):
            theme_id = self.ids()
            self.plain("branding_themes", theme_id, None, {
                "BrandingThemeID": theme_id, "Name": name, "Type": "INVOICE", "SortOrder": sort,
                "CreatedDateUTC": ms_time(created + timedelta(minutes=sort)),
            })  # fmt: skip
        for n, role in enumerate(("STANDARD", "STANDARD", "READONLY", "INVOICEONLY", "FINANCIALADVISER")):
            first, last = _FIRST[(n * 5) % len(_FIRST)], _LAST[(n * 7) % len(_LAST)]
            user_id = self.ids()
            self.plain("users", user_id, created + timedelta(hours=n), {
                "UserID": user_id, "EmailAddress": f"{first}.{last}@example.com".lower(), "FirstName": first,
                "LastName": last, "IsSubscriber": n == 0, "OrganisationRole": role,
            })  # fmt: skip
        self.groups = []
        for name in ("Managed Services Clients", "Project Clients", "Distributors"):
            group_id = self.ids()
            group = self.plain("contact_groups", group_id, None, {
                "ContactGroupID": group_id, "Name": name, "Status": "ACTIVE", "Contacts": []})  # fmt: skip
            self.groups.append(group)
        self.items: list[Item] = []
        for code, name, sale, cost in _HARDWARE:
            item = Item(self.ids(), self.next_seq(), created, code, name, sale, cost, self.acc("210"), self.acc("310"))
            self.items.append(item)
            self.out["items"].append(item)

    def tracking_categories(self, created: datetime) -> None:
        b = self.books
        regions = tuple(self.profile.cities[:4])
        self.region_options: list[TrackingOption] = []
        self.service_options: dict[str, TrackingOption] = {}
        for name, options, hidden in (
            ("Region", regions, False),
            ("Service Line", _SERVICE_LINES, False),
            ("Legacy Department", ("Sales", "Support"), True),
        ):
            category_id = self.ids()
            made = []
            for option_name in options:
                option = TrackingOption(self.ids(), option_name, category_id, name)
                made.append(option)
                b.tracking_options.append(option)
            if name == "Region":
                self.region_options = made
            elif name == "Service Line":
                self.service_options = {o.name: o for o in made}
            status = "ARCHIVED" if hidden else "ACTIVE"
            self.plain("tracking_categories", category_id, None, {
                "TrackingCategoryID": category_id, "Name": name, "Status": status,
                "Options": [{"TrackingOptionID": o.id, "Name": o.name, "Status": status,
                             "HasValidationErrors": False, "IsDeleted": False, "IsArchived": hidden,
                             "IsActive": not hidden} for o in made],
            }, status=status, hidden=hidden)  # fmt: skip

    # --- contacts ---------------------------------------------------------------------------------------------------
    def contacts(self) -> None:
        rng, p, spec = self.rng, self.profile, self.spec
        self.customers: list[tuple[Contact, dict[str, Any]]] = []
        horizon = (self.today - self.start).days
        for n in range(spec.customers):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            onboard = self.start + timedelta(days=rng.randrange(horizon)) if rng.random() < 0.35 else self.start
            contact = self.new_contact(
                f"{_company(rng, p.company_suffix)} #{n + 1}", first, last, customer=True, day=onboard
            )
            users = rng.randrange(4, 60)
            profile = {
                "onboard": onboard,
                "churn": onboard + timedelta(days=rng.randrange(120, 900)) if rng.random() < 0.08 else None,
                "users": users,
                "rate": rng.choice((8500, 9500, 11000, 12500, 14000)),
                "licence": rng.choice((2850, 3300, 3650)),
                "backup": rng.choice((0, 0, 9900, 14900, 24900)),
                "payer": rng.choices(("prompt", "late", "partial", "bad"), (70, 20, 7, 3))[0],
                "region": rng.choice(self.region_options),
                "repeating": None,
                "credit": None,
            }
            contact.groups.append(self.groups[0])
            self.customers.append((contact, profile))
        self.suppliers: list[Contact] = []
        names = ["Dicker Data", "Ingram Micro", "ConnectWise", "Datto", "Telstra Business", "Office Landlord",
                 "Insurance Brokers", "Bank Fees", "Tax Agent", "Staff Wages"]  # fmt: skip
        for n in range(spec.suppliers):
            name = names[n] if n < len(names) else f"{_company(rng, p.company_suffix)} Contracting #{n + 1}"
            contact = self.new_contact(name, rng.choice(_FIRST), rng.choice(_LAST), customer=False, day=self.start)
            contact.is_supplier = True
            if n < 2:
                contact.groups.append(self.groups[2])
            self.suppliers.append(contact)
        for n in range(max(2, spec.customers // 100)):  # old clients, archived before the books start
            contact = self.new_contact(f"Former Client #{n + 1}", rng.choice(_FIRST), rng.choice(_LAST), True,
                                       self.start - timedelta(days=400))  # fmt: skip
            contact.status = "ARCHIVED"

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

    def opening_balances(self) -> None:
        """Capital introduced and equipment on hand when the books start, as one manual journal."""
        day = self.start
        scale = max(1, self.spec.customers // 20)
        self.manual_journal(
            day,
            "Opening balances",
            [
                ("090", 5_000_000 * scale, "Opening bank balance"),
                ("720", 1_200_000 * scale, "Computer equipment"),
                ("970", -6_200_000 * scale, "Owner capital"),
            ],
        )

    def manual_journal(self, day: date, narration: str, lines: list[tuple[str, int, str]]) -> None:
        created = self.stamp(day)
        journal_id = self.ids()
        tax = self.tax("none")
        posted: list[JournalLine] = [(self.acc(code), cents, 0, None, text, None) for code, cents, text in lines]
        self.books.ledger.post(day, created, "MANJOURNAL", journal_id, posted, narration)
        self.plain("manual_journals", journal_id, created, {
            "ManualJournalID": journal_id, "Narration": narration, "Date": ms_date(day), "Status": "POSTED",
            "LineAmountTypes": "NoTax", "ShowOnCashBasisReports": True, "HasAttachments": False,
        }, status="POSTED", lines=[{
            "LineAmount": money(cents), "AccountCode": code, "AccountID": self.acc(code).id, "Description": text,
            "TaxType": tax.tax_type, "TaxAmount": 0.0, "IsBlank": False, "Tracking": [],
        } for code, cents, text in lines], lines_key="JournalLines")  # fmt: skip

    # --- one month of trading -------------------------------------------------------------------------------------
    def trade_month(self, month: date) -> None:
        self.managed_services(month)
        if month == self.today.replace(day=1):
            self.drafts(month)
        for _ in range(self.spec.hardware_deals):
            self.hardware_deal(month)
        self.overhead_bills(month)
        self.banking(month)
        if month.month % 3 == 0:
            self.expense_claim(month)

    def managed_services(self, month: date) -> None:
        rng = self.rng
        sales, licence_tax = self.tax("sales"), self.tax("sales")
        service_acc, licence_acc = self.acc("200"), self.acc("230")
        managed, licensing = self.service_options["Managed Services"], self.service_options["Licensing"]
        for contact, prof in self.customers:
            if prof["onboard"] > month + timedelta(days=27) or (prof["churn"] and prof["churn"] < month):
                continue
            day = max(month, prof["onboard"])
            if day > self.today:
                continue
            if rng.random() < 0.15:
                prof["users"] = max(2, prof["users"] + rng.choice((-2, -1, 1, 1, 2, 3)))
            users = prof["users"]
            lines = [
                Line("Managed IT services - per user", users, prof["rate"], service_acc, sales, None, managed),
                Line(
                    "Microsoft 365 Business Premium", users, prof["licence"], licence_acc, licence_tax, None, licensing
                ),
            ]
            if prof["backup"]:
                lines.append(Line("Cloud backup", 1, prof["backup"], service_acc, sales, None, managed))
            if prof["repeating"] is None:
                prof["repeating"] = self.repeating_invoice(contact, day, lines)
            status = "AUTHORISED"
            if day >= self.today - timedelta(days=3) and rng.random() < 0.3:
                status = "DRAFT"
            elif rng.random() < 0.003:
                status = "DELETED"
            doc = self.add_doc(
                "invoices", "ACCREC", contact, day, [Line(li.description, li.quantity, li.unit_cents, li.account,
                                                          li.tax, None, li.tracking) for li in lines],
                due=day + timedelta(days=20), number=self.number("INV", 6), status=status,
                reference=f"Managed services {month:%b %Y}", repeating_id=prof["repeating"].id,
            )  # fmt: skip
            if status == "AUTHORISED":
                self.settle_sale(doc, prof)

    def drafts(self, month: date) -> None:
        """Work in progress this month: draft invoices for ad-hoc support, not yet approved (nor posted)."""
        for _ in range(max(3, self.spec.customers // 50)):
            contact, _ = self.rng.choice(self.customers)
            day = month + timedelta(days=self.rng.randrange(0, max(1, (self.today - month).days + 1)))
            line = Line("Ad-hoc support hours", self.rng.randrange(1, 8), 15000, self.acc("220"), self.tax("sales"))
            self.add_doc("invoices", "ACCREC", contact, day, [line], due=day + timedelta(days=20),
                         number=self.number("INV", 6), status="DRAFT", reference="Ad-hoc support")  # fmt: skip

    def settle_sale(self, doc: Doc, prof: dict[str, Any]) -> None:
        """Customer behaviour: pay on time, late, in part, not at all; sometimes a credit, overpayment or void."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.004 and not doc.allocations:
            self.void(doc, doc.date + timedelta(days=rng.randrange(1, 10)))
            return
        total = doc.total
        if roll < 0.03:
            credit_cents = max(1000, total * rng.randrange(5, 30) // 100)
            credit = self.credit_note(doc.contact, doc.date + timedelta(days=rng.randrange(2, 12)), credit_cents)
            if rng.random() < 0.85 and credit.date <= self.today:
                self.allocate(credit, doc, min(credit.total, total), credit.date)
            elif prof["credit"] is None:
                prof["credit"] = credit
        if prof["credit"] is not None and rng.random() < 0.5:
            credit = prof["credit"]
            amount = min(credit.outstanding(), doc.outstanding())
            if amount > 0:
                self.allocate(credit, doc, amount, max(doc.date, credit.date))
            prof["credit"] = None
        due = doc.due or doc.date
        payer = prof["payer"]
        if payer == "prompt":
            plan = [(due - timedelta(days=rng.randrange(0, 16)), 1.0)]
        elif payer == "late":
            plan = [(due + timedelta(days=rng.randrange(5, 46)), 1.0)]
        elif payer == "partial":
            plan = [
                (due + timedelta(days=rng.randrange(0, 10)), 0.5),
                (due + timedelta(days=rng.randrange(25, 70)), 1.0),
            ]
        else:
            plan = [(due + timedelta(days=rng.randrange(60, 150)), 1.0)]
        for day, share in plan:
            day = max(day, doc.date)
            outstanding = doc.outstanding()
            if day > self.today or outstanding <= 0:
                break
            amount = outstanding if share >= 1.0 else outstanding // 2
            if share >= 1.0 and rng.random() < 0.004:
                self.overpay(doc, day, outstanding)
                break
            self.pay(doc, day, amount)

    def overpay(self, doc: Doc, day: date, outstanding: int) -> None:
        """The client pays more than owed: the invoice is settled and the excess waits as an overpayment."""
        self.pay(doc, day, outstanding)
        extra = self.rng.randrange(5000, 50000)
        line = Line("Overpayment", 1, extra, self.books.controls.ar, self.tax("none"))
        self.add_doc("overpayments", "RECEIVE-OVERPAYMENT", doc.contact, day, [line], bank=self.acc("090"),
                     reference=f"Overpaid {doc.number}")  # fmt: skip

    def credit_note(self, contact: Contact, day: date, cents: int, supplier: bool = False) -> Doc:
        account = self.acc("310") if supplier else self.acc("200")
        tax = self.tax("purchase" if supplier else "sales")
        line = Line("Service credit" if not supplier else "Returned goods", 1, cents, account, tax)
        return self.add_doc(
            "credit_notes", "ACCPAYCREDIT" if supplier else "ACCRECCREDIT", contact, min(day, self.today), [line],
            due=min(day, self.today), number=self.number("CN", 5), reference="Service level credit",
        )  # fmt: skip

    def repeating_invoice(self, contact: Contact, day: date, lines: list[Line]) -> Doc:
        schedule = {
            "Period": 1, "Unit": "MONTHLY", "DueDate": 20, "DueDateType": "DAYSAFTERBILLDATE",
            "StartDate": ms_date(day), "NextScheduledDate": ms_date(add_months(self.today.replace(day=1), 1)),
        }  # fmt: skip
        doc = self.add_doc(
            "repeating_invoices", "ACCREC", contact, day, list(lines), reference="Managed services [Month] [Year]",
            post=False, extra={"Schedule": schedule, "ApprovedForSending": False, "SendCopy": False,
                               "MarkAsSent": True, "IncludePDF": False},
        )  # fmt: skip
        doc.extra["ID"] = doc.id  # type: ignore[index]
        return doc

    def hardware_deal(self, month: date) -> None:
        """Quote -> purchase order -> supplier bill -> client invoice, with a deposit and a billable-expense link."""
        rng = self.rng
        contact, prof = rng.choice(self.customers)
        if prof["onboard"] > month:
            return
        day = month + timedelta(days=rng.randrange(0, 28))
        if day > self.today:
            return
        hardware = self.service_options["Hardware"]
        picks = rng.sample(self.items, rng.randrange(1, 4))
        quantities = [rng.randrange(1, 8) for _ in picks]
        sale_lines = [Line(i.name, q, i.sale_cents, i.sales_account, self.tax("sales"), i, hardware)
                      for i, q in zip(picks, quantities, strict=True)]  # fmt: skip
        cost_lines = [Line(i.name, q, i.cost_cents, i.purchase_account, self.tax("purchase"), i, hardware)
                      for i, q in zip(picks, quantities, strict=True)]  # fmt: skip
        fate = rng.random()
        quote_status = "DECLINED" if fate < 0.1 else "SENT" if fate < 0.18 else "INVOICED"
        if day > self.today - timedelta(days=7) and quote_status == "INVOICED":
            quote_status = "ACCEPTED"
        self.add_doc("quotes", "ACCREC", contact, day, sale_lines, due=day + timedelta(days=30),
                     number=self.number("QU", 5), status=quote_status, post=False,
                     extra={"Title": "Hardware refresh", "Summary": f"Hardware for {contact.name}",
                            "Terms": "Valid for 30 days", "TotalDiscount": 0.0})  # fmt: skip
        if quote_status in ("DECLINED", "SENT"):
            return
        supplier = self.suppliers[rng.randrange(0, 2)]
        po_day = min(day + timedelta(days=rng.randrange(0, 3)), self.today)
        billed = quote_status == "INVOICED"
        self.add_doc("purchase_orders", "ACCPAY", supplier, po_day, cost_lines, due=po_day + timedelta(days=7),
                     number=self.number("PO", 5), status="BILLED" if billed else "AUTHORISED", post=False,
                     extra={"SentToContact": True, "DeliveryAddress": f"{contact.name}, {contact.city}",
                            "AttentionTo": contact.first_name, "DeliveryInstructions": "Deliver to reception",
                            "TotalDiscount": 0.0})  # fmt: skip
        if not billed:
            return
        total_sale = sum(li.amount + li.tax_cents for li in sale_lines)
        deposit = None
        if rng.random() < 0.25:
            deposit_cents = total_sale // 2
            deposit = self.add_doc("prepayments", "RECEIVE-PREPAYMENT", contact, day,
                                   [Line("Deposit on hardware order", 1, deposit_cents, self.books.controls.ar,
                                         self.tax("none"))], bank=self.acc("090"),
                                   reference="Hardware deposit")  # fmt: skip
        bill_day = min(po_day + timedelta(days=rng.randrange(2, 10)), self.today)
        bill = self.add_doc("invoices", "ACCPAY", supplier, bill_day, cost_lines, due=bill_day + timedelta(days=30),
                            number=f"{supplier.name.split()[0][:3].upper()}-{rng.randrange(10**6, 10**7)}",
                            reference=f"PO for {contact.name}")  # fmt: skip
        self.pay_bill(bill)
        invoice_day = min(bill_day + timedelta(days=rng.randrange(0, 5)), self.today)
        invoice = self.add_doc("invoices", "ACCREC", contact, invoice_day, sale_lines,
                               due=invoice_day + timedelta(days=14), number=self.number("INV", 6),
                               reference="Hardware supply")  # fmt: skip
        for index in range(len(sale_lines)):
            link_id = self.ids()
            self.plain("linked_transactions", link_id, bill.updated, {
                "LinkedTransactionID": link_id, "SourceTransactionID": bill.id,
                "SourceLineItemID": line_id(bill.id, index), "ContactID": contact.id,
                "TargetTransactionID": invoice.id, "TargetLineItemID": line_id(invoice.id, index),
                "Status": "BILLED", "Type": "BILLABLEEXPENSE", "SourceTransactionTypeCode": "ACCPAY",
            }, status="BILLED")  # fmt: skip
        if deposit is not None:
            self.allocate(deposit, invoice, min(deposit.total, invoice.total), invoice_day)
        self.settle_sale(invoice, prof)

    def pay_bill(self, bill: Doc, batch_id: str | None = None) -> Payment | None:
        day = (bill.due or bill.date) - timedelta(days=self.rng.randrange(0, 10))
        day = max(day, bill.date)
        if day > self.today:
            return None
        return self.pay(bill, day, bill.outstanding(), batch_id=batch_id)

    def overhead_bills(self, month: date) -> None:
        """Distributor licences, tools, rent, telco and subcontractors; distributor bills go out in one batch."""
        rng = self.rng
        day = month + timedelta(days=rng.randrange(0, 5))
        if day > self.today:
            return
        active_users = sum(p["users"] for c, p in self.customers if p["onboard"] <= month)
        purchase = self.tax("purchase")
        fixed = [
            (self.suppliers[0], "Microsoft 365 licences", max(1, active_users), 2700, "320"),
            (self.suppliers[2], "PSA and RMM tooling", 1, 180000 + 2000 * len(self.customers), "485"),
            (self.suppliers[3], "Backup platform", 1, 90000 + 900 * len(self.customers), "320"),
            (self.suppliers[4], "Phone and internet", 1, 45000, "489"),
            (self.suppliers[5], "Office rent", 1, 650000, "469"),
        ]
        if month.month % 3 == 1:
            fixed.append((self.suppliers[8], "Quarterly accounting", 1, 220000, "412"))
        bills: list[Doc] = []
        for supplier, text, qty, unit, code in fixed:
            line = Line(text, qty, unit, self.acc(code), purchase)
            bills.append(self.add_doc("invoices", "ACCPAY", supplier, day, [line], due=day + timedelta(days=30),
                                      number=f"BILL-{rng.randrange(10**7, 10**8)}", reference=text))  # fmt: skip
        contractors = self.suppliers[10:] or self.suppliers[6:8]
        for _ in range(self.spec.contractor_bills):
            supplier = rng.choice(contractors)
            bill_day = month + timedelta(days=rng.randrange(0, 28))
            if bill_day > self.today:
                continue
            line = Line("Subcontracted project work", rng.randrange(4, 40), rng.choice((9500, 11000, 13500)),
                        self.acc("330"), purchase, None, self.service_options["Projects"])  # fmt: skip
            status = "DRAFT" if bill_day > self.today - timedelta(days=5) and rng.random() < 0.3 else "AUTHORISED"
            bill = self.add_doc("invoices", "ACCPAY", supplier, bill_day, [line], due=bill_day + timedelta(days=30),
                                number=f"SC-{rng.randrange(10**6, 10**7)}", status=status)  # fmt: skip
            if status == "AUTHORISED":
                if rng.random() < 0.02:
                    credit = self.credit_note(supplier, bill_day + timedelta(days=3), line.amount // 10, True)
                    self.allocate(credit, bill, min(credit.total, bill.total), credit.date)
                self.pay_bill(bill)
        batch_day = day + timedelta(days=25)
        if batch_day <= self.today:
            self.batch_pay(bills, batch_day)

    def batch_pay(self, bills: list[Doc], day: date) -> None:
        batch_id = self.ids()
        payments = [self.pay(bill, day, bill.outstanding(), batch_id=batch_id) for bill in bills if bill.outstanding()]
        if not payments:
            return
        total = sum(p.amount for p in payments)
        bank = self.acc("090")
        self.plain("batch_payments", batch_id, max(p.updated for p in payments), {
            "BatchPaymentID": batch_id, "Account": {"AccountID": bank.id, "Code": bank.code, "Name": bank.name},
            "Reference": f"Supplier run {day:%d %b %Y}", "Date": ms_date(day), "DateString": iso_date(day),
            "Type": "PAYBATCH", "Status": "AUTHORISED", "TotalAmount": money(total), "Amount": money(total),
            "IsReconciled": True,
            "Payments": [{"PaymentID": p.id, "Amount": money(p.amount), "Reference": p.reference,
                          "Invoice": {"InvoiceID": p.doc.id, "InvoiceNumber": p.doc.number, "Type": p.doc.type,
                                      "Contact": {"ContactID": p.doc.contact.id, "Name": p.doc.contact.name},
                                      "LineItems": []}} for p in payments],
        }, status="AUTHORISED")  # fmt: skip

    def banking(self, month: date) -> None:
        """Spend and receive money, wages, depreciation and a transfer to savings."""
        rng = self.rng
        bank = self.acc("090")
        last = min(add_months(month, 1) - timedelta(days=1), self.today)
        if last < month:
            return
        fee_day = last
        wages = Line("Net wages", 1, 1_800_000 + 40_000 * self.spec.employees, self.acc("477"), self.tax("none"))
        fees = Line("Monthly account fee", 1, rng.randrange(2500, 6000), self.acc("404"), self.tax("none"))
        interest = Line("Interest", 1, rng.randrange(500, 9000), self.acc("270"), self.tax("none"))
        misc = Line("Team lunch", 1, rng.randrange(8000, 40000), self.acc("420"), self.tax("purchase"))
        staff = self.suppliers[9] if len(self.suppliers) > 9 else self.suppliers[-1]
        bank_contact = self.suppliers[7] if len(self.suppliers) > 7 else self.suppliers[-1]
        for type_, contact, line in (
            ("SPEND", staff, wages),
            ("SPEND", bank_contact, fees),
            ("RECEIVE", bank_contact, interest),
            ("SPEND", bank_contact, misc),
        ):
            self.add_doc("bank_transactions", type_, contact, fee_day, [line], bank=bank,
                         reference=line.description)  # fmt: skip
        if last.day >= 28:
            scale = max(1, self.spec.customers // 20)
            self.manual_journal(last, f"Depreciation {month:%b %Y}",
                                [("416", 25_000 * scale, "Depreciation"),
                                 ("721", -25_000 * scale, "Accumulated depreciation")])  # fmt: skip
            self.transfer(last, rng.randrange(100_000, 500_000) * max(1, self.spec.customers // 20))

    def transfer(self, day: date, cents: int) -> None:
        source, target = self.acc("090"), self.acc("091")
        created = self.stamp(day)
        transfer_id = self.ids()
        deleted = len(self.out["bank_transfers"]) % 10 == 2  # one in ten, at least one per organisation
        lines = transfer_posting(source, target, cents)
        self.books.ledger.post(day, created, "TRANSFER", transfer_id, lines, "Transfer to savings")
        if deleted:
            self.books.ledger.post(day, created + timedelta(hours=1), "TRANSFER", transfer_id,
                                   reversal_lines(lines), "Transfer to savings")  # fmt: skip
        self.plain("bank_transfers", transfer_id, created, {
            "BankTransferID": transfer_id,
            "FromBankAccount": {"AccountID": source.id, "Code": source.code, "Name": source.name},
            "ToBankAccount": {"AccountID": target.id, "Code": target.code, "Name": target.name},
            "Amount": money(cents), "Date": ms_date(day), "DateString": f"{day.isoformat()} 00:00:00",
            "FromBankTransactionID": self.ids(), "ToBankTransactionID": self.ids(), "FromIsReconciled": True,
            "ToIsReconciled": True, "Reference": "Transfer to savings", "CurrencyRate": 1.0, "HasAttachments": False,
            "CreatedDateUTCString": iso_time(created).replace("T", " ").rstrip("Z"),
            "Status": "DELETED" if deleted else "AUTHORISED",
        }, status="DELETED" if deleted else "AUTHORISED", hidden=deleted)  # fmt: skip

    def expense_claim(self, month: date) -> None:
        """A staff member claims a few receipts; the claim posts EXPCLAIM and is reimbursed (EXPPAYMENT)."""
        rng = self.rng
        day = month + timedelta(days=rng.randrange(5, 25))
        if day > self.today:
            return
        user = self.out["users"][0]
        user_ref = {"UserID": user.id, "FirstName": user.data["FirstName"], "LastName": user.data["LastName"],
                    "EmailAddress": user.data["EmailAddress"], "OrganisationRole": "STANDARD"}  # fmt: skip
        receipts = []
        for n in range(rng.randrange(1, 4)):
            line = Line("Client site travel", 1, rng.randrange(2000, 30000), self.acc("493"), self.tax("purchase"))
            receipt = self.add_doc("receipts", "ACCPAY", rng.choice(self.suppliers), day - timedelta(days=n), [line],
                                   number=f"RPT{self.seq:05d}", status="AUTHORISED", post=False,
                                   extra={"User": user_ref}, reference="Travel")  # fmt: skip
            receipts.append(receipt)
        claim_id = self.ids()
        created = self.stamp(day)
        lines: list[JournalLine] = []
        for receipt in receipts:
            lines += doc_posting(receipt, self.books.controls)[1]
        self.books.ledger.post(day, created, "EXPCLAIM", claim_id, lines, "Expense claim")
        total = sum(r.total for r in receipts)
        pay_day = day + timedelta(days=7)
        paid = pay_day <= self.today
        updated = created
        payments = []
        if paid:
            pay_created = self.stamp(pay_day)
            updated = pay_created
            pay_id = self.ids()
            ap, bank = self.books.controls.ap, self.acc("090")
            self.books.ledger.post(pay_day, pay_created, "EXPPAYMENT", pay_id,
                                   [(ap, total, 0, None, "", None), (bank, -total, 0, None, "", None)],
                                   "Expense claim payment")  # fmt: skip
            payments = [{"PaymentID": pay_id, "Date": ms_date(pay_day), "Amount": money(total), "Reference": "",
                         "CurrencyRate": 1.0, "HasAccount": False, "HasValidationErrors": False}]  # fmt: skip
        self.plain("expense_claims", claim_id, updated, {
            "ExpenseClaimID": claim_id, "Status": "PAID" if paid else "AUTHORISED", "User": user_ref,
            "Receipts": [{"ReceiptID": r.id, "ReceiptNumber": r.number, "Total": money(r.total), "LineItems": []}
                         for r in receipts],
            "Payments": payments, "Total": money(total), "AmountDue": 0.0 if paid else money(total),
            "AmountPaid": money(total) if paid else 0.0, "PaymentDueDate": ms_date(pay_day),
            "ReportingDate": ms_date(day),
        }, status="PAID" if paid else "AUTHORISED")  # fmt: skip

    def budgets(self) -> None:
        """An overall budget for this financial year: a monthly amount per revenue and expense account."""
        p = self.profile
        fy_start = date(self.today.year, p.fy_end_month, 1)
        fy_start = add_months(fy_start, 1)
        if fy_start > self.today:
            fy_start = add_months(fy_start, -12)
        lines = []
        scale = max(1, self.spec.customers // 20)
        for account in self.books.accounts_by_code.values():
            if account.klass not in ("REVENUE", "EXPENSE") or account.status != "ACTIVE":
                continue
            base = (self.rng.randrange(500, 5000) * 100) * scale
            lines.append({"AccountID": account.id, "AccountCode": account.code, "BudgetBalances": [
                {"Period": ms_date(add_months(fy_start, m)), "Amount": money(base), "Notes": ""}
                for m in range(12)]})  # fmt: skip
        budget_id = self.ids()
        self.plain("budgets", budget_id, self.stamp(fy_start), {
            "BudgetID": budget_id, "Type": "OVERALL", "Description": "Overall Budget", "Tracking": [],
        }, status="ACTIVE", lines=lines, lines_key="BudgetLines")  # fmt: skip
        self.budget_start = fy_start


def generate(books: Books) -> None:
    """Fill `books` for its size; the ledger is sealed and every collection sorted when this returns."""
    Generator(books, SIZES[books.size]).run()


__all__ = ["SIZES", "Generator", "SizeSpec", "generate"]
