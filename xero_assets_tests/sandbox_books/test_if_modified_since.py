"""If-Modified-Since exactly where Xero honours it (the catalog's `modified_since`), ignored everywhere else."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from xero_assets import catalog
from xero_assets.catalog import Kind, Paging, XeroApi
from xero_assets.sandbox.books import Books, Query, World
from xero_assets_tests.sandbox_books.conftest import by_country

RECORD_APIS = [
    (country, api)
    for country in ("AU", "NZ", "GB", "US")
    for api in catalog.SYNCABLE
    if api.kind is Kind.RECORDS and api.endpoint_for(country) is not None
    and api.endpoint_for(country).paging is not Paging.PER_EMPLOYEE  # type: ignore[union-attr]
]  # fmt: skip


def everything(books: Books, api: XeroApi, header: str | None) -> list[dict]:
    """Every record a sync reads with this header: pages walked to the end, journals by offset."""
    endpoint = api.endpoint_for(books.country)
    assert endpoint is not None
    if endpoint.paging is Paging.OFFSET:
        out, offset = [], 0
        while page := books.list(api, endpoint, Query.from_params({"offset": str(offset)}, header)).records:
            out += page
            offset = page[-1]["JournalNumber"]
        return out
    if endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
        out, number = [], 1
        while True:
            params = {**endpoint.params, "page": str(number), "pageSize": "1000"}
            page = books.list(api, endpoint, Query.from_params(params, header)).records
            out += page
            if len(page) < (1000 if endpoint.paging is Paging.PAGE_SIZE else 100):
                return out
            number += 1
    return books.list(api, endpoint, Query.from_params(dict(endpoint.params), header)).records


@pytest.mark.parametrize(("country", "api"), RECORD_APIS, ids=[f"{c}-{a.name}" for c, a in RECORD_APIS])
def test_if_modified_since_applies_exactly_where_the_catalog_says(
    small_world: World, country: str, api: XeroApi
) -> None:
    books = by_country(small_world, country)
    endpoint = api.endpoint_for(country)
    assert endpoint is not None and endpoint.id_field is not None
    truth = books.truth()["collections"][api.name]
    stamps = sorted(datetime.fromisoformat(s) for s in truth.values() if s is not None)
    cutoff = (stamps[len(stamps) // 2] if stamps else books.now() - timedelta(days=30)).replace(microsecond=0)
    header = cutoff.strftime("%Y-%m-%dT%H:%M:%S")
    got = {str(r[endpoint.id_field]) for r in everything(books, api, header)}
    if endpoint.modified_since:
        expected = {i for i, s in truth.items() if s is not None and datetime.fromisoformat(s) >= cutoff}
        assert got == expected
        assert len(got) < len(truth) or len(truth) <= 1
    else:
        assert got == set(truth), "Xero ignores If-Modified-Since here, so everything comes back"
