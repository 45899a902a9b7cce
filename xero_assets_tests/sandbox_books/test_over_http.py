"""The books through the real sandbox server: a client paging over HTTP gets exactly the ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from xero_assets import catalog
from xero_assets.catalog import Paging
from xero_assets.sandbox.books import build_world
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.sandbox.state import SandboxConfig
from xero_assets.xero.dates import format_if_modified_since
from xero_assets_tests.sandbox_books.conftest import FixedClock

SCOPES = (
    "offline_access accounting.settings.read accounting.contacts.read accounting.transactions.read "
    "accounting.journals.read accounting.reports.read accounting.budgets.read payroll.employees.read"
)
PAGED = [api for api in catalog.SYNCABLE if api.endpoint.paging is Paging.PAGE_SIZE]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SandboxHandle, httpx.Client, str]]:
    world = build_world(seed=21, tenants=4, size="small", clock=FixedClock())
    with running_sandbox(SandboxConfig(tenants=4, rate_limits="off"), world) as sb, httpx.Client(timeout=30) as http:
        app = sb.app_state.web_app
        code = http.post(f"{sb.base_url}/_sandbox/consent", json={"client_id": app.client_id, "scope": SCOPES})
        assert code.status_code == 200, code.text
        token = http.post(
            f"{sb.base_url}/connect/token",
            data={
                "grant_type": "authorization_code",
                "code": code.json()["code"],
                "redirect_uri": app.redirect_uris[0],
                "client_id": app.client_id,
                "client_secret": app.client_secret or "",
            },
        )
        assert token.status_code == 200, token.text
        yield sb, http, token.json()["access_token"]


def get(served: tuple[SandboxHandle, httpx.Client, str], tenant: str, path: str, **kw: Any) -> httpx.Response:
    sb, http, token = served
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant, "Accept": "application/json"}
    response = http.get(f"{sb.base_url}{path}", headers={**headers, **kw.pop("headers", {})}, **kw)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response


def tenants(served: tuple[SandboxHandle, httpx.Client, str]) -> list[str]:
    return list(served[0].app_state.world.tenants)


def truth(served: tuple[SandboxHandle, httpx.Client, str], tenant: str) -> dict[str, Any]:
    sb, http, _ = served
    return http.get(f"{sb.base_url}/_sandbox/truth/{tenant}").json()


@pytest.mark.parametrize("size", [100, 1000])
def test_paging_every_paged_endpoint_over_http_gets_exactly_the_truth(served: Any, size: int) -> None:
    for tenant in tenants(served):
        expected = truth(served, tenant)["collections"]
        for api in PAGED:
            ids: list[str] = []
            page = 1
            while True:
                body = get(served, tenant, api.endpoint.full_path,
                           params={**api.endpoint.params, "page": page, "pageSize": size}).json()  # fmt: skip
                ids += [r[api.endpoint.id_field] for r in body[api.endpoint.json_key]]
                if page >= body["pagination"]["pageCount"]:
                    break
                page += 1
            assert len(ids) == len(set(ids)) and set(ids) == set(expected[api.name]), (tenant, api.name, size)


def test_journals_over_http_by_offset_then_a_mutation_by_if_modified_since(served: Any) -> None:
    sb, http, _ = served
    tenant = tenants(served)[0]
    numbers, offset = [], 0
    while journals := get(served, tenant, "/api.xro/2.0/Journals", params={"offset": offset}).json()["Journals"]:
        numbers += [j["JournalNumber"] for j in journals]
        offset = numbers[-1]
    assert numbers == list(range(1, len(truth(served, tenant)["collections"]["journals"]) + 1))
    clock = sb.app_state.world.tenants[tenant].clock  # this world runs on its own fixed clock, not the server's
    since = format_if_modified_since(clock.advance(minutes=5))
    created = http.post(f"{sb.base_url}/_sandbox/mutate", json={"tenant_id": tenant, "action": "create",
                                                               "api": "invoices"}).json()  # fmt: skip
    fresh = get(served, tenant, "/api.xro/2.0/Journals", params={"offset": offset}).json()["Journals"]
    assert [j["SourceID"] for j in fresh] == created["ids"]
    changed = get(served, tenant, "/api.xro/2.0/Invoices", headers={"If-Modified-Since": since}).json()["Invoices"]
    assert created["ids"][0] in {i["InvoiceID"] for i in changed}
