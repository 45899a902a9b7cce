"""Property: on any seed, country and size, every collection's list, its record-by-id answers and the ground truth
agree on ids, with and without each boolean flag Xero's OpenAPI spec documents for that list.

A sync trusts exactly this: reading a list the way the catalog pages it (page/pageSize, page only, JournalNumber
offset, per employee) yields every record the organisation holds once, and each of them can be fetched by its id.
The flags are read from the spec's list operation (its boolean query parameters), so a flag the spec documents
cannot go untested; each has Xero's meaning (`FLAG_MEANING`): `includeArchived` / `includeDeleted` only add what a
default call hides (archived or deleted records), `summaryOnly` keeps the same records, `createdByMyApp` returns
only what this app created (nothing: the data APIs are read-only), `paymentsOnly` (cash-basis journals) is refused
with a 400, as the sandbox says it does not emulate cash basis. NZ/UK leave balances have no ids of their own: each
employee's list is checked against the truth's balances instead. Small organisations on many seeds by default;
medium and large under `-m slow`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xero_assets import catalog
from xero_assets.catalog import PAGE_SIZE_MAX, ApiBase, Endpoint, Kind, Paging, XeroApi
from xero_assets.sandbox.books import Books, Query, QueryError, build_books
from xero_assets_tests.sandbox_books.conftest import FixedClock
from xero_assets_tests.sandbox_books.schemas import load, spec_for

HIDDEN_STATUSES = frozenset({"ARCHIVED", "DELETED"})
SHOWS_HIDDEN, SAME_RECORDS, ONLY_MINE, REFUSED = "shows hidden", "same records", "only this app's", "refused"
FLAG_MEANING = {"includeArchived": SHOWS_HIDDEN, "includeDeleted": SHOWS_HIDDEN, "summaryOnly": SAME_RECORDS,
                "createdByMyApp": ONLY_MINE, "paymentsOnly": REFUSED}  # fmt: skip


def documented_flags(endpoint: Endpoint, country: str) -> list[str]:
    """The boolean query parameters of the list GET in Xero's OpenAPI spec for this endpoint."""
    spec = load(spec_for(endpoint, country))
    out = []
    for param in spec["paths"][endpoint.path]["get"].get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].split("/")[-1]]
        if param.get("in") == "query" and param.get("schema", {}).get("type") == "boolean":
            out.append(param["name"])
    return out


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
    truth = books.truth()
    for api in catalog.SYNCABLE:
        endpoint = api.endpoint_for(books.country)
        if endpoint is None or api.kind is not Kind.RECORDS:  # reports; the invoice reminder settings object
            continue
        if endpoint.id_field is None:
            assert api.name == "payroll_leave_balances", f"{api.name} has no ids: say how the property checks it"
            check_balances(books, api, endpoint, truth["leave_balances"])
            continue
        listed = [str(r[endpoint.id_field]) for r in read_all(books, api, endpoint, dict(endpoint.params))]
        assert len(listed) == len(set(listed)), f"{api.name}: a record listed twice"
        assert {i.lower() for i in listed} == {i.lower() for i in truth["collections"][api.name]}, api.name
        for record_id in listed:
            record = books.get(api, endpoint, record_id)
            assert record is not None and str(record[endpoint.id_field]) == record_id, (api.name, record_id)
        for flag in documented_flags(endpoint, books.country):
            check_flag(books, api, endpoint, flag, set(listed))


def check_flag(books: Books, api: XeroApi, endpoint: Endpoint, flag: str, listed: set[str]) -> None:
    """The list read with `flag` true, false and absent (the sync's other parameters kept) against `listed`."""
    meaning = FLAG_MEANING.get(flag)
    assert meaning is not None, f"{api.name}: the spec documents {flag}; say what it means in FLAG_MEANING"
    others = {k: v for k, v in endpoint.params.items() if k != flag}
    id_field = str(endpoint.id_field)

    def ids(params: dict[str, str]) -> set[str]:
        return {str(r[id_field]) for r in read_all(books, api, endpoint, params)}

    if meaning is REFUSED:
        with pytest.raises(QueryError):
            ids({**others, flag: "true"})
        assert ids({**others, flag: "false"}) == listed, (api.name, flag)
        return
    shown, off = ids({**others, flag: "true"}), ids({**others, flag: "false"})
    assert off == ids(others), (api.name, flag, "false is the default")
    if meaning is SHOWS_HIDDEN:
        assert shown == listed and off <= listed, (api.name, flag)
        for record_id in listed - off:
            record = books.get(api, endpoint, record_id)
            assert record is not None and _status(record) in HIDDEN_STATUSES, (api.name, flag, record_id)
    elif meaning is SAME_RECORDS:
        assert shown == off == listed, (api.name, flag)
    else:
        assert shown == set() and off == listed, (api.name, flag)


def check_balances(books: Books, api: XeroApi, endpoint: Endpoint, truth: dict[str, list[dict[str, str]]]) -> None:
    """Per employee, the served balances are the truth's: one per leave type, none for anyone else."""
    assert endpoint.base is ApiBase.PAYROLL_V2 and set(truth) == {e.id for e in books.payroll.employees}
    for employee_id, expected in truth.items():
        served = books.list(api, endpoint, Query(employee_id=employee_id)).records
        assert [(b["leaveTypeID"], str(b["balance"])) for b in served] == [
            (t["leave_type_id"], str(float(t["balance"]))) for t in expected
        ], employee_id


def _books(seed: int, index: int, size: str) -> Books:
    return build_books(seed, index, size, FixedClock(), "standard")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), index=st.integers(min_value=0, max_value=3))
def test_lists_single_records_and_truth_agree_on_ids_for_small_organisations(seed: int, index: int) -> None:
    check_ids_agree(_books(seed, index, "small"))


@pytest.mark.slow
@pytest.mark.parametrize("size", ["medium", "large"])
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), index=st.integers(min_value=0, max_value=3))
def test_lists_single_records_and_truth_agree_on_ids_for_larger_organisations(size: str, seed: int, index: int) -> None:
    check_ids_agree(_books(seed, index, size))


def test_every_documented_flag_of_every_collection_has_a_meaning() -> None:
    """The spec's flags the property reads, per country: none unexplained, and the ones a sync relies on present."""
    found = {
        (api.name, flag)
        for api in catalog.SYNCABLE
        for country in ("AU", "NZ", "GB", "US")
        if (endpoint := api.endpoint_for(country)) is not None and api.kind is Kind.RECORDS
        for flag in documented_flags(endpoint, country)
    }
    assert {flag for _, flag in found} <= set(FLAG_MEANING)
    assert {("contacts", "includeArchived"), ("contacts", "summaryOnly"), ("invoices", "summaryOnly"),
            ("invoices", "createdByMyApp"), ("bank_transfers", "includeDeleted"), ("journals", "paymentsOnly"),
            ("tracking_categories", "includeArchived")} <= found  # fmt: skip
