"""The data client's paging, retries and error meanings, over an in-process transport (no sleeping, fake clock).

The end-to-end proofs against the sandbox are in test_sandbox_*.py; these pin down each rule on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from xero_assets import catalog
from xero_assets.catalog import ApiBase, Endpoint, Paging
from xero_assets.xero.client import XeroClient
from xero_assets.xero.errors import (
    BadResponse,
    DayLimitReached,
    RequestRejected,
    ScopeNotGranted,
    TenantNotConnected,
    WriteNotAllowed,
    XeroError,
    XeroUnavailable,
)
from xero_assets.xero.limiter import RateLimits
from xero_assets_tests.connection.fakes import FakeClock, FakeTokens

TENANT = "tenant-1"
FAST = RateLimits(per_minute=100_000, app_per_minute=1_000_000)
Handler = Callable[[httpx.Request], httpx.Response]


def _ok(key: str, records: list[dict], **extra: object) -> httpx.Response:
    return httpx.Response(200, json={"Id": "x", "Status": "OK", key: records, **extra})


def _client(handler: Handler, tokens: FakeTokens | None = None, clock: FakeClock | None = None) -> XeroClient:
    clock = clock or FakeClock()
    return XeroClient(
        "http://xero.test",
        tokens or FakeTokens(),
        limits=FAST,
        max_retries=3,
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
    )


def _recorder(respond: Callable[[httpx.Request], httpx.Response]) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(request)

    return seen, handler


def test_page_size_endpoints_ask_for_1000_from_page_one_and_stop_at_the_page_count() -> None:
    invoices = catalog.get("invoices").endpoint

    def respond(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return _ok("Invoices", [{"InvoiceID": f"{page}-{i}"} for i in range(1000)], pagination={"pageCount": 2})

    seen, handler = _recorder(respond)
    with _client(handler) as client:
        pages = list(client.for_tenant(TENANT).iter_pages(invoices))
    assert [p.page for p in pages] == [1, 2]
    assert all(r.url.params["pageSize"] == "1000" for r in seen)
    assert all(r.url.params["includeArchived"] == "true" for r in seen)  # the endpoint's params, always
    assert seen[0].headers["xero-tenant-id"] == TENANT
    assert seen[0].headers["Accept"] == "application/json"


def test_a_short_page_ends_page_only_paging_and_resumes_from_a_start_page() -> None:
    quotes = catalog.get("quotes").endpoint
    seen, handler = _recorder(lambda r: _ok("Quotes", [{"QuoteID": "q"}] * (100 if r.url.params["page"] == "3" else 7)))
    with _client(handler) as client:
        pages = list(client.for_tenant(TENANT).iter_pages(quotes, start_page=3))
    assert [p.page for p in pages] == [3, 4]
    assert "pageSize" not in seen[0].url.params


def test_journals_page_by_the_last_journal_number() -> None:
    journals = catalog.get("journals").endpoint

    def respond(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        count = 100 if offset < 200 else 5
        numbers = range(offset + 1, offset + 1 + count)
        return _ok("Journals", [{"JournalID": str(n), "JournalNumber": n} for n in numbers])

    seen, handler = _recorder(respond)
    with _client(handler) as client:
        pages = list(client.for_tenant(TENANT).iter_pages(journals, start_offset=0))
    assert [(p.offset, p.next_offset) for p in pages] == [(0, 100), (100, 200), (200, 205)]
    assert [r.url.params["offset"] for r in seen] == ["0", "100", "200"]


def test_per_employee_endpoints_call_once_per_employee() -> None:
    leave = catalog.get("payroll_leave").regional["NZ"]
    seen, handler = _recorder(lambda r: _ok("leave", [{"leaveID": r.url.path}]))
    with _client(handler) as client:
        pages = list(client.for_tenant(TENANT).iter_pages(leave, employee_ids=["e1", "e2"]))
    assert [r.url.path for r in seen] == ["/payroll.xro/2.0/Employees/e1/Leave", "/payroll.xro/2.0/Employees/e2/Leave"]
    assert [p.employee_id for p in pages] == ["e1", "e2"]


def test_if_modified_since_is_sent_only_where_xero_supports_it() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    seen, handler = _recorder(lambda r: _ok("Accounts", []) if "Accounts" in r.url.path else _ok("TaxRates", []))
    with _client(handler) as client:
        tenant = client.for_tenant(TENANT)
        list(tenant.iter_pages(catalog.get("accounts").endpoint, modified_since=since))
        list(tenant.iter_pages(catalog.get("tax_rates").endpoint, modified_since=since))
    assert seen[0].headers["If-Modified-Since"] == "2026-01-02T03:04:05"
    assert "If-Modified-Since" not in seen[1].headers


def test_an_expired_token_is_refreshed_once_and_the_call_retried() -> None:
    tokens = FakeTokens()

    def respond(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-0":
            return httpx.Response(401, json={"Title": "Unauthorized", "Detail": "TokenExpired: token expired at x"})
        return _ok("Accounts", [])

    seen, handler = _recorder(respond)
    with _client(handler, tokens) as client:
        assert client.for_tenant(TENANT).get_json("/api.xro/2.0/Accounts")["Accounts"] == []
    assert tokens.forced == 1
    assert len(seen) == 2


def test_a_token_rejected_again_after_refresh_is_an_error_not_a_loop() -> None:
    tokens = FakeTokens()
    handler = lambda r: httpx.Response(401, json={"Detail": "TokenExpired: token expired at x"})  # noqa: E731
    with _client(handler, tokens) as client, pytest.raises(XeroError, match="freshly refreshed"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Accounts")
    assert tokens.forced == 1


def test_a_missing_scope_names_the_scope_to_ask_for() -> None:
    handler = lambda r: httpx.Response(401, json={"Detail": "AuthorizationUnsuccessful"})  # noqa: E731
    with _client(handler) as client, pytest.raises(ScopeNotGranted) as raised:
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Invoices", {"page": "1"})
    assert raised.value.scope == "accounting.transactions.read"
    assert TENANT in str(raised.value) and "/api.xro/2.0/Invoices" in str(raised.value)


def test_a_tenant_that_is_not_connected_is_an_error_not_an_empty_result() -> None:
    handler = lambda r: httpx.Response(403, json={"Detail": "AuthenticationUnsuccessful"})  # noqa: E731
    with _client(handler) as client, pytest.raises(TenantNotConnected, match="xero-assets connect"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Accounts")


def test_a_minute_429_waits_as_long_as_xero_asks_then_retries() -> None:
    clock = FakeClock()
    answers = [httpx.Response(429, headers={"X-Rate-Limit-Problem": "minute", "Retry-After": "17"}), _ok("Users", [])]
    with _client(lambda r: answers.pop(0), clock=clock) as client:
        tenant = client.for_tenant(TENANT)
        tenant.get_json("/api.xro/2.0/Users")
    assert tenant.stats.rate_limited_429s == 1 and tenant.stats.retries == 1
    assert sum(clock.slept) == pytest.approx(17.0)


def test_a_day_429_stops_the_tenant_with_its_reset_time_without_sleeping() -> None:
    clock = FakeClock()
    seen, handler = _recorder(
        lambda r: httpx.Response(429, headers={"X-Rate-Limit-Problem": "day", "Retry-After": "40000"})
    )
    with _client(handler, clock=clock) as client:
        tenant = client.for_tenant(TENANT)
        with pytest.raises(DayLimitReached) as raised:
            tenant.get_json("/api.xro/2.0/Users")
        expected = datetime.now(UTC) + timedelta(seconds=40000)
        assert abs(raised.value.reset_at - expected) < timedelta(seconds=5)
        assert raised.value.reset_at.isoformat(timespec="seconds") in str(raised.value)
        with pytest.raises(DayLimitReached):  # later calls fail fast, without asking Xero again
            tenant.get_json("/api.xro/2.0/Accounts")
    assert len(seen) == 1
    assert clock.slept == []


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(503, text="The Xero API is currently offline for maintenance"),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("peer closed connection", request=r)),
    ],
    ids=["503", "timeout", "dropped"],
)
def test_transient_failures_are_retried_with_backoff_then_reported(failure: Handler) -> None:
    clock = FakeClock()
    seen, handler = _recorder(failure)
    with _client(handler, clock=clock) as client, pytest.raises(XeroUnavailable, match="after 4 attempt"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Accounts")
    assert len(seen) == 4
    backoffs = [s for s in clock.slept if s > 0.1]  # not the limiter's sub-millisecond pacing
    assert len(backoffs) == 3 and backoffs == sorted(backoffs)


def test_a_transient_failure_then_success_returns_the_data() -> None:
    answers = [httpx.Response(500, json={"Message": "boom"}), _ok("Users", [{"UserID": "u"}])]
    with _client(lambda r: answers.pop(0)) as client:
        assert client.for_tenant(TENANT).get_json("/api.xro/2.0/Users")["Users"] == [{"UserID": "u"}]


def test_truncated_json_is_retried_and_then_reported_as_a_bad_response() -> None:
    cut = httpx.Response(200, content=b'{"Users": [{"UserID"', headers={"content-type": "application/json"})
    with _client(lambda r: cut) as client, pytest.raises(BadResponse, match="truncated"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Users")


def test_xml_or_a_missing_key_is_a_bad_response_that_says_which() -> None:
    xml = httpx.Response(200, content=b"<Response/>", headers={"content-type": "text/xml"})
    with _client(lambda r: xml) as client, pytest.raises(BadResponse, match="text/xml"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Users")
    with _client(lambda r: _ok("Other", [])) as client, pytest.raises(BadResponse, match="'Users' is missing"):
        list(client.for_tenant(TENANT).iter_pages(catalog.get("users").endpoint))


def test_a_404_is_rejected_with_xero_s_text() -> None:
    handler = lambda r: httpx.Response(404, text="The resource you're looking for cannot be found")  # noqa: E731
    with _client(handler) as client, pytest.raises(RequestRejected, match="cannot be found"):
        client.for_tenant(TENANT).get_json("/api.xro/2.0/Nope")


def test_nothing_but_get_can_reach_the_data_apis() -> None:
    seen, handler = _recorder(lambda r: httpx.Response(200, json={}))
    with _client(handler) as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for path in ("/api.xro/2.0/Invoices", "/payroll.xro/1.0/Employees"):
                with pytest.raises(WriteNotAllowed, match=method):
                    client._http.request(method, path, content=json.dumps({}))
        with pytest.raises(ValueError, match="not a Xero data API path"):
            client.for_tenant(TENANT).get_json("/connections")
    assert seen == []
    classes = (XeroClient, type(client.for_tenant(TENANT)))
    public = {name for cls in classes for name in dir(cls) if not name.startswith("_")}
    assert public == {"close", "for_tenant", "get_json", "iter_pages"}


def test_one_tenant_client_per_tenant_shares_its_limiter() -> None:
    with _client(lambda r: _ok("Users", [])) as client:
        assert client.for_tenant("a") is client.for_tenant("a")
        assert client.for_tenant("a") is not client.for_tenant("b")


def test_a_none_paged_endpoint_is_one_call() -> None:
    endpoint = Endpoint(ApiBase.ACCOUNTING, "/Currencies", "Currencies", "Code", Paging.NONE)
    seen, handler = _recorder(lambda r: _ok("Currencies", [{"Code": "NZD"}]))
    with _client(handler) as client:
        pages = list(client.for_tenant(TENANT).iter_pages(endpoint, params={"where": 'Code=="NZD"'}))
    assert len(seen) == 1 and pages[0].records == [{"Code": "NZD"}]
    assert seen[0].url.params["where"] == 'Code=="NZD"'


def test_a_list_body_over_the_lazy_size_keeps_its_records_as_text_until_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from xero_assets.xero import client as client_module
    from xero_assets.xero.lazy_json import LazyRecords

    records = [{"RepeatingInvoiceID": f"r-{n}", "Total": n} for n in range(50)]
    monkeypatch.setattr(client_module, "LAZY_BODY_BYTES", 200)
    with _client(lambda r: _ok("RepeatingInvoices", records)) as client:
        [page] = client.for_tenant(TENANT).iter_pages(catalog.get("repeating_invoices").endpoint)
        small = client.for_tenant(TENANT).get_json("/api.xro/2.0/RepeatingInvoices")  # no lazy_list: decoded
    assert isinstance(page.records, LazyRecords) and list(page.records) == records
    assert small["RepeatingInvoices"] == records


def test_a_large_body_cut_off_is_retried_and_then_reported_as_a_bad_response(monkeypatch: pytest.MonkeyPatch) -> None:
    from xero_assets.xero import client as client_module

    monkeypatch.setattr(client_module, "LAZY_BODY_BYTES", 10)
    content = json.dumps({"RepeatingInvoices": [{"RepeatingInvoiceID": "r-1"}, {"RepeatingInvoiceID": "r-2"}]})
    cut = httpx.Response(200, content=content[:-12].encode(), headers={"content-type": "application/json"})
    seen, handler = _recorder(lambda r: cut)
    with _client(handler) as client, pytest.raises(BadResponse, match="truncated"):
        list(client.for_tenant(TENANT).iter_pages(catalog.get("repeating_invoices").endpoint))
    assert len(seen) == 4  # the first call and three retries, as for any cut-off body
