"""The contract the sandbox server codes against: build_world, Books.list/get, Query.from_params, QueryError."""

from __future__ import annotations

from datetime import timedelta

import pytest

from xero_assets import catalog
from xero_assets.catalog import Paging
from xero_assets.sandbox.books import Query, QueryError, World, build_world
from xero_assets_tests.sandbox_books.conftest import START, FixedClock


def test_tenants_are_spread_round_robin_over_au_nz_gb_us(small_world: World) -> None:
    assert [b.country for b in small_world.tenants.values()] == ["AU", "NZ", "GB", "US"]
    assert all(b.tier == "standard" and b.size == "small" for b in small_world.tenants.values())


def test_the_same_seed_builds_the_same_world() -> None:
    first = build_world(seed=3, tenants=2, size="small", clock=FixedClock())
    second = build_world(seed=3, tenants=2, size="small", clock=FixedClock())
    assert list(first.tenants) == list(second.tenants)
    for a, b in zip(first.tenants.values(), second.tenants.values(), strict=True):
        assert a.truth() == b.truth()


def test_organisation_names_its_country_currency_and_short_code(small_world: World) -> None:
    api = catalog.get("organisation")
    for books in small_world.tenants.values():
        (org,) = books.list(api, api.endpoint, Query()).records
        assert org["CountryCode"] == books.country
        assert org["ShortCode"] == books.short_code
        assert org["BaseCurrency"] == books.profile.currency


def test_single_record_get_carries_line_items_and_unknown_ids_are_none(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    api = catalog.get("invoices")
    summary = books.list(api, api.endpoint, Query()).records[0]
    assert "LineItems" not in summary
    full = books.get(api, api.endpoint, summary["InvoiceID"])
    assert full is not None and full["LineItems"]
    assert books.get(api, api.endpoint, "00000000-0000-0000-0000-000000000000") is None


def test_query_from_params_parses_paging_filters_and_if_modified_since() -> None:
    query = Query.from_params(
        {"page": "2", "pageSize": "5000", "IDs": "a,b", "Statuses": "authorised", "includeArchived": "true"},
        "2026-01-02T03:04:05",
        EmployeeID="e1",
    )
    assert (query.page, query.page_size, query.ids, query.statuses) == (2, 1000, ["a", "b"], ["AUTHORISED"])
    assert query.include_archived and query.employee_id == "e1"
    assert query.if_modified_since is not None and query.if_modified_since.isoformat() == "2026-01-02T03:04:05+00:00"


@pytest.mark.parametrize("params", [{"page": "0"}, {"pageSize": "x"}, {"offset": "ten"}])
def test_bad_paging_parameters_are_validation_exceptions(params: dict[str, str]) -> None:
    with pytest.raises(QueryError) as caught:
        Query.from_params(params)
    assert caught.value.type == "ValidationException"


def test_a_malformed_where_is_a_query_parse_exception(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    api = catalog.get("invoices")
    with pytest.raises(QueryError) as caught:
        books.list(api, api.endpoint, Query.from_params({"where": 'Status=="AUTHORISED" &&'}))
    assert caught.value.type == "QueryParseException"


def test_unpaged_calls_to_paged_endpoints_return_every_record_without_line_items(small_world: World) -> None:
    for books in small_world.tenants.values():
        for api in catalog.SYNCABLE:
            endpoint = api.endpoint_for(books.country)
            if endpoint is None or endpoint.paging is not Paging.PAGE_SIZE:
                continue
            page = books.list(api, endpoint, Query.from_params(dict(endpoint.params)))
            assert page.pagination is None
            assert len(page.records) == len(books.truth()["collections"][api.name])
            assert not any(r.get("LineItems") for r in page.records), api.name


def test_if_modified_since_returns_only_records_updated_at_or_after_it(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    api = catalog.get("invoices")
    truth = books.truth()["collections"]["invoices"]
    cutoff = books.now() - timedelta(days=45)
    expected = {i for i, stamp in truth.items() if stamp is not None and stamp >= cutoff.isoformat()[:19]}
    query = Query.from_params({"includeArchived": "true"}, cutoff.strftime("%Y-%m-%dT%H:%M:%S"))
    got = {r["InvoiceID"] for r in books.list(api, api.endpoint, query).records}
    assert got == expected and 0 < len(got) < len(truth)


def test_if_modified_since_is_ignored_where_xero_ignores_it(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    api = catalog.get("repeating_invoices")
    everything = books.list(api, api.endpoint, Query())
    future = books.list(api, api.endpoint, Query.from_params({}, "2100-01-01T00:00:00"))
    assert len(future.records) == len(everything.records) > 0


def test_worlds_built_at_different_times_of_the_same_day_hold_the_same_records() -> None:
    morning = build_world(seed=3, tenants=1, size="small", clock=FixedClock(START.replace(hour=6)))
    evening = build_world(seed=3, tenants=1, size="small", clock=FixedClock(START.replace(hour=22)))
    (early,), (late,) = morning.tenants.values(), evening.tenants.values()
    for name in ("invoices", "payments", "contacts", "journals"):
        assert set(early.truth()["collections"][name]) == set(late.truth()["collections"][name])


def test_cash_basis_is_refused_rather_than_answered_with_accrual_numbers(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    with pytest.raises(QueryError, match="paymentsOnly"):
        books.report(catalog.get("profit_and_loss"), {"paymentsOnly": "true"}, None)
    journals = catalog.get("journals")
    with pytest.raises(QueryError, match="paymentsOnly"):
        books.list(journals, journals.endpoint, Query.from_params({"paymentsOnly": "true"}))
    assert books.report(catalog.get("trial_balance"), {"paymentsOnly": "false"}, None)["Rows"]
