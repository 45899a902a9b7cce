"""Payroll employees, leave and leave balances, in the API each country has.

AU organisations use payroll.xro/1.0 (PascalCase, MS dates, If-Modified-Since, /LeaveApplications for everyone, and
`LeaveBalances` only on the single employee, GET /Employees/{EmployeeID}); NZ and GB use payroll.xro/2.0 (camelCase,
ISO dates, no If-Modified-Since, leave and balances only per employee at /Employees/{EmployeeID}/Leave and
/Employees/{EmployeeID}/LeaveBalances), as Xero's payroll OpenAPI specs (xero-payroll-au.yaml, xero-payroll-nz.yaml,
xero-payroll-uk.yaml) describe them. US organisations have no Xero payroll API. Payroll does not post to the ledger
here: wages reach the books as bank transactions, as they do for an MSP paying through another system.

Balances are derived from the leave served, never stored beside it: each employee accrues every leave type daily
over their service up to the books' as-at date (`ACCRUAL_DAYS_PER_YEAR`; Xero accrues on each pay run, which a
daily accrual approximates), less every leave period already taken (AU `PROCESSED`, payroll 2.0 `Completed`), so a
balance always equals accrued minus the leave applications show as taken. AU states leave in hours (8 a day, as its
leave applications count them), payroll 2.0 in days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from xero_assets.catalog import PAGE_ONLY_SIZE, ApiBase, Endpoint, Paging, XeroApi
from xero_assets.sandbox.books.collections import plain_renderer
from xero_assets.sandbox.books.ids import stamp
from xero_assets.sandbox.books.model import Plain
from xero_assets.sandbox.books.query import VALIDATION, Page, Query, QueryError
from xero_assets.sandbox.books.render import ms_date
from xero_assets.sandbox.books.store import Collection

if TYPE_CHECKING:
    from xero_assets.sandbox.books.generate import Generator

_TITLES = ("Service Desk Analyst", "Systems Engineer", "Network Engineer", "Account Manager", "Project Manager",
           "Cloud Architect", "Technician", "Operations Manager")  # fmt: skip
_AU_STATES = ("NSW", "VIC", "QLD", "WA", "SA", "ACT")
# Days of each leave type an employee accrues per year of service (AU: annual and personal leave as the National
# Employment Standards give them; NZ and UK grant about as much).
ACCRUAL_DAYS_PER_YEAR = {"Annual Leave": 20, "Sick Leave": 10, "Personal Leave": 5}
AU_HOURS_PER_DAY = 8  # AU leave applications state NumberOfUnits in hours of an 8-hour day
_TAKEN = frozenset({"PROCESSED", "Completed"})  # a period paid in a pay run (AU, payroll 2.0)
_PLACES = Decimal("0.0001")  # Xero states balances to four places


def iso_stamp(moment: datetime) -> str:
    """payroll.xro/2.0 timestamps: ISO 8601 in UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class PayrollBooks:
    """Employees and their leave for one organisation, served as the country's payroll API serves them."""

    def __init__(self, version: str) -> None:
        self.version = version  # "AU" or "V2"
        if version == "AU":
            self.employees: Collection[Plain] = Collection("payroll_employees", plain_renderer("UpdatedDateUTC"))
        else:
            self.employees = Collection("payroll_employees", _v2_renderer)
        self.leave: Collection[Plain] = Collection(
            "payroll_leave", plain_renderer("UpdatedDateUTC") if version == "AU" else _v2_renderer
        )
        self.leave_types: dict[str, str] = {}  # leave type id -> name
        self.service: dict[str, tuple[date, date | None]] = {}  # employee id -> (start, termination)
        self.as_of = date.min  # the day balances are accrued to (the books' today when generated)

    def _collection(self, api: XeroApi) -> Collection[Plain]:
        return self.leave if api.name == "payroll_leave" else self.employees

    def list(self, api: XeroApi, endpoint: Endpoint, query: Query) -> Page:
        collection = self._collection(api)
        if api.name == "payroll_leave_balances":
            return self._balances_page(api, endpoint, query)
        if endpoint.paging is Paging.PER_EMPLOYEE:
            return self._leave_for(query)
        if endpoint.base is ApiBase.PAYROLL_V2 and query.param("filter"):
            return self._filtered_v2(collection, query)
        page = collection.list(endpoint, query)
        if endpoint.base is ApiBase.PAYROLL_V2 and page.pagination is None and query.page is not None:
            return Page(page.records, _v2_pagination(collection.select(endpoint, query), query.page))
        return page

    def _filtered_v2(self, collection: Collection[Plain], query: Query) -> Page:
        """payroll.xro/2.0's `filter=firstName==John,lastName==Smith` (exact, case-insensitive, all must match)."""
        wanted: dict[str, str] = {}
        for part in (query.param("filter") or "").split(","):
            name, sep, value = part.partition("==")
            if not sep or not name.strip():
                raise QueryError(VALIDATION, f"filter must look like firstName==John (got {part!r})")
            wanted[name.strip()] = value.strip().lower()
        records = [r for r in collection if all(str(r.data.get(k, "")).lower() == v for k, v in wanted.items())]
        page = query.page or 1
        chosen = records[(page - 1) * PAGE_ONLY_SIZE : page * PAGE_ONLY_SIZE]
        return Page([collection.render(r, True) for r in chosen], _v2_pagination(records, page))

    def _employee(self, query: Query) -> str:
        employee_id = (query.employee_id or "").lower()
        if not employee_id or self.employees.find(employee_id) is None:
            raise QueryError(VALIDATION, f"Employee {query.employee_id!r} was not found")
        return employee_id

    def _leave_for(self, query: Query) -> Page:
        employee_id = self._employee(query)
        records = [r for r in self.leave if (r.owner or "").lower() == employee_id]
        return Page([self.leave.render(r, True) for r in records], _v2_pagination(records, 1, size=len(records)))

    def _balances_page(self, api: XeroApi, endpoint: Endpoint, query: Query) -> Page:
        """AU: the employee record with its LeaveBalances (GET /Employees/{EmployeeID}); payroll 2.0: the list."""
        employee_id = self._employee(query)
        if self.version == "AU":
            return Page([self.get(api, endpoint, employee_id) or {}])
        rows = self.balances(employee_id)
        return Page([_v2_balance(*row) for row in rows], _v2_pagination(rows, 1))

    def get(self, api: XeroApi, endpoint: Endpoint, record_id: str) -> dict[str, Any] | None:
        collection = self._collection(api)
        record = collection.find(record_id)
        if record is None:
            return None
        out = collection.render(record, True)
        if record.detail:
            out.update(record.detail)
            if self.version == "AU":
                out["LeaveBalances"] = [_au_balance(*row) for row in self.balances(record.id)]
        return out

    def balances(self, employee_id: str) -> list[tuple[str, str, Decimal, str]]:
        """(leave type id, name, balance, units) per leave type: accrued to `as_of` less the leave taken."""
        start, end = self.service[employee_id]
        served = max(0, ((min(end, self.as_of) if end else self.as_of) - start).days)
        per_day = AU_HOURS_PER_DAY if self.version == "AU" else 1
        taken = dict.fromkeys(self.leave_types, Decimal(0))
        for record in self.leave:
            if record.owner == employee_id:
                leave_type = record.data.get("LeaveTypeID") or record.data["leaveTypeID"]
                periods = record.data.get("LeavePeriods") or record.data.get("periods") or []
                taken[leave_type] += sum(
                    (Decimal(str(p.get("NumberOfUnits", p.get("numberOfUnits")))) for p in periods
                     if (p.get("LeavePeriodStatus") or p.get("periodStatus")) in _TAKEN),
                    Decimal(0),
                )  # fmt: skip
        units = "Hours" if self.version == "AU" else "Days"
        out = []
        for type_id, name in self.leave_types.items():
            accrued = (Decimal(ACCRUAL_DAYS_PER_YEAR[name] * per_day * served) / 365).quantize(_PLACES, ROUND_HALF_UP)
            out.append((type_id, name, accrued - taken[type_id], units))
        return out

    def truth(self, api: XeroApi, endpoint: Endpoint) -> dict[str, str | None]:
        from xero_assets.sandbox.books.truth import iso

        collection = self._collection(api)
        if api.name == "payroll_leave_balances":  # one stored record per employee; payroll 2.0's has no timestamp
            return {r.id: iso(r.updated) if self.version == "AU" else None for r in collection}
        records = collection if endpoint.paging is Paging.PER_EMPLOYEE else collection.select(endpoint, Query())
        return {r.id: iso(r.updated) for r in records}

    def balance_truth(self) -> dict[str, list[dict[str, str]]]:
        """{employee id: [{leave_type_id, leave_name, balance, units}]}: what a synced balance must equal."""
        keys = ("leave_type_id", "leave_name", "balance", "units")
        return {r.id: [dict(zip(keys, map(str, b), strict=True)) for b in self.balances(r.id)] for r in self.employees}


