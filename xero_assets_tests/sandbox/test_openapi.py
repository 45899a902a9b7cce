"""Every GET in scope, on an organisation of each country, matches Xero's OpenAPI response schema over HTTP.

The books' own schema walk (xero_assets_tests/sandbox_books/test_schemas.py) validates record shapes in depth on
medium organisations, in-process. This one proves the server's half: what a client actually receives (envelope,
payroll 2.0's camelCase envelope and singular keys, escaped dates decoded by a JSON parser, reports, single records)
is read over HTTP and validated with openapi-core against the specs in xero_assets_tests/openapi. Small
organisations suffice for that. Two defects of those specs are worked around, and only those:
- the accounting spec does not validate as OpenAPI (booleans with default 'false'), so spec validation is off;
- payroll 2.0 envelopes declare `problem` as a non-nullable object while the same specs' examples send
  `"problem": null`, which the sandbox sends too; the Problem schema is made nullable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from xero_assets.catalog import SYNCABLE, ApiBase, Endpoint, Kind, Paging, XeroApi
from xero_assets.sandbox.books import World, build_world
from xero_assets.sandbox.books.attachments import ATTACHABLE, has_attachment
from xero_assets.sandbox.clock import Clock
from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
from xero_assets.xero.scopes import all_scopes
from xero_assets_tests.conftest import OPENAPI_DIR
from xero_assets_tests.sandbox.helpers import consent, exchange, per_employee_path

COUNTRIES = ("AU", "NZ", "GB", "US")
_SPEC_FILES = {
    "ACC": "xero_accounting.yaml",
    "AU": "xero-payroll-au.yaml",
    "NZ": "xero-payroll-nz.yaml",
    "GB": "xero-payroll-uk.yaml",
}


@cache
def _spec_dict(name: str) -> dict[str, Any]:
    spec = yaml.safe_load((OPENAPI_DIR / _SPEC_FILES[name]).read_text())
    problem = spec.get("components", {}).get("schemas", {}).get("Problem")
    if problem is not None:  # every envelope's `problem` is a $ref to it
        problem["nullable"] = True
    return spec


@cache
def _openapi(name: str) -> OpenAPI:
    return OpenAPI.from_dict(_spec_dict(name), config=Config(spec_validator_cls=None))


def _spec_name(endpoint: Endpoint, country: str) -> str:
    return "ACC" if endpoint.base is ApiBase.ACCOUNTING else country


def _world_with_a_file_on_every_attachable_kind(config: SandboxConfig) -> World:
    """The first seed's world in which every organisation has a record with an attachment in each attachable
    collection it holds records in, so the walk can fill /{Collection}/{id}/Attachments/{FileName} everywhere.

    One record in four carries a file (by its id), and the books are built relative to today, so on some days a
    small organisation's four credit notes carry none: with a fixed seed the walk failed on those days alone."""
    for seed in range(config.seed, config.seed + 50):
        world = build_world(seed, config.tenants, config.size, Clock())
        if all(
            any(has_attachment(kind, record.id) for record in books.collections[kind])
            for books in world.tenants.values()
            for kind in ATTACHABLE
            if kind in books.collections and len(books.collections[kind])
        ):
            return world
    raise AssertionError("no seed within 50 gives every attachable collection a record with a file")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxHandle, httpx.Client, dict[str, str]]]:
    """One organisation per country, and a token for every scope on the permission list."""
    config = SandboxConfig(tenants=4, size="small", rate_limits="off")
    with (
        running_sandbox(config, _world_with_a_file_on_every_attachable_kind(config)) as sb,
        httpx.Client(timeout=60) as http,
    ):
        code = consent(http, sb, " ".join(all_scopes()))["code"]
        access = exchange(http, sb, code).json()["access_token"]
        tenants = {b.country: b.tenant_id for b in sb.app_state.world.tenants.values()}
        assert set(tenants) == set(COUNTRIES)
        yield sb, http, {"access": access, **tenants}


