"""Property: on any seed, country and size, every records API's list, its record-by-id answers and the ground truth
agree on ids, with and without each documented include flag.

A sync trusts exactly this: reading a list the way the catalog pages it (page/pageSize, page only, JournalNumber
offset, per employee) yields every record the organisation holds once, each of them can be fetched by its id, and
leaving out `includeArchived` / `includeDeleted` only hides what Xero hides (archived or deleted records). Small
organisations by default (cheap enough for every run); medium and large under `-m slow`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xero_assets import catalog
from xero_assets.catalog import PAGE_SIZE_MAX, Endpoint, Kind, Paging, XeroApi
from xero_assets.sandbox.books import Books, Query, build_books
from xero_assets_tests.sandbox_books.conftest import FixedClock

HIDDEN_STATUSES = frozenset({"ARCHIVED", "DELETED"})


def _page(books: Books, api: XeroApi, endpoint: Endpoint, params: dict[str, str]) -> list[dict[str, Any]]:
    return books.list(api, endpoint, Query.from_params(params)).records


def read_all(books: Books, api: XeroApi, endpoint: Endpoint, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every record of one list, read as the catalog says the endpoint pages."""
    if endpoint.paging is Paging.PER_EMPLOYEE:
        employees = books.payroll.employees
        return [
            r
            for e in employees
            for r in books.list(api, endpoint, Query.from_params({}, None, EmployeeID=e.id)).records
        ]
    if endpoint.paging is Paging.OFFSET:
        out, offset = [], 0
        while page := _page(books, api, endpoint, {**params, "offset": str(offset)}):
            out += page
            offset = page[-1]["JournalNumber"]
        return out
    if endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
        size = {"pageSize": str(PAGE_SIZE_MAX)} if endpoint.paging is Paging.PAGE_SIZE else {}
        out, number = [], 1
        while page := _page(books, api, endpoint, {**params, **size, "page": str(number)}):
            out += page
            number += 1
        return out
    return _page(books, api, endpoint, params)


def _status(record: dict[str, Any]) -> str | None:
    return record.get("ContactStatus") or record.get("Status")


def check_ids_agree(books: Books) -> None:
    truth = books.truth()["collections"]
    for api in catalog.SYNCABLE:
        endpoint = api.endpoint_for(books.country)
        if endpoint is None or api.kind is not Kind.RECORDS or endpoint.id_field is None:
            continue
        listed = [str(r[endpoint.id_field]) for r in read_all(books, api, endpoint, dict(endpoint.params))]
        assert len(listed) == len(set(listed)), f"{api.name}: a record listed twice"
        assert {i.lower() for i in listed} == {i.lower() for i in truth[api.name]}, api.name
        if endpoint.paging is not Paging.PER_EMPLOYEE:
            for record_id in listed:
                record = books.get(api, endpoint, record_id)
                assert record is not None and str(record[endpoint.id_field]) == record_id, (api.name, record_id)
        for flag in endpoint.params:  # the documented include flags a sync sends (includeArchived, includeDeleted)
            without = {k: v for k, v in endpoint.params.items() if k != flag}
            shown = {str(r[endpoint.id_field]) for r in read_all(books, api, endpoint, without)}
            assert shown <= set(listed), (api.name, flag)
            for record_id in set(listed) - shown:
                record = books.get(api, endpoint, record_id)
                assert record is not None and _status(record) in HIDDEN_STATUSES, (api.name, flag, record_id)


def _books(seed: int, index: int, size: str) -> Books:
    return build_books(seed, index, size, FixedClock(), "standard")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), index=st.integers(min_value=0, max_value=3))
def test_lists_single_records_and_truth_agree_on_ids_for_small_organisations(seed: int, index: int) -> None:
    check_ids_agree(_books(seed, index, "small"))


@pytest.mark.slow
@pytest.mark.parametrize("size", ["medium", "large"])
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), index=st.integers(min_value=0, max_value=3))
def test_lists_single_records_and_truth_agree_on_ids_for_larger_organisations(size: str, seed: int, index: int) -> None:
    check_ids_agree(_books(seed, index, size))