def _au_balance(type_id: str, name: str, balance: Decimal, units: str) -> dict[str, Any]:
    return {"LeaveName": name, "LeaveTypeID": type_id, "NumberOfUnits": float(balance), "TypeOfUnits": units}


def _v2_balance(type_id: str, name: str, balance: Decimal, units: str) -> dict[str, Any]:
    return {"name": name, "leaveTypeID": type_id, "balance": float(balance), "typeOfUnits": units}


def _v2_pagination(records: list[Any], page: int, size: int = PAGE_ONLY_SIZE) -> dict[str, int]:
    size = max(size, 1)
    return {"page": page, "pageSize": size, "pageCount": -(-len(records) // size), "itemCount": len(records)}


def _v2_renderer(record: Plain, full: bool) -> dict[str, Any]:
    out = dict(record.data)
    if record.updated is not None:
        out["updatedDateUTC"] = iso_stamp(record.updated)
    return out


def generate_payroll(gen: Generator) -> None:
    """Staff with start dates across the books' history and a few leave requests each."""
    version = gen.profile.payroll
    if version is None:
        return
    books, rng = gen.books, gen.rng
    payroll = PayrollBooks(version)
    calendar_id, earnings_id = gen.ids(), gen.ids()
    leave_types = {"Annual Leave": gen.ids(), "Sick Leave": gen.ids(), "Personal Leave": gen.ids()}
    employees: list[Plain] = []
    leave: list[Plain] = []
    for n in range(gen.spec.employees):
        first, last = (
            rng.choice(("Aria", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo")),
            rng.choice(("Ng", "Patel", "Kaur", "Smith", "Brown", "Tane", "Walsh", "Reid", "Okafor", "Chen")),
        )
        start = gen.start - timedelta(days=rng.randrange(0, 900)) if n < gen.spec.employees // 2 else (
            gen.start + timedelta(days=rng.randrange(0, max(1, (gen.today - gen.start).days - 30))))  # fmt: skip
        terminated = start < gen.today - timedelta(days=400) and rng.random() < 0.1
        end = start + timedelta(days=rng.randrange(200, 380)) if terminated else None
        birth = date(rng.randrange(1965, 2002), rng.randrange(1, 13), rng.randrange(1, 29))
        updated = gen.stamp(min(max(start, gen.start), gen.today))
        employee_id = gen.ids()
        email = f"{first}.{last}{n}@example.com".lower()
        city = rng.choice(gen.profile.cities)
        title = rng.choice(_TITLES)
        if version == "AU":
            data = {
                "EmployeeID": employee_id, "FirstName": first, "LastName": last,
                "Status": "TERMINATED" if end else "ACTIVE",
                "Email": email, "DateOfBirth": ms_date(birth), "Gender": rng.choice(("M", "F", "N")),
                "Phone": f"04{rng.randrange(10**7, 10**8)}", "StartDate": ms_date(start), "JobTitle": title,
                "OrdinaryEarningsRateID": earnings_id, "PayrollCalendarID": calendar_id,
                "IsAuthorisedToApproveLeave": n == 0, "IsAuthorisedToApproveTimesheets": n == 0,
            }  # fmt: skip
            if end:
                data["TerminationDate"] = ms_date(end)
            detail = {"HomeAddress": {"AddressLine1": f"{rng.randrange(1, 300)} George St", "City": city,
                                      "Region": rng.choice(_AU_STATES), "PostalCode": f"{rng.randrange(2000, 7000)}",
                                      "Country": "AUSTRALIA"},
                      "EmploymentType": "EMPLOYEE", "IncomeType": "SALARYANDWAGES", "BankAccounts": [],
                      "LeaveBalances": [], "SuperMemberships": []}  # fmt: skip
        else:
            data = {
                "employeeID": employee_id, "title": rng.choice(("Mr", "Ms", "Mx")), "firstName": first,
                "lastName": last, "dateOfBirth": birth.isoformat(), "gender": rng.choice(("M", "F")),
                "email": email, "phoneNumber": f"02{rng.randrange(10**7, 10**8)}", "startDate": start.isoformat(),
                "payrollCalendarID": calendar_id, "createdDateUTC": iso_stamp(updated), "jobTitle": title,
                "address": {"addressLine1": f"{rng.randrange(1, 300)} High Street", "city": city,
                            "postCode": f"{rng.randrange(1000, 9999)}", "countryName": gen.profile.code},
            }  # fmt: skip
            if end:
                data["endDate"] = end.isoformat()
            detail = None
        employee = Plain(employee_id, gen.next_seq(), updated, data, status=data.get("Status"), detail=detail)
        employees.append(employee)
        payroll.service[employee_id] = (start, end)
        for _ in range(rng.randrange(1, 5)):
            leave_start = start + timedelta(days=rng.randrange(30, 700))
            if leave_start > gen.today + timedelta(days=60) or (end and leave_start > end):
                continue
            days = rng.randrange(1, 10)
            leave_end = leave_start + timedelta(days=days - 1)
            leave_name = rng.choice(tuple(leave_types))
            leave_id = gen.ids()
            asked = min(max(leave_start - timedelta(days=14), gen.start), gen.today)
            when = stamp(asked, rng, gen.now)
            processed = leave_end < gen.today
            if version == "AU":
                leave_data = {
                    "LeaveApplicationID": leave_id, "EmployeeID": employee_id, "LeaveTypeID": leave_types[leave_name],
                    "Title": leave_name, "StartDate": ms_date(leave_start), "EndDate": ms_date(leave_end),
                    "Description": f"{leave_name} for {first}", "PayOutType": "DEFAULT",
                    "LeavePeriods": [{"PayPeriodStartDate": ms_date(leave_start),
                                      "PayPeriodEndDate": ms_date(leave_end),
                                      "LeavePeriodStatus": "PROCESSED" if processed else "SCHEDULED",
                                      "NumberOfUnits": float(days * 8)}],
                }  # fmt: skip
            else:
                leave_data = {
                    "leaveID": leave_id, "leaveTypeID": leave_types[leave_name], "description": leave_name,
                    "startDate": leave_start.isoformat(), "endDate": leave_end.isoformat(),
                    "periods": [{"periodStartDate": leave_start.isoformat(), "periodEndDate": leave_end.isoformat(),
                                 "numberOfUnits": float(days), "typeOfUnits": "Days",
                                 "periodStatus": "Completed" if processed else "Approved"}],
                }  # fmt: skip
            leave.append(Plain(leave_id, gen.next_seq(), when, leave_data, owner=employee_id))
    payroll.employees.extend(employees)
    payroll.leave.extend(leave)
    payroll.leave_types = {type_id: name for name, type_id in leave_types.items()}
    payroll.as_of = gen.today
    books.payroll = payroll
