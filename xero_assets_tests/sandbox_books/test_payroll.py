"""Payroll lives in a different API per country: AU payroll.xro/1.0, NZ and GB payroll.xro/2.0, none for US; leave
balances are what each employee accrued less the leave their applications show taken."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from xero_assets import catalog
from xero_assets.catalog import ApiBase
from xero_assets.sandbox.books import Query, QueryError, World
from xero_assets.sandbox.books.payroll import ACCRUAL_DAYS_PER_YEAR
from xero_assets.xero.dates import parse
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


def _served_leave(books, country: str, employee_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    leave = catalog.get("payroll_leave")
    endpoint = leave.endpoint_for(country)
    if country == "AU":
        return [a for a in books.list(leave, endpoint, Query()).records if a["EmployeeID"] == employee_id]
    return books.list(leave, endpoint, Query(employee_id=employee_id)).records


def _taken(applications: list[dict]) -> dict[str, Decimal]:
    """Units of leave already paid per leave type, as the leave applications state them."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for application in applications:
        for period in application.get("LeavePeriods") or application.get("periods") or []:
            if (period.get("LeavePeriodStatus") or period.get("periodStatus")) in ("PROCESSED", "Completed"):
                units = period.get("NumberOfUnits", period.get("numberOfUnits"))
                out[application.get("LeaveTypeID") or application["leaveTypeID"]] += Decimal(str(units))
    return out


@pytest.mark.parametrize("country", ["AU", "NZ", "GB"])
def test_leave_balances_are_what_was_accrued_less_the_leave_applications_taken(
    small_world: World, country: str
) -> None:
    """Checked from the served records alone: start and end dates, leave applications and balances."""
    books = by_country(small_world, country)
    api = catalog.get("payroll_leave_balances")
    endpoint = api.endpoint_for(country)
    assert endpoint is not None
    as_of, per_day, units = books.payroll.as_of, (8 if country == "AU" else 1), ("Hours" if country == "AU" else "Days")
    some_taken = 0
    for employee in books.payroll.employees:
        served = books.list(api, endpoint, Query(employee_id=employee.id)).records
        if country == "AU":
            (record,) = served
            start, end = parse(record["StartDate"]), parse(record.get("TerminationDate") or "")
            balances = [
                (b["LeaveTypeID"], b["LeaveName"], b["NumberOfUnits"], b["TypeOfUnits"])
                for b in record["LeaveBalances"]
            ]
        else:
            detail = books.get(
                catalog.get("payroll_employees"), catalog.get("payroll_employees").endpoint_for(country), employee.id
            )
            start, end = parse(detail["startDate"]), parse(detail.get("endDate") or "")
            balances = [(b["leaveTypeID"], b["name"], b["balance"], b["typeOfUnits"]) for b in served]
        served_days = ((min(end.date(), as_of) if end else as_of) - start.date()).days
        taken = _taken(_served_leave(books, country, employee.id))
        some_taken += sum(1 for value in taken.values() if value)
        assert {name for _, name, _, _ in balances} == set(ACCRUAL_DAYS_PER_YEAR)
        for type_id, name, balance, unit in balances:
            accrued = (Decimal(ACCRUAL_DAYS_PER_YEAR[name] * per_day * served_days) / 365).quantize(Decimal("0.0001"))
            assert (Decimal(str(balance)), unit) == (accrued - taken[type_id], units), (employee.id, name)
        truth = books.truth()["leave_balances"][employee.id]
        assert [(t["leave_type_id"], Decimal(t["balance"])) for t in truth] == [
            (t, Decimal(str(b))) for t, _, b, _ in balances
        ]
    assert some_taken >= 3  # a real test: leave was taken, so balance and accrual differ


def test_leave_balances_for_an_unknown_employee_are_an_error(small_world: World) -> None:
    books = by_country(small_world, "GB")
    api = catalog.get("payroll_leave_balances")
    with pytest.raises(QueryError):
        books.list(api, api.endpoint_for("GB"), Query(employee_id="00000000-0000-0000-0000-000000000000"))  # type: ignore[arg-type]
