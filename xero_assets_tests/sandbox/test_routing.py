"""Paths as Xero's router takes them: any case, one trailing slash, `/Organisations`; everything else still 404s.

Real clients depend on this: tap-xero (singer-io/tap-xero) requests `stream_id.title()` paths, pyxero
`/Organisations`. Every path of every catalog API (lists, reports, single records, payroll per country)
is requested in lowercase, upper case and with a trailing slash, over HTTP against real books, and must answer exactly
what the canonical path answers (bar the envelope's per-response Id and timestamp).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from xero_assets.catalog import SYNCABLE, ApiBase, Endpoint, Kind, Paging, XeroApi
from xero_assets.sandbox import wire
from xero_assets_tests.sandbox.helpers import call, per_employee_path

COUNTRIES = ("AU", "NZ", "GB", "US")
_PER_RESPONSE = frozenset({"Id", "DateTimeUTC", "id", "dateTimeUTC"})


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    """Status and body without what differs per response (the envelope's Id and DateTimeUTC)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, response.text
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in _PER_RESPONSE}
        for report in body.get("Reports") or ():
            report.pop("UpdatedDateUTC", None)  # the moment the report was run
    return response.status_code, body


def _paths(get: Any, api: XeroApi, endpoint: Endpoint) -> list[tuple[str, dict[str, str]]]:
    """Every path a client calls for this API: its list (or report) and, where it has ids, one record."""
    path, params = endpoint.full_path, dict(endpoint.params)
    if "{EmployeeID}" in path:
        path = per_employee_path(endpoint, lambda employees: get(employees, {}).json())
    if api.name.startswith("aged_"):
        params["contactId"] = get("/api.xro/2.0/Contacts", {"page": "1"}).json()["Contacts"][0]["ContactID"]
    if endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
        params["page"] = "1"
    paths = [(path, params)]
    if endpoint.id_field and endpoint.paging is not Paging.PER_EMPLOYEE and api.kind is not Kind.REPORT:
        records = get(path, params).json().get(endpoint.json_key) or []
        if records:
            paths.append((f"{path}/{records[0][endpoint.id_field]}", {}))
    return paths


def _variants(path: str) -> list[str]:
    variants = [path.lower(), path.upper(), path + "/"]
    if path.endswith("/api.xro/2.0/Organisation"):
        variants += [path + "s", (path + "s").lower(), path + "s/"]
    return variants


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_catalog_path_answers_the_same_in_any_case_and_with_a_trailing_slash(real, country):
    sb, http, access, tenants = real

    def get(path: str, params: dict[str, str]) -> httpx.Response:
        return call(http, sb, access, path, tenant=tenants[country], params=params)

    checked, mismatches = 0, []
    for api in SYNCABLE:
        endpoint = api.endpoint_for(country)
        if endpoint is None:
            continue
        for path, params in _paths(get, api, endpoint):
            canonical = _comparable(get(path, params))
            assert canonical[0] == 200, (path, canonical)
            for variant in _variants(path):
                checked += 1
                if _comparable(get(variant, params)) != canonical:
                    mismatches.append(variant)
    assert mismatches == []
    assert checked >= 3 * len([a for a in SYNCABLE if a.endpoint_for(country)])


def test_organisations_plural_is_the_organisation(real):
    sb, http, access, tenants = real
    body = call(http, sb, access, "/api.xro/2.0/organisations", tenant=tenants["GB"]).json()
    assert [o["CountryCode"] for o in body["Organisations"]] == ["GB"]


@pytest.mark.parametrize(
    "path",
    [
        "/api.xro/2.0/Invoicez",
        "/api.xro/2.0/invoice",  # singular: not a Xero path
        "/api.xro/2.0/Invoices//",
        "/api.xro/2.0/Organisationss",
        "/API.XRO/2.0/Nothing/",
        "/payroll.xro/2.0/employees/x/y/z",
        "/api.xro/3.0/Invoices",
    ],
)
def test_what_xero_does_not_route_is_still_its_plain_text_404(real, path):
    sb, http, access, tenants = real
    response = call(http, sb, access, path, tenant=tenants["AU"])
    assert (response.status_code, response.text) == (404, wire.NOT_FOUND_TEXT)


def test_the_stats_label_a_variant_by_its_canonical_template(real):
    sb, http, access, tenants = real
    http.delete(f"{sb.base_url}/_sandbox/stats")
    call(http, sb, access, "/API.XRO/2.0/INVOICES/", tenant=tenants["AU"], params={"page": "1"})
    by_path = http.get(f"{sb.base_url}/_sandbox/stats").json()["by_path"]
    assert by_path == {f"{ApiBase.ACCOUNTING.value}/Invoices": 1}
