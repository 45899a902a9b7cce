"""Paging exactly as Xero pages: the nine page+pageSize endpoints, page-only Quotes/LinkedTransactions, Journals."""

from __future__ import annotations

import pytest

from xero_assets import catalog
from xero_assets.catalog import PAGE_ONLY_SIZE, Paging
from xero_assets.sandbox.books import Books, Query, World

PAGED = [api for api in catalog.SYNCABLE if api.endpoint.paging is Paging.PAGE_SIZE]


def page_through(books: Books, api: catalog.XeroApi, size: int) -> list[dict]:
    endpoint = api.endpoint
    out: list[dict] = []
    page = 1
    while True:
        params = {**endpoint.params, "page": str(page), "pageSize": str(size)}
        result = books.list(api, endpoint, Query.from_params(params))
        assert result.pagination is not None
        assert result.pagination["page"] == page and result.pagination["pageSize"] == size
        out += result.records
        if page >= result.pagination["pageCount"]:
            assert len(result.records) <= size
            return out
        assert len(result.records) == size
        page += 1


def test_there_are_exactly_nine_page_size_endpoints() -> None:
    assert len(PAGED) == 9


@pytest.mark.parametrize("size", [100, 1000])
@pytest.mark.parametrize("api", PAGED, ids=[api.name for api in PAGED])
def test_paging_returns_exactly_the_ground_truth(small_world: World, api: catalog.XeroApi, size: int) -> None:
    for books in small_world.tenants.values():
        records = page_through(books, api, size)
        ids = [r[api.endpoint.id_field] for r in records]
        assert len(ids) == len(set(ids)), "duplicates across pages"
        assert set(ids) == set(books.truth()["collections"][api.name]), "gaps or extras"


def test_paged_invoices_carry_line_items(small_world: World) -> None:
    books = next(iter(small_world.tenants.values()))
    api = catalog.get("invoices")
    page = books.list(api, api.endpoint, Query.from_params({"page": "1"}))
    assert page.pagination is not None and page.pagination["pageSize"] == 100
    assert all(r["LineItems"] for r in page.records)


def test_page_only_endpoints_serve_100_a_page_without_a_pagination_object(small_world: World) -> None:
    for name in ("quotes", "linked_transactions"):
        api = catalog.get(name)
        for books in small_world.tenants.values():
            total = len(books.truth()["collections"][name])
            seen: list[str] = []
            page = 1
            while True:
                result = books.list(api, api.endpoint, Query.from_params({"page": str(page)}))
                assert result.pagination is None
                seen += [r[api.endpoint.id_field] for r in result.records]
                if len(result.records) < PAGE_ONLY_SIZE:
                    break
                page += 1
            assert sorted(seen) == sorted(books.truth()["collections"][name]) and len(seen) == total


def test_journals_page_by_offset_oldest_first_100_at_most(small_world: World) -> None:
    api = catalog.get("journals")
    for books in small_world.tenants.values():
        offset, numbers = 0, []
        while True:
            records = books.list(api, api.endpoint, Query.from_params({"offset": str(offset)})).records
            assert len(records) <= 100
            if not records:
                break
            assert all(r["JournalNumber"] > offset for r in records)
            numbers += [r["JournalNumber"] for r in records]
            offset = records[-1]["JournalNumber"]
        assert numbers == list(range(1, len(books.ledger.journals) + 1))


def test_journals_if_modified_since_filters_on_created_date(small_world: World) -> None:
    api = catalog.get("journals")
    books = next(iter(small_world.tenants.values()))
    middle = books.ledger.journals[len(books.ledger.journals) // 2]
    header = middle.created.strftime("%Y-%m-%dT%H:%M:%S")
    records = books.list(api, api.endpoint, Query.from_params({}, header)).records
    assert records and records[0]["JournalNumber"] <= middle.number
    assert all(
        j.created.replace(microsecond=0) >= middle.created.replace(microsecond=0)
        for j in books.ledger.journals[records[0]["JournalNumber"] - 1 :]
    )
