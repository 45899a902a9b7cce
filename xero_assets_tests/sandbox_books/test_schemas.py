"""Every GET a sync makes, on a medium organisation of each country, matches Xero's OpenAPI response schema.

Walks the whole catalog: each records API unpaged and paged (or by offset, or per employee), one record by id, the
settings singleton, every report (both aged reports with a contactId, the published GST/BAS list and one return) and
the country's payroll. Unpaged lists of thousands of records are validated on a sample of every distinct
Type/Status shape by default and in full under `-m slow`.
"""

from __future__ import annotations

from typing import Any

import pytest

from xero_assets import catalog
from xero_assets.catalog import ApiBase, Kind, Paging, XeroApi
from xero_assets.sandbox.books import Books, Query, World
from xero_assets_tests.sandbox_books.conftest import by_country
from xero_assets_tests.sandbox_books.schemas import envelope, single_path, spec_for, validator

COUNTRIES = ("AU", "NZ", "GB", "US")
CASES = [(country, api) for country in COUNTRIES for api in catalog.SYNCABLE if api.endpoint_for(country) is not None]
SAMPLE = 300


def sample(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first SAMPLE records plus one of every (Type, Status) shape further on."""
    out, shapes = records[:SAMPLE], set()
    for record in records:
        shape = (record.get("Type"), record.get("Status"), record.get("ContactStatus"))
        if shape not in shapes:
            shapes.add(shape)
            out.append(record)
    return out


def responses(books: Books, api: XeroApi, full: bool) -> list[tuple[str, dict[str, Any]]]:
    """(spec path, response document) for every GET a sync of `api` makes on this organisation."""
    endpoint = api.endpoint_for(books.country)
    assert endpoint is not None
    spec = spec_for(endpoint, books.country)
    key = endpoint.json_key
    out: list[tuple[str, dict[str, Any]]] = []
    if api.kind is Kind.REPORT:
        params: dict[str, str] = {}
        if api.name.startswith("aged_"):
            receivable = api.name == "aged_receivables_by_contact"
            params["contactId"] = next(
                c.id for c in books.collections["contacts"]
                if any(d.type == ("ACCREC" if receivable else "ACCPAY") and d.outstanding() for d in c.docs)
            )  # fmt: skip
        result = books.report(api, params, None)
        if api.name == "tax_reports":
            out.append((endpoint.path, envelope(endpoint, "Reports", result)))
            one = books.report(api, {}, result[0]["ReportID"])
            out.append(("/Reports/{ReportID}", envelope(endpoint, "Reports", [one])))
        else:
            out.append((endpoint.path, envelope(endpoint, "Reports", [result])))
        return out
    if endpoint.paging is Paging.PER_EMPLOYEE:
        employees = books.payroll.employees
        for employee in list(employees)[:3]:
            page = books.list(api, endpoint, Query.from_params({}, None, EmployeeID=employee.id))
            out.append((endpoint.path, envelope(endpoint, key, page.records, page.pagination)))
        return out
    unpaged = books.list(api, endpoint, Query.from_params(dict(endpoint.params)))
    records = unpaged.records if full or endpoint.paging is Paging.OFFSET else sample(unpaged.records)
    out.append((endpoint.path, envelope(endpoint, key, records, unpaged.pagination)))
    if endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
        page = books.list(api, endpoint, Query.from_params({**endpoint.params, "page": "1", "pageSize": "100"}))
        out.append((endpoint.path, envelope(endpoint, key, page.records, page.pagination)))
    single = single_path(spec, endpoint.path)
    if single is not None and endpoint.id_field and unpaged.records:
        record_id = str(unpaged.records[0][endpoint.id_field])
        record = books.get(api, endpoint, record_id)
        assert record is not None, f"{api.name} {record_id} listed but not found by id"
        if endpoint.base is ApiBase.PAYROLL_V2:
            out.append((single, envelope(endpoint, "employee", record)))
        else:
            out.append((single, envelope(endpoint, key, [record])))
    return out


def check(world: World, country: str, api: XeroApi, full: bool) -> None:
    books = by_country(world, country)
    endpoint = api.endpoint_for(country)
    assert endpoint is not None
    found = responses(books, api, full)
    assert found, f"no GET walked for {api.name}"
    for path, document in found:
        validator(spec_for(endpoint, country), path)(document)


@pytest.mark.parametrize(("country", "api"), CASES, ids=[f"{c}-{a.name}" for c, a in CASES])
def test_every_get_matches_the_openapi_response_schema(medium_world: World, country: str, api: XeroApi) -> None:
    check(medium_world, country, api, full=False)


@pytest.mark.slow
@pytest.mark.parametrize(("country", "api"), CASES, ids=[f"{c}-{a.name}" for c, a in CASES])
def test_every_record_of_every_unpaged_list_matches_the_schema(medium_world: World, country: str, api: XeroApi) -> None:
    check(medium_world, country, api, full=True)


def test_no_catalog_api_is_left_unwalked() -> None:
    walked = {api.name for _, api in CASES}
    assert walked == {api.name for api in catalog.SYNCABLE}
    assert {c for c, api in CASES if api.name == "payroll_leave"} == {"AU", "NZ", "GB"}
    assert {c for c, api in CASES if api.name == "payroll_leave_balances"} == {"AU", "NZ", "GB"}


@pytest.mark.parametrize("country", ["AU", "NZ", "GB"])
def test_leave_balances_validate_with_a_balance_per_leave_type(medium_world: World, country: str) -> None:
    """The balances walk is not vacuous: each validated response carries every leave type's balance."""
    books = by_country(medium_world, country)
    api = catalog.get("payroll_leave_balances")
    found = responses(books, api, full=False)
    assert len(found) == 3
    for path, document in found:
        validator(spec_for(api.endpoint_for(country), country), path)(document)  # type: ignore[arg-type]
        balances = document["Employees"][0]["LeaveBalances"] if country == "AU" else document["leaveBalances"]
        assert len(balances) == 3 and all(isinstance(b.get("NumberOfUnits", b.get("balance")), float) for b in balances)
