"""Payroll lives in a different API per country: AU payroll.xro/1.0, NZ and GB payroll.xro/2.0, none for US."""

from __future__ import annotations

import pytest

from xero_assets import catalog
from xero_assets.catalog import ApiBase
from xero_assets.sandbox.books import Query, QueryError, World
from xero_assets_tests.sandbox_books.conftest import by_country


def test_au_serves_employees_and_leave_applications_pascal_case_with_if_modified_since(small_world: World) -> None:
    books = by_country(small_world, "AU")
    employees, leave = catalog.get("payroll_employees"), catalog.get("payroll_leave")
    assert employees.endpoint_for("AU").base is ApiBase.PAYROLL_AU  # type: ignore[union-attr]
    staff = books.list(employees, employees.endpoint, Query.from_params({"page": "1"})).records
    assert staff and all(e["EmployeeID"] and e["UpdatedDateUTC"].startswith("/Date(") for e in staff)
    applications = books.list(leave, leave.endpoint, Query()).records
    assert {a["EmployeeID"] for a in applications} <= {e["EmployeeID"] for e in staff}
    latest = max(books.payroll.leave, key=lambda r: r.updated)
    cutoff = latest.updated.replace(microsecond=0)
    recent = books.list(leave, leave.endpoint, Query.from_params({}, cutoff.strftime("%Y-%m-%dT%H:%M:%S")))
    expected = {r.id for r in books.payroll.leave if r.updated >= cutoff}
    assert {r["LeaveApplicationID"] for r in recent.records} == expected and len(expected) < len(applications)


def test_single_au_employee_carries_the_detail_a_list_leaves_out(small_world: World) -> None:
    books = by_country(small_world, "AU")
    api = catalog.get("payroll_employees")
    listed = books.list(api, api.endpoint, Query()).records[0]
    single = books.get(api, api.endpoint, listed["EmployeeID"])
    assert "HomeAddress" not in listed and single is not None and single["HomeAddress"]["AddressLine1"]


@pytest.mark.parametrize("country", ["NZ", "GB"])
def test_nz_and_gb_serve_camel_case_employees_and_leave_per_employee(small_world: World, country: str) -> None:
    books = by_country(small_world, country)
    employees = catalog.get("payroll_employees").endpoint_for(country)
    leave = catalog.get("payroll_leave").endpoint_for(country)
    assert employees is not None and leave is not None and leave.base is ApiBase.PAYROLL_V2
    page = books.list(catalog.get("payroll_employees"), employees, Query.from_params({"page": "1"}))
    assert page.pagination is not None and page.pagination["itemCount"] == len(page.records)
    seen = set()
    for employee in page.records:
        assert employee["updatedDateUTC"].endswith("Z") and "employeeID" in employee
        result = books.list(
            catalog.get("payroll_leave"), leave, Query.from_params({}, None, EmployeeID=employee["employeeID"])
        )
        seen |= {r["leaveID"] for r in result.records}
    assert seen == set(books.truth()["collections"]["payroll_leave"])


def test_per_employee_leave_for_an_unknown_employee_is_an_error(small_world: World) -> None:
    books = by_country(small_world, "NZ")
    leave = catalog.get("payroll_leave")
    with pytest.raises(QueryError):
        books.list(leave, leave.endpoint_for("NZ"), Query(employee_id="00000000-0000-0000-0000-000000000000"))  # type: ignore[arg-type]


def test_us_organisations_have_no_payroll_api(small_world: World) -> None:
    books = by_country(small_world, "US")
    assert catalog.get("payroll_employees").endpoint_for("US") is None
    assert books.payroll is None and "payroll_employees" not in books.truth()["collections"]


def test_nz_employees_filter_by_first_and_last_name(small_world: World) -> None:
    books = by_country(small_world, "NZ")
    api = catalog.get("payroll_employees")
    endpoint = api.endpoint_for("NZ")
    assert endpoint is not None
    someone = books.list(api, endpoint, Query()).records[0]
    wanted = f"firstName=={someone['firstName'].upper()},lastName=={someone['lastName']}"
    found = books.list(api, endpoint, Query.from_params({"filter": wanted})).records
    assert someone["employeeID"] in {e["employeeID"] for e in found}
    assert all(e["firstName"] == someone["firstName"] and e["lastName"] == someone["lastName"] for e in found)
