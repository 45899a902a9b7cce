"""Fault injection: each kind, by count, by rate and by path, on data calls and on the token endpoint."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import AU, NZ, call, connect, refresh, stats

INVOICES = "/api.xro/2.0/Invoices"


def _fault(http: httpx.Client, sb: SandboxHandle, **rule: Any) -> dict[str, Any]:
    response = http.post(f"{sb.base_url}/_sandbox/faults", json=rule)
    assert response.status_code == 200, response.text
    return response.json()


def test_500_fault_answers_xeros_unhandled_error_for_the_next_n_calls(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="500", count=2)
    statuses = [call(http, sb, access, INVOICES).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert stats(http, sb)["faults"] == {"500": 2}


def test_503_fault_is_plain_text_like_xeros_maintenance_page(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="503", count=1)
    response = call(http, sb, access, INVOICES)
    assert response.status_code == 503 and response.headers["content-type"].startswith("text/plain")
    assert "offline" in response.text


def test_429_fault_carries_the_problem_and_retry_after_it_was_given(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="429", count=1, problem="day", retry_after=43210)
    response = call(http, sb, access, INVOICES)
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "day" and response.headers["Retry-After"] == "43210"
    assert "X-MinLimit-Remaining" in response.headers


def test_slow_fault_delays_the_answer_and_clearing_the_rules_releases_it(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="slow", delay_ms=60_000, count=1)
    done = threading.Event()
    result: list[int] = []

    def slow() -> None:
        with httpx.Client(timeout=60) as own:
            result.append(call(own, sb, access, INVOICES).status_code)
        done.set()

    threading.Thread(target=slow).start()
    deadline = time.monotonic() + 30
    while stats(http, sb)["faults"].get("slow") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not done.is_set()  # held by the fault
    http.delete(f"{sb.base_url}/_sandbox/faults")
    assert done.wait(30) and result == [200]


def test_drop_fault_closes_the_connection_without_a_response(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="drop", count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(http, sb, access, INVOICES)
    assert call(http, sb, access, INVOICES).status_code == 200  # the client reconnects
    assert stats(http, sb)["by_status"]["dropped"] == 1


def test_truncate_fault_announces_the_full_length_and_sends_part_of_the_body(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="truncate", count=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(http, sb, access, INVOICES)
    assert call(http, sb, access, INVOICES).status_code == 200


def test_truncate_json_mode_sends_a_valid_http_response_with_broken_json(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="truncate", count=1, mode="json")
    response = call(http, sb, access, INVOICES)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_faults_match_by_path_regex_and_tenant(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="500", path=r"/Contacts$", tenant=NZ)
    assert call(http, sb, access, "/api.xro/2.0/Contacts", tenant=NZ).status_code == 500
    assert call(http, sb, access, "/api.xro/2.0/Contacts", tenant=AU).status_code == 200
    assert call(http, sb, access, INVOICES, tenant=NZ).status_code == 200


def test_rate_fault_fails_about_that_share_of_calls(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="503", rate=0.5)
    statuses = [call(http, sb, access, INVOICES).status_code for _ in range(200)]
    failed = statuses.count(503)
    assert 60 <= failed <= 140 and statuses.count(200) == 200 - failed


def test_fault_rate_option_fails_a_share_of_data_calls_with_transient_errors(start_sandbox, http: httpx.Client):
    sb = start_sandbox(fault_rate=0.3)
    access = connect(http, sb)["access_token"]
    statuses = [call(http, sb, access, INVOICES).status_code for _ in range(150)]
    assert set(statuses) <= {200, 429, 500, 503} and 15 <= sum(s != 200 for s in statuses) <= 90
    assert http.get(f"{sb.base_url}/_sandbox/faults").json()["rules"] == []  # the base rate is not a listed rule


def test_token_endpoint_faults_only_apply_when_targeted(sb: SandboxHandle, http: httpx.Client):
    tokens = connect(http, sb)
    _fault(http, sb, kind="500", count=1)  # data only
    assert refresh(http, sb, tokens["refresh_token"]).status_code == 200
    _fault(http, sb, kind="503", count=1, target="token")
    failed = refresh(http, sb, tokens["refresh_token"])
    assert failed.status_code == 503
    assert refresh(http, sb, tokens["refresh_token"]).status_code == 200  # the failed call rotated nothing


def test_invalid_fault_rules_are_refused_with_the_reason(sb: SandboxHandle, http: httpx.Client):
    for rule in ({"kind": "boom"}, {"kind": "500", "rate": 2}, {"kind": "500", "path": "("}, {"kind": "500", "x": 1}):
        response = http.post(f"{sb.base_url}/_sandbox/faults", json=rule)
        assert response.status_code == 400 and response.json()["error"], rule


def test_fault_rules_are_listed_with_their_hits_and_cleared_by_delete(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    listed = _fault(http, sb, rules=[{"kind": "500", "count": 1}, {"kind": "503", "path": "Nothing"}])
    assert [r["kind"] for r in listed["rules"]] == ["500", "503"]
    call(http, sb, access, INVOICES)
    rules = http.get(f"{sb.base_url}/_sandbox/faults").json()["rules"]
    assert rules[0]["hits"] == 1 and rules[0]["count"] == 0 and rules[1]["hits"] == 0
    assert http.delete(f"{sb.base_url}/_sandbox/faults").status_code == 204
    assert http.get(f"{sb.base_url}/_sandbox/faults").json()["rules"] == []


def test_404_fault_answers_not_found_for_one_path_only(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="404", path="Reports/BalanceSheet")
    assert call(http, sb, access, "/api.xro/2.0/Reports/BalanceSheet").status_code == 404
    assert call(http, sb, access, INVOICES).status_code == 200


def test_null_list_fault_nulls_the_record_list_and_keeps_the_rest(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    _fault(http, sb, kind="null_list", path="Invoices", count=1)
    body = call(http, sb, access, INVOICES).json()
    assert body["Invoices"] is None and "Id" in body
    assert call(http, sb, access, INVOICES).json()["Invoices"]  # count=1: the next answer is whole again


def test_bad_field_fault_breaks_one_field_of_the_first_record(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    clean = call(http, sb, access, INVOICES).json()["Invoices"]
    _fault(http, sb, kind="bad_field", path="Invoices", field="Total", value="not-a-number", count=1)
    broken = call(http, sb, access, INVOICES).json()["Invoices"]
    assert broken[0]["Total"] == "not-a-number"
    assert broken[0]["InvoiceID"] == clean[0]["InvoiceID"] and broken[1:] == clean[1:]