class Walker:
    """GETs for one tenant, each validated against the spec of the API it belongs to."""

    def __init__(self, sb: SandboxHandle, http: httpx.Client, access: str, tenant_id: str, country: str) -> None:
        self.sb, self.http, self.country = sb, http, country
        self.headers = {"Authorization": f"Bearer {access}", "xero-tenant-id": tenant_id, "Accept": "application/json"}
        self.failures: list[str] = []
        self.checked = 0

    def get(self, endpoint: Endpoint, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.http.get(f"{self.sb.base_url}{path}", headers=self.headers, params=params)
        assert response.status_code == 200, (self.country, path, response.status_code, response.text[:300])
        request = MockRequest("https://api.xero.com", "get", path, args=params or {})
        try:
            _openapi(_spec_name(endpoint, self.country)).validate_response(
                request, MockResponse(response.content, response.status_code, content_type="application/json")
            )
        except Exception as exc:
            errors = getattr(exc.__cause__, "schema_errors", None) or [exc]
            self.failures.append(f"{self.country} GET {path}: " + " | ".join(str(e).split("\n")[0] for e in errors[:3]))
        self.checked += 1
        return response.json()

    def list_path(self, api: XeroApi, endpoint: Endpoint) -> tuple[str, dict[str, str]]:
        """The path and parameters a sync would use for the first call of this API."""
        path, params = endpoint.full_path, dict(endpoint.params)
        if "{EmployeeID}" in path:
            path = per_employee_path(endpoint, lambda employees: self.get(endpoint, employees))
        if api.name.startswith("aged_"):
            contacts = self.http.get(
                f"{self.sb.base_url}/api.xro/2.0/Contacts", headers=self.headers, params={"page": "1"}
            ).json()["Contacts"]
            params["contactId"] = contacts[0]["ContactID"]
        if endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY):
            params["page"] = "1"
        return path, params


def _single_path(endpoint: Endpoint, country: str) -> str | None:
    """The spec's `/{Collection}/{id}` path for this endpoint, or None where Xero has no single-record GET."""
    pattern = re.compile(rf"^{re.escape(endpoint.path)}/\{{[^/{{}}]+\}}$")
    return next((p for p in _spec_dict(_spec_name(endpoint, country))["paths"] if pattern.match(p)), None)


def _records(body: dict[str, Any], endpoint: Endpoint) -> list[dict[str, Any]]:
    return body.get(endpoint.json_key) or []


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_list_and_report_get_matches_xeros_response_schema(served, country: str):
    sb, http, ids = served
    walker = Walker(sb, http, ids["access"], ids[country], country)
    served = [api for api in SYNCABLE if api.endpoint_for(country) is not None]
    for api in served:
        endpoint = api.endpoint_for(country)
        assert endpoint is not None
        walker.get(endpoint, *walker.list_path(api, endpoint))
    assert walker.failures == []
    assert walker.checked >= len(served)


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_single_record_get_matches_xeros_response_schema(served, country: str):
    sb, http, ids = served
    walker = Walker(sb, http, ids["access"], ids[country], country)
    read = []
    for api in SYNCABLE:
        endpoint = api.endpoint_for(country)
        if endpoint is None or endpoint.id_field is None or endpoint.paging is Paging.PER_EMPLOYEE:
            continue
        if _single_path(endpoint, country) is None or (api.kind is Kind.REPORT and api.name != "tax_reports"):
            continue
        records = _records(walker.get(endpoint, *walker.list_path(api, endpoint)), endpoint)
        if not records:
            continue
        record_id = str(records[0][endpoint.id_field])
        body = walker.get(endpoint, f"{endpoint.full_path}/{record_id}")
        if endpoint.base is not ApiBase.PAYROLL_V2:
            assert [r[endpoint.id_field] for r in _records(body, endpoint)] == [records[0][endpoint.id_field]]
        read.append(api.name)
    assert walker.failures == []
    assert {"invoices", "contacts", "journals", "accounts"} <= set(read)


# --- every GET of the accounting spec, not only those a sync makes ------------------------------------------------
_NOT_SERVED = {  # spec paths Xero serves only in some countries, and which
    "/Contacts/{ContactID}/CISSettings": {"GB"},
    "/Organisation/{OrganisationID}/CISSettings": {"GB"},
    "/Reports/TenNinetyNine": {"US"},
    "/Reports/{ReportID}": {"AU", "NZ"},  # a published GST/BAS return
}
_BY_NUMBER = {"ContactNumber": "ContactNumber", "PurchaseOrderNumber": "PurchaseOrderNumber", "TaxType": "TaxType",
              "JournalNumber": "JournalNumber"}  # fmt: skip


