"""A tiny stand-in for the books, kept in the tests so server tests do not depend on generated data.

It serves every catalog endpoint: two invoices (paged, with MS dates, so the wire format can be checked), one
organisation, empty lists elsewhere, and a one-row report. It implements exactly the protocol in
`xero_assets.sandbox.state` (TenantBooks / World), nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xero_assets.catalog import ApiBase, Endpoint, Paging, XeroApi
from xero_assets.sandbox.books.query import QUERY_PARSE, Page, Query, QueryError

INVOICES = [
    {
        "InvoiceID": "5b96e86b-418e-48e8-8949-308c14aec278",
        "InvoiceNumber": "INV-0001",
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "Date": "/Date(1539993600000+0000)/",
        "DateString": "2018-10-20T00:00:00",
        "UpdatedDateUTC": "/Date(1573755038314+0000)/",
        "Url": "https://example.com/a/b",
        "Total": 115.0,
        "HasAttachments": False,
        "LineItems": [{"Description": "Managed services", "LineAmount": 100.0}],
    },
    {
        "InvoiceID": "6c96e86b-418e-48e8-8949-308c14aec279",
        "InvoiceNumber": "INV-0002",
        "Type": "ACCPAY",
        "Status": "PAID",
        "Date": "/Date(1540080000000+0000)/",
        "UpdatedDateUTC": "/Date(1573755099000+0000)/",
        "Total": 50.0,
        "LineItems": [],
    },
]


@dataclass
class StandinBooks:
    tenant_id: str
    name: str
    country: str
    size: str = "small"
    tier: str = "standard"
    short_code: str = "!abc"
    mutations: list[dict[str, Any]] = field(default_factory=list)

    def list(self, api: XeroApi, endpoint: Endpoint, query: Query) -> Page:
        if query.where == "broken ==":
            raise QueryError(QUERY_PARSE, "Operator '==' has no right operand")
        records: list[dict[str, Any]] = []
        if api.name == "invoices":
            records = [dict(r) for r in INVOICES]
        elif api.name == "organisation":
            records = [{"OrganisationID": self.tenant_id, "Name": self.name, "CountryCode": self.country}]
        elif endpoint.base is ApiBase.PAYROLL_V2 and api.name == "payroll_employees":
            records = [{"employeeID": "e1", "firstName": "Ann", "updatedDateUTC": "2024-01-02T03:04:05"}]
        if endpoint.paging is not Paging.PAGE_SIZE:
            return Page(records)
        size = query.page_size or 100
        page = query.page or 1
        chunk = records[(page - 1) * size : page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": math.ceil(len(records) / size),
                      "itemCount": len(records)}  # fmt: skip
        return Page(chunk, pagination)

    def get(self, api: XeroApi, endpoint: Endpoint, record_id: str) -> dict[str, Any] | None:
        if api.name == "invoices":
            return next((dict(r) for r in INVOICES if record_id in (r["InvoiceID"], r["InvoiceNumber"])), None)
        if api.name in ("payroll_employees", "payroll_leave_balances") and record_id == "e1":  # AU: /Employees/e1
            return {"employeeID": "e1", "firstName": "Ann"}
        return None

    def report(self, api: XeroApi, params: Mapping[str, str], report_id: str | None) -> dict[str, Any]:
        return {"ReportID": report_id or api.name, "ReportName": api.title, "Rows": []}

    def truth(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "invoices": [r["InvoiceID"] for r in INVOICES]}

    def mutate(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.mutations.append(spec)
        return {"applied": spec}


@dataclass
class StandinWorld:
    tenants: dict[str, StandinBooks]


TENANT_IDS = {
    "AU": "11111111-1111-4111-8111-111111111111",
    "NZ": "22222222-2222-4222-8222-222222222222",
    "GB": "33333333-3333-4333-8333-333333333333",
    "US": "44444444-4444-4444-8444-444444444444",
}


def standin_world() -> StandinWorld:
    """Four organisations, one per country; the GB one is on Xero's Starter tier."""
    books = [
        StandinBooks(TENANT_IDS["AU"], "Koala IT Pty Ltd", "AU"),
        StandinBooks(TENANT_IDS["NZ"], "Kiwi Managed Services Ltd", "NZ"),
        StandinBooks(TENANT_IDS["GB"], "Thames Tech Ltd", "GB", tier="starter"),
        StandinBooks(TENANT_IDS["US"], "Hudson MSP Inc", "US"),
    ]
    return StandinWorld({b.tenant_id: b for b in books})
