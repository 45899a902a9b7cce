"""Who may read what: the xero-tenant-id header (403) and scopes, broad and granular, per endpoint (401)."""

from __future__ import annotations

import httpx
import pytest

from xero_assets.catalog import CATALOG, SYNCABLE, XeroApi
from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import AU, BROAD, GB, NZ, US, call, connect

_COUNTRY_TENANT = {"AU": AU, "NZ": NZ, "GB": GB, "US": US}


def _tenant_serving(api: XeroApi) -> tuple[str, str]:
    """A stand-in tenant whose country has this API, and the path it is served on there."""
    for country, tenant in _COUNTRY_TENANT.items():
        endpoint = api.endpoint_for(country)
        if endpoint is not None:
            path = endpoint.full_path.replace("{EmployeeID}", "e1")
            return tenant, path
    raise AssertionError(f"{api.name} is served nowhere")


def test_missing_tenant_header_is_403_authentication_unsuccessful(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    response = call(http, sb, access, "/api.xro/2.0/Invoices", tenant=None)
    assert response.status_code == 403
    body = response.json()
    assert body["Title"] == "Forbidden" and body["Detail"] == "AuthenticationUnsuccessful" and body["Type"] is None


def test_unknown_or_unconnected_tenant_is_403(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, tenant_ids=[AU])["access_token"]
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant=NZ).status_code == 403  # exists, not connected
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant="not-a-tenant").status_code == 403
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant=AU).status_code == 200
    assert call(http, sb, access, "/api.xro/2.0/Invoices", tenant=AU.upper()).status_code == 200


def test_connections_need_no_tenant_header(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb)["access_token"]
    assert call(http, sb, access, "/connections", tenant=None).status_code == 200


@pytest.mark.parametrize(
    ("scope", "allowed", "denied"),
    [
        ("accounting.transactions.read", "/api.xro/2.0/Invoices", "/api.xro/2.0/Contacts"),
        ("accounting.transactions", "/api.xro/2.0/Payments", "/api.xro/2.0/Accounts"),
        ("accounting.settings.read", "/api.xro/2.0/Accounts", "/api.xro/2.0/Invoices"),
        ("accounting.contacts.read", "/api.xro/2.0/Contacts", "/api.xro/2.0/Reports/BalanceSheet"),
        ("accounting.reports.read", "/api.xro/2.0/Reports/ProfitAndLoss", "/api.xro/2.0/Journals"),
        ("accounting.invoices.read", "/api.xro/2.0/Invoices", "/api.xro/2.0/Payments"),
        ("accounting.invoices.read", "/api.xro/2.0/Items", "/api.xro/2.0/BankTransactions"),
        ("accounting.payments.read", "/api.xro/2.0/Overpayments", "/api.xro/2.0/Invoices"),
        ("accounting.banktransactions.read", "/api.xro/2.0/BankTransfers", "/api.xro/2.0/ManualJournals"),
        ("accounting.manualjournals.read", "/api.xro/2.0/ManualJournals", "/api.xro/2.0/Receipts"),
        (
            "accounting.reports.balancesheet.read",
            "/api.xro/2.0/Reports/BalanceSheet",
            "/api.xro/2.0/Reports/ProfitAndLoss",
        ),
        ("accounting.journals.read", "/api.xro/2.0/Journals", "/api.xro/2.0/Budgets"),
        ("payroll.employees.read", "/payroll.xro/1.0/Employees", "/api.xro/2.0/Organisation"),
    ],
)
def test_scope_grants_its_endpoints_and_denies_others_with_401_authorization_unsuccessful(
    sb: SandboxHandle, http: httpx.Client, scope: str, allowed: str, denied: str
):
    access = connect(http, sb, scope)["access_token"]
    assert call(http, sb, access, allowed).status_code == 200
    refused = call(http, sb, access, denied)
    assert refused.status_code == 401
    assert refused.json()["Detail"] == "AuthorizationUnsuccessful" and refused.json()["Title"] == "Unauthorized"


def test_every_catalog_api_is_readable_with_each_of_its_scopes_and_no_other(sb: SandboxHandle, http: httpx.Client):
    """Both styles, every API: the catalog's scopes are the whole truth the sandbox enforces."""
    all_scopes = sorted({s for api in CATALOG for s in api.all_scopes()})
    tokens = {scope: connect(http, sb, scope)["access_token"] for scope in all_scopes}
    for api in SYNCABLE:
        tenant, path = _tenant_serving(api)
        for scope, access in tokens.items():
            status = call(http, sb, access, path, tenant=tenant).status_code
            expected = 200 if scope in api.all_scopes() else 401
            assert status == expected, (api.name, scope, status)


def test_broad_and_granular_scopes_can_be_mixed_in_one_token(sb: SandboxHandle, http: httpx.Client):
    access = connect(http, sb, f"{BROAD} accounting.reports.aged.read")["access_token"]
    assert call(http, sb, access, "/api.xro/2.0/Reports/AgedReceivablesByContact").status_code == 200
    assert call(http, sb, access, "/api.xro/2.0/Reports/TrialBalance").status_code == 401