class SpecWalk:
    """Fills a spec path's parameters from what the organisation's lists hold."""

    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        self.lists: dict[str, list[dict[str, Any]]] = {}

    def records(self, collection: str) -> list[dict[str, Any]]:
        if collection not in self.lists:
            api = next(a for a in SYNCABLE if a.endpoint.path == f"/{collection}" and a.kind is not Kind.REPORT)
            response = self.walker.http.get(
                f"{self.walker.sb.base_url}/api.xro/2.0/{collection}", headers=self.walker.headers
            )
            self.lists[collection] = response.json()[api.endpoint.json_key]
        return self.lists[collection]

    def fill(self, path: str) -> str | None:
        """The path with real ids, or None when the organisation has no record to name."""
        parts = path.strip("/").split("/")
        collection, out = parts[0], [parts[0]]
        record: dict[str, Any] | None = None
        for part in parts[1:]:
            name = part.strip("{}")
            if part == name:
                out.append(part)
            elif collection == "Reports":
                reports = self.walker.http.get(
                    f"{self.walker.sb.base_url}/api.xro/2.0/Reports", headers=self.walker.headers
                )
                published = reports.json()["Reports"] or [{"ReportID": "none"}]  # GB and US publish none
                out.append(published[0]["ReportID"])
            elif collection == "Organisation":
                out.append(self.records("Organisation")[0]["OrganisationID"])
            elif record is None:
                record = self._pick(collection, path, name)
                if record is None:
                    return None
                out.append(str(record[_BY_NUMBER.get(name, name)]))
            else:  # an attachment, by id or by file name
                attachments = self.walker.http.get(
                    f"{self.walker.sb.base_url}/api.xro/2.0/{'/'.join(out)}", headers=self.walker.headers
                ).json()["Attachments"]
                out.append(attachments[0]["AttachmentID" if name == "AttachmentID" else "FileName"])
        return "/api.xro/2.0/" + "/".join(out)

    def _pick(self, collection: str, path: str, name: str) -> dict[str, Any] | None:
        field = _BY_NUMBER.get(name, name)
        candidates = [r for r in self.records(collection) if r.get(field) not in (None, "")]
        if "/Attachments" in path:
            candidates = [r for r in candidates if r.get("HasAttachments")]
        if path.endswith("/OnlineInvoice"):
            candidates = [r for r in candidates if r["Type"] == "ACCREC" and r["Status"] == "AUTHORISED"]
        return candidates[0] if candidates else None


def _walked_by_the_sync_tests(country: str) -> set[str]:
    """The spec paths the two tests above already validate in this country: the lists, reports and single records a
    sync reads. The walk below takes every other GET of the spec, so together they leave none out."""
    out = set()
    for api in SYNCABLE:
        endpoint = api.endpoint_for(country)
        if endpoint is None or endpoint.base is not ApiBase.ACCOUNTING:
            continue
        out.add(endpoint.path)
        if endpoint.id_field and (api.kind is not Kind.REPORT or api.name == "tax_reports"):
            out.add(_single_path(endpoint, country) or endpoint.path)
    return out


@pytest.mark.parametrize("country", COUNTRIES)
def test_every_get_of_the_accounting_spec_answers_where_xero_serves_it(served, country: str):
    sb, http, ids = served
    extra_scopes = ["accounting.attachments.read", "paymentservices", "accounting.reports.tenninetynine.read"]
    access = exchange(http, sb, consent(http, sb, " ".join(all_scopes() + extra_scopes))["code"]).json()
    walker = Walker(sb, http, access["access_token"], ids[country], country)
    walk, missing, refused = SpecWalk(walker), [], []
    paths = [p for p, ops in _spec_dict("ACC")["paths"].items() if "get" in ops]
    for spec_path in [p for p in paths if p not in _walked_by_the_sync_tests(country)]:
        path = walk.fill(spec_path)
        if path is None:
            missing.append(spec_path)
            continue
        countries = _NOT_SERVED.get(spec_path)
        if countries is not None and country not in countries:
            response = http.get(f"{sb.base_url}{path}", headers=walker.headers)
            if response.status_code != 404:
                refused.append((spec_path, response.status_code))
            continue
        ok = _spec_dict("ACC")["paths"][spec_path]["get"]["responses"]["200"]
        if "$ref" in ok:  # a shared response (HistoryRetrieved)
            ok = _spec_dict("ACC")["components"]["responses"][ok["$ref"].rsplit("/", 1)[-1]]
        if "application/json" in ok["content"]:
            api = next((a for a in SYNCABLE if a.endpoint.full_path == path), None)  # a sync's own call, as it is
            params = walker.list_path(api, api.endpoint)[1] if api is not None else {}
            walker.get(Endpoint(ApiBase.ACCOUNTING, spec_path, "", None), path, params)
        else:
            response = http.get(f"{sb.base_url}{path}", headers=walker.headers)
            assert response.status_code == 200, (spec_path, response.status_code)
            assert response.content.startswith(b"%PDF-"), spec_path
    assert missing == [], missing
    assert refused == []
    assert walker.failures == []


def test_attachments_and_payment_services_need_their_own_scopes(served):
    sb, http, ids = served
    headers = {"Authorization": f"Bearer {ids['access']}", "xero-tenant-id": ids["AU"], "Accept": "application/json"}
    account = http.get(f"{sb.base_url}/api.xro/2.0/Accounts", headers=headers).json()["Accounts"][0]["AccountID"]
    for path in (f"/api.xro/2.0/Accounts/{account}/Attachments", "/api.xro/2.0/PaymentServices"):
        response = http.get(f"{sb.base_url}{path}", headers=headers)
        assert (response.status_code, response.json()["Detail"]) == (401, "AuthorizationUnsuccessful")
