"""Xero's wire format: envelope, escaped MS dates, XML unless JSON is asked for, error bodies, GET only."""

from __future__ import annotations

import json
import re
import time
from xml.etree import ElementTree

import httpx

from xero_assets.sandbox import wire
from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import AU, NZ, call, connect, stats

ALL = "offline_access accounting.settings.read accounting.transactions.read payroll.employees.read"


def test_json_envelope_has_xeros_fields_and_escaped_dates_on_the_wire(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    response = call(http, sb, access, "/api.xro/2.0/Invoices", params={"page": 1})
    assert response.headers["content-type"].startswith("application/json")
    raw = response.text
    assert '"UpdatedDateUTC":"\\/Date(1573755038314+0000)\\/"' in raw
    assert re.search(r'"DateTimeUTC":"\\/Date\(\d+\)\\/"', raw)
    assert '"Url":"https://example.com/a/b"' in raw  # only dates are escaped
    body = response.json()
    assert list(body)[:4] == ["Id", "Status", "ProviderName", "DateTimeUTC"]
    assert body["Status"] == "OK" and body["ProviderName"] == sb.app_state.web_app.name
    assert body["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 1, "itemCount": 2}
    assert body["Invoices"][0]["UpdatedDateUTC"] == "/Date(1573755038314+0000)/"  # a JSON parser unescapes


def test_unpaged_endpoints_have_no_pagination_object(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    body = call(http, sb, access, "/api.xro/2.0/Organisation").json()
    assert "pagination" not in body and body["Organisations"][0]["OrganisationID"] == AU


def test_without_accept_json_the_answer_is_xml(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    for accept in (None, "*/*", "text/xml"):
        response = call(http, sb, access, "/api.xro/2.0/Invoices", accept=accept)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
        root = ElementTree.fromstring(response.content)
        assert root.tag == "Response" and root.findtext("Status") == "OK"
        invoices = root.findall("./Invoices/Invoice")
        assert [i.findtext("InvoiceNumber") for i in invoices] == ["INV-0001", "INV-0002"]
        assert invoices[0].findtext("UpdatedDateUTC") == "2019-11-14T18:10:38"
        assert invoices[0].find("./LineItems/LineItem/Description").text == "Managed services"


def test_single_record_get_returns_the_envelope_with_one_element(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    body = call(http, sb, access, "/api.xro/2.0/Invoices/INV-0002").json()
    assert [i["InvoiceNumber"] for i in body["Invoices"]] == ["INV-0002"] and "pagination" not in body


def test_unknown_record_and_unknown_path_are_404_plain_text(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    for path in ("/api.xro/2.0/Invoices/00000000-0000-0000-0000-000000000000", "/api.xro/2.0/Nope", "/nowhere"):
        response = call(http, sb, access, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "The resource you're looking for cannot be found"


def test_removed_accounting_employees_endpoint_answers_404(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    assert call(http, sb, access, "/api.xro/2.0/Employees").status_code == 404


def test_payroll_outside_the_organisations_country_answers_404(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    assert call(http, sb, access, "/payroll.xro/2.0/Employees", tenant=AU).status_code == 404
    assert call(http, sb, access, "/payroll.xro/1.0/Employees", tenant=NZ).status_code == 404
    assert call(http, sb, access, "/payroll.xro/1.0/Employees", tenant=AU).status_code == 200


def test_payroll_2_uses_the_camel_case_envelope_and_is_always_json(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    response = call(http, sb, access, "/payroll.xro/2.0/Employees", tenant=NZ, accept=None)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body)[:4] == ["id", "providerName", "dateTimeUTC", "httpStatusCode"]
    assert body["httpStatusCode"] == "OK" and body["problem"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}", body["dateTimeUTC"])
    assert body["employees"][0]["employeeID"] == "e1"
    single = call(http, sb, access, "/payroll.xro/2.0/Employees/e1", tenant=NZ).json()
    assert single["employee"]["firstName"] == "Ann"


def test_bad_where_is_400_query_parse_exception_in_json_or_xml(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    bad = {"where": "broken =="}
    response = call(http, sb, access, "/api.xro/2.0/Invoices", params=bad)
    assert response.status_code == 400
    assert response.json() == {
        "ErrorNumber": 16,
        "Type": "QueryParseException",
        "Message": "Operator '==' has no right operand",
    }
    as_xml = call(http, sb, access, "/api.xro/2.0/Invoices", params=bad, accept=None)
    root = ElementTree.fromstring(as_xml.content)
    assert as_xml.status_code == 400 and root.tag == "ApiException" and root.findtext("Type") == "QueryParseException"
    invalid = call(http, sb, access, "/api.xro/2.0/Invoices", params={"page": "x"})
    assert invalid.status_code == 400 and invalid.json()["Type"] == "ValidationException"


def test_every_response_carries_a_xero_correlation_id(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    responses = [
        call(http, sb, access, "/api.xro/2.0/Invoices"),
        call(http, sb, access, "/api.xro/2.0/Invoices", tenant=None),
        call(http, sb, access, "/nowhere"),
        http.post(f"{sb.base_url}/connect/token", data={"grant_type": "x"}),
        http.get(f"{sb.base_url}/connections"),
    ]
    ids = [r.headers.get("Xero-Correlation-Id") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)


def test_writes_are_refused_and_counted_so_a_client_can_be_proved_read_only(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    assert call(http, sb, access, "/api.xro/2.0/Invoices").status_code == 200
    assert stats(http, sb)["writes"] == 0
    for method in ("POST", "PUT", "DELETE"):
        refused = call(http, sb, access, "/api.xro/2.0/Invoices", method=method, json={"Invoices": []})
        assert refused.status_code == 405 and refused.headers["Allow"] == "GET"
    seen = stats(http, sb)
    assert seen["writes"] == 3
    assert seen["writes_by_route"] == {f"{m} /api.xro/2.0/Invoices": 1 for m in ("POST", "PUT", "DELETE")}
    assert seen["by_method"]["GET"] >= 1 and seen["by_method"]["PUT"] == 1


def test_stats_count_by_route_template_status_tenant_and_api_and_reset_on_delete(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, ALL)["access_token"]
    http.delete(f"{sb.base_url}/_sandbox/stats")
    call(http, sb, access, "/api.xro/2.0/Invoices/INV-0001")
    call(http, sb, access, "/api.xro/2.0/Invoices/INV-0002", tenant=NZ)
    call(http, sb, access, "/api.xro/2.0/Invoices", tenant=None)
    seen = stats(http, sb)
    assert seen["total"] == 3
    assert seen["by_route"] == {"GET /api.xro/2.0/Invoices/{id}": 2, "GET /api.xro/2.0/Invoices": 1}
    assert seen["by_status"] == {"200": 2, "403": 1}
    assert seen["by_tenant"] == {AU: 1, NZ: 1} and seen["by_api"] == {"invoices": 2}
    assert [r["path"] for r in seen["recent"]][-1] == "/api.xro/2.0/Invoices"
    assert http.delete(f"{sb.base_url}/_sandbox/stats").status_code == 204
    assert stats(http, sb)["total"] == 0


def test_latency_option_delays_every_xero_response(start_sandbox, http: httpx.Client):
    sb = start_sandbox(latency_ms=150)
    started = time.monotonic()
    http.get(f"{sb.base_url}/connections")
    assert time.monotonic() - started >= 0.15


def test_date_escaping_never_changes_what_a_json_parser_reads():
    data = {"a": "/Date(1573755038314+0000)/", "b": "ends with )/", "c": "/Date(not a date", "d": "x/y"}
    raw = wire.dumps(data)
    assert b'"a":"\\/Date(1573755038314+0000)\\/"' in raw and b'"d":"x/y"' in raw
    assert json.loads(raw) == data
