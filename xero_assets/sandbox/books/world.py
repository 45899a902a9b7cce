"""The sandbox's world: a fixed set of organisations built from one seed.

Tenants are spread over AU, NZ, GB and US round-robin (tenant 1 AU, 2 NZ, 3 GB, 4 US, 5 AU, ...) so any run with four
or more tenants exercises both payroll APIs and every tax regime. Ids, names and amounts depend only on the seed and
the tenant's position; dates are anchored to the clock's day when the world is built (the books run up to "now").
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from xero_assets.sandbox.books.books import Books, Clock
from xero_assets.sandbox.books.generate import SIZES, generate
from xero_assets.sandbox.books.ids import uuid_for
from xero_assets.sandbox.books.profiles import COUNTRY_ORDER, PROFILES
from xero_assets.xero.dates import format_ms

_ORG_WORDS = ("Bluewire", "Northgate", "Clearpath", "Ironclad", "Brightlink", "Skyforge", "Netwise", "Corelogic",
              "Pinnacle", "Stackwell", "Fortis", "Helix")  # fmt: skip
TIERS = ("standard", "starter")


@dataclass
class World:
    """Every organisation the sandbox serves, by tenant id, in creation order."""

    seed: int
    size: str
    tenants: dict[str, Books] = field(default_factory=dict)


def _short_code(rng: random.Random) -> str:
    return "!" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(5))


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Build with the cyclic collector paused, then freeze what was built.

    A large organisation is millions of long-lived objects. Left on, the collector rescans all of them again and
    again while they are created (half the build time), and later a full collection in the middle of serving would
    pause a request for seconds. The books hold no garbage cycles worth collecting, so pause the collector while
    building and move the result to the permanent generation (gc.freeze) where collections never look.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def build_books(seed: int, index: int, size: str, clock: Clock, tier: str = "standard") -> Books:
    """Organisation number `index` (0-based) of the world for `seed`, fully generated."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    country = COUNTRY_ORDER[index % len(COUNTRY_ORDER)]
    profile = PROFILES[country]
    rng = random.Random(f"xero-assets:{seed}:{index}")
    name = f"{_ORG_WORDS[(seed + index) % len(_ORG_WORDS)]} IT {profile.company_suffix} ({country} {index + 1})"
    books = Books(
        tenant_id=uuid_for(f"tenant:{seed}:{index}"),
        name=name,
        profile=profile,
        size=size,
        tier=tier,
        short_code=_short_code(rng),
        clock=clock,
        rng=rng,
    )
    with _without_cyclic_gc():
        generate(books)
    books.organisation = organisation(books, uuid_for(f"organisation:{seed}:{index}"))
    return books


def organisation(books: Books, organisation_id: str) -> dict[str, object]:
    """The /Organisation record: what a client reads first to pick the payroll API and the financial year."""
    p = books.profile
    assert books.created is not None
    return {
        "OrganisationID": organisation_id,
        "APIKey": "",
        "Name": books.name,
        "LegalName": books.name,
        "PaysTax": True,
        "Version": p.version,
        "OrganisationType": "COMPANY",
        "BaseCurrency": p.currency,
        "CountryCode": p.code,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "RegistrationNumber": f"{int(organisation_id[-12:], 16) % 10**9:09d}",
        "TaxNumber": f"{int(organisation_id[:8], 16) % 10**9:09d}",
        "FinancialYearEndDay": p.fy_end_day,
        "FinancialYearEndMonth": p.fy_end_month,
        "SalesTaxBasis": p.sales_tax_basis,
        "SalesTaxPeriod": p.sales_tax_period,
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": format_ms(books.created),
        "OrganisationEntityType": "COMPANY",
        "Timezone": p.timezone,
        "ShortCode": books.short_code,
        "Class": books.tier.upper(),
        "Edition": "BUSINESS",
        "LineOfBusiness": "IT Managed Services",
        "Addresses": [{"AddressType": "STREET", "City": p.cities[0], "Country": p.code}],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {
            "Sales": {"Day": 20, "Type": "DAYSAFTERBILLDATE"},
            "Bills": {"Day": 30, "Type": "DAYSAFTERBILLDATE"},
        },
    }


def build_world(seed: int, tenants: int, size: str, clock: Clock, starter: int = 0) -> World:
    """`tenants` organisations for `seed`; the last `starter` of them are on Xero's Starter tier (lower day limit)."""
    world = World(seed=seed, size=size)
    for index in range(tenants):
        tier = "starter" if index >= tenants - starter else "standard"
        books = build_books(seed, index, size, clock, tier)
        world.tenants[books.tenant_id] = books
    return world
