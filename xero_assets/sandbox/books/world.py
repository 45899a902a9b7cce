"""The sandbox's world: a fixed set of organisations built from one seed.

Tenants are spread over AU, NZ, GB and US round-robin (tenant 1 AU, 2 NZ, 3 GB, 4 US, 5 AU, ...) so any run with four
or more tenants exercises both payroll APIs and every tax regime. Ids, names and amounts depend only on the seed and
the tenant's position; dates are anchored to the clock's day when the world is built (the books run up to "now").

A fleet of a thousand organisations need not be a thousand generated books: with `shapes=N` only N books are
generated and every tenant serves one of them under its own identity (tenant id, name, short code, tier, its
/Organisation record and report titles). Such shared books refuse mutations, since a change to one tenant would
show in every tenant of its shape.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from xero_assets.sandbox.books.books import Books, Clock
from xero_assets.sandbox.books.generate import SIZES, generate
from xero_assets.sandbox.books.ids import uuid_for
from xero_assets.sandbox.books.profiles import COUNTRY_ORDER, PROFILES
from xero_assets.sandbox.books.query import VALIDATION, QueryError
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


def _stream(seed: int, index: int) -> random.Random:
    """Organisation number `index`'s seeded stream: its short code first, then (generated books) everything else."""
    return random.Random(f"xero-assets:{seed}:{index}")


def _identity(seed: int, index: int) -> tuple[str, str]:
    """(tenant id, name) of organisation number `index`: its own whether its books are shared or not."""
    country = COUNTRY_ORDER[index % len(COUNTRY_ORDER)]
    word = _ORG_WORDS[(seed + index) % len(_ORG_WORDS)]
    name = f"{word} IT {PROFILES[country].company_suffix} ({country} {index + 1})"
    return uuid_for(f"tenant:{seed}:{index}"), name


def build_books(seed: int, index: int, size: str, clock: Clock, tier: str = "standard") -> Books:
    """Organisation number `index` (0-based) of the world for `seed`, fully generated."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    country = COUNTRY_ORDER[index % len(COUNTRY_ORDER)]
    rng = _stream(seed, index)
    tenant_id, name = _identity(seed, index)
    books = Books(
        tenant_id=tenant_id,
        name=name,
        profile=PROFILES[country],
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


class SharedBooks(Books):
    """A tenant that serves another organisation's generated books (its shape) under its own identity.

    It shares the shape's records, ledger and lock (no copy: a thousand tenants cost one shape's memory), and has its
    own tenant id, name, short code, tier and /Organisation record, which is all that reports and lists take from
    the organisation itself. Mutations are refused: they would change every tenant of the shape.
    """

    @classmethod
    def of(cls, shape: Books, seed: int, index: int, tier: str, shared_by: int) -> SharedBooks:
        view = cls.__new__(cls)
        view.__dict__.update(shape.__dict__)
        view.tenant_id, view.name = _identity(seed, index)
        view.short_code = _short_code(_stream(seed, index))
        view.tier = tier
        view.shared_by = shared_by
        view.organisation = organisation(view, uuid_for(f"organisation:{seed}:{index}"))
        return view

    def mutate(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        raise QueryError(
            VALIDATION,
            f"{self.name} shares its generated books with {self.shared_by - 1} other tenant(s), so a mutation would "
            "change them all; start the sandbox without shared shapes (shapes=0) to mutate records",
        )


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


def build_world(seed: int, tenants: int, size: str, clock: Clock, starter: int = 0, shapes: int = 0) -> World:
    """`tenants` organisations for `seed`; the last `starter` of them are on Xero's Starter tier (lower day limit).

    `shapes=0` generates every organisation's own books. `shapes=N` (a multiple of the four countries) generates N
    and has organisation number i serve shape i mod N, which is of its own country, as read-only SharedBooks.
    """
    if shapes < 0 or shapes % len(COUNTRY_ORDER):
        countries = len(COUNTRY_ORDER)
        raise ValueError(f"shapes={shapes}: give 0 (no sharing) or a multiple of {countries} (one per country)")
    world = World(seed=seed, size=size)
    generated = [build_books(seed, index, size, clock) for index in range(min(shapes, tenants))]
    for index in range(tenants):
        tier = "starter" if index >= tenants - starter else "standard"
        if generated:
            shape = index % len(generated)
            shared_by = len(range(shape, tenants, len(generated)))
            books: Books = SharedBooks.of(generated[shape], seed, index, tier, shared_by)
        else:
            books = build_books(seed, index, size, clock, tier)
        world.tenants[books.tenant_id] = books
    return world
