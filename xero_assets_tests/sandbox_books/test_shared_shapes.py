"""A fleet's world: N generated books shared across many tenants, each with its own identity, none mutable."""

from __future__ import annotations

import pytest

from xero_assets import catalog
from xero_assets.sandbox.books import Query, QueryError, World, build_world
from xero_assets_tests.sandbox_books.conftest import FixedClock

TENANTS = 10


@pytest.fixture(scope="module")
def shared() -> World:
    return build_world(seed=7, tenants=TENANTS, size="small", clock=FixedClock(), shapes=4, starter=1)


@pytest.fixture(scope="module")
def unshared() -> World:
    return build_world(seed=7, tenants=TENANTS, size="small", clock=FixedClock(), starter=1)


def records(world: World, tenant_index: int, name: str) -> list[dict]:  # type: ignore[type-arg]
    books = list(world.tenants.values())[tenant_index]
    api = catalog.get(name)
    return books.list(api, api.endpoint, Query.from_params(dict(api.endpoint.params), None)).records  # type: ignore[return-value]


def test_each_tenant_keeps_the_identity_it_has_without_sharing(shared: World, unshared: World) -> None:
    def identity(world: World) -> list[tuple[str, ...]]:
        return [(b.tenant_id, b.name, b.short_code, b.country, b.tier) for b in world.tenants.values()]

    assert identity(shared) == identity(unshared)
    organisations = [records(shared, index, "organisation")[0] for index in range(TENANTS)]
    assert [o["Name"] for o in organisations] == [b.name for b in shared.tenants.values()]
    assert len({o["OrganisationID"] for o in organisations}) == TENANTS


def test_tenants_of_one_shape_serve_its_records_and_name_themselves_in_reports(shared: World) -> None:
    assert records(shared, 1, "invoices") == records(shared, 5, "invoices") != records(shared, 2, "invoices")
    tenants = list(shared.tenants.values())
    api = catalog.get("profit_and_loss")
    titles = [tenants[index].report(api, {}, None)["ReportTitles"] for index in (1, 5)]
    assert [t[1] for t in titles] == [tenants[1].name, tenants[5].name]


def test_a_shared_tenant_refuses_mutations_and_its_shape_stays_unchanged(shared: World) -> None:
    before = records(shared, 4, "invoices")
    books = next(iter(shared.tenants.values()))
    with pytest.raises(QueryError, match="shares its generated books with 2 other tenant"):
        books.mutate({"action": "create", "api": "invoices", "count": 1})
    assert records(shared, 4, "invoices") == before


def test_shapes_must_give_every_country_its_own() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        build_world(seed=7, tenants=10, size="small", clock=FixedClock(), shapes=6)
