"""An organisation's setup: chart of accounts, tax rates, currencies, tracking, themes, users, contacts, budget.

What exists before (and beside) the trading: the settings a sync reads first and the clients and suppliers the
documents are raised for. Each function takes the Generator and adds to its output.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from xero_assets.sandbox.books.chart import ARCHIVED_CODES, CHART
from xero_assets.sandbox.books.ids import add_months, stamp
from xero_assets.sandbox.books.model import Account, Item, TrackingOption
from xero_assets.sandbox.books.render import money, ms_date, ms_time

if TYPE_CHECKING:
    from xero_assets.sandbox.books.generate import Generator

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


def settings(gen: Generator) -> None:
    b, p = gen.books, gen.profile
    created = stamp(gen.start - timedelta(days=30), gen.rng, gen.now)
    b.created = created
    for index, (code, name, type_, klass, tax, system) in enumerate(CHART):
        account = Account(
            id=gen.ids(),
            seq=gen.next_seq(),
            updated=created + timedelta(seconds=index),
            code=code,
            name=name.format(tax=p.tax_name),
            type=type_,
            klass=klass,
            tax_type=gen.tax(tax).tax_type,
            status="ARCHIVED" if code in ARCHIVED_CODES else "ACTIVE",
            system=system,
            bank_number=f"{gen.rng.randrange(10**9, 10**10)}" if type_ == "BANK" else None,
            index=index,
        )
        b.accounts_by_code[code] = account
        gen.out["accounts"].append(account)
    for code, description in ((p.currency, p.currency_name), *p.other_currencies):
        gen.plain("currencies", code, None, {"Code": code, "Description": description})
    for rate in p.tax_rates:
        klass_ok = {
            "CanApplyToAssets": rate.purchases,
            "CanApplyToEquity": True,
            "CanApplyToExpenses": rate.purchases,
            "CanApplyToLiabilities": True,
            "CanApplyToRevenue": rate.sales,
        }
        percent = rate.rate_bp / 100
        gen.plain("tax_rates", rate.tax_type, None, {
            "Name": rate.name, "TaxType": rate.tax_type, "ReportTaxType": rate.report_tax_type,
            "Status": rate.status, "DisplayTaxRate": percent, "EffectiveRate": percent,
            "TaxComponents": [
                {"Name": p.tax_name, "Rate": percent, "IsCompound": False, "IsNonRecoverable": False}
            ],
            **klass_ok,
        })  # fmt: skip
    tracking_categories(gen, created)
    for sort, name in enumerate(("Standard", "Managed Services", "Projects")):
        theme_id = gen.ids()
        gen.plain("branding_themes", theme_id, None, {
            "BrandingThemeID": theme_id, "Name": name, "Type": "INVOICE", "SortOrder": sort,
            "CreatedDateUTC": ms_time(created + timedelta(minutes=sort)),
        })  # fmt: skip
    for n, role in enumerate(("STANDARD", "STANDARD", "READONLY", "INVOICEONLY", "FINANCIALADVISER")):
        first, last = _FIRST[(n * 5) % len(_FIRST)], _LAST[(n * 7) % len(_LAST)]
        user_id = gen.ids()
        gen.plain("users", user_id, created + timedelta(hours=n), {
            "UserID": user_id, "EmailAddress": f"{first}.{last}@example.com".lower(), "FirstName": first,
            "LastName": last, "IsSubscriber": n == 0, "OrganisationRole": role,
        })  # fmt: skip
    gen.groups = []
    for name in ("Managed Services Clients", "Project Clients", "Distributors"):
        group_id = gen.ids()
        group = gen.plain("contact_groups", group_id, None, {
            "ContactGroupID": group_id, "Name": name, "Status": "ACTIVE", "Contacts": []})  # fmt: skip
        gen.groups.append(group)
    gen.items = []
    for n, (code, name, sale, cost) in enumerate(_HARDWARE):
        added = created + timedelta(days=9 * n, minutes=n)  # the price list grew over time
        item = Item(gen.ids(), gen.next_seq(), added, code, name, sale, cost, gen.acc("210"), gen.acc("310"))
        gen.items.append(item)
        gen.out["items"].append(item)


def tracking_categories(gen: Generator, created: datetime) -> None:
    b = gen.books
    regions = tuple(gen.profile.cities[:4])
    for name, options, hidden in (
        ("Region", regions, False),
        ("Service Line", _SERVICE_LINES, False),
        ("Legacy Department", ("Sales", "Support"), True),
    ):
        category_id = gen.ids()
        made = []
        for option_name in options:
            option = TrackingOption(gen.ids(), option_name, category_id, name)
            made.append(option)
            b.tracking_options.append(option)
        if name == "Region":
            gen.region_options = made
        elif name == "Service Line":
            gen.service_options = {o.name: o for o in made}
        status = "ARCHIVED" if hidden else "ACTIVE"
        gen.plain("tracking_categories", category_id, None, {
            "TrackingCategoryID": category_id, "Name": name, "Status": status,
            "Options": [{"TrackingOptionID": o.id, "Name": o.name, "Status": status,
                         "HasValidationErrors": False, "IsDeleted": False, "IsArchived": hidden,
                         "IsActive": not hidden} for o in made],
        }, status=status, hidden=hidden)  # fmt: skip


def contacts(gen: Generator) -> None:
    rng, p, spec = gen.rng, gen.profile, gen.spec
    gen.customers = []
    horizon = (gen.today - gen.start).days
    for n in range(spec.customers):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        onboard = gen.start + timedelta(days=rng.randrange(horizon)) if rng.random() < 0.35 else gen.start
        contact = gen.new_contact(
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
            "region": rng.choice(gen.region_options),
            "repeating": None,
            "credit": None,
        }
        contact.groups.append(gen.groups[0])
        gen.customers.append((contact, profile))
    gen.suppliers = []
    names = ["Dicker Data", "Ingram Micro", "ConnectWise", "Datto", "Telstra Business", "Office Landlord",
             "Insurance Brokers", "Bank Fees", "Tax Agent", "Staff Wages"]  # fmt: skip
    for n in range(spec.suppliers):
        name = names[n] if n < len(names) else f"{_company(rng, p.company_suffix)} Contracting #{n + 1}"
        contact = gen.new_contact(name, rng.choice(_FIRST), rng.choice(_LAST), customer=False, day=gen.start)
        contact.is_supplier = True
        if n < 2:
            contact.groups.append(gen.groups[2])
        gen.suppliers.append(contact)
    for n in range(max(2, spec.customers // 100)):  # old clients, archived before the books start
        contact = gen.new_contact(f"Former Client #{n + 1}", rng.choice(_FIRST), rng.choice(_LAST), True,
                                   gen.start - timedelta(days=400))  # fmt: skip
        contact.status = "ARCHIVED"


def opening_balances(gen: Generator) -> None:
    """Capital introduced and equipment on hand when the books start, as one manual journal."""
    day = gen.start
    scale = max(1, gen.spec.customers // 20)
    gen.manual_journal(
        day,
        "Opening balances",
        [
            ("090", 5_000_000 * scale, "Opening bank balance"),
            ("720", 1_200_000 * scale, "Computer equipment"),
            ("970", -6_200_000 * scale, "Owner capital"),
        ],
    )


def budgets(gen: Generator) -> None:
    """An overall budget for this financial year: a monthly amount per revenue and expense account."""
    p = gen.profile
    fy_start = date(gen.today.year, p.fy_end_month, 1)
    fy_start = add_months(fy_start, 1)
    if fy_start > gen.today:
        fy_start = add_months(fy_start, -12)
    lines = []
    scale = max(1, gen.spec.customers // 20)
    for account in gen.books.accounts_by_code.values():
        if account.klass not in ("REVENUE", "EXPENSE") or account.status != "ACTIVE":
            continue
        base = (gen.rng.randrange(500, 5000) * 100) * scale
        lines.append({"AccountID": account.id, "AccountCode": account.code, "BudgetBalances": [
            {"Period": ms_date(add_months(fy_start, m)), "Amount": money(base), "Notes": ""}
            for m in range(12)]})  # fmt: skip
    budget_id = gen.ids()
    gen.plain("budgets", budget_id, gen.stamp(fy_start), {
        "BudgetID": budget_id, "Type": "OVERALL", "Description": "Overall Budget", "Tracking": [],
    }, status="ACTIVE", lines=lines, lines_key="BudgetLines")  # fmt: skip
