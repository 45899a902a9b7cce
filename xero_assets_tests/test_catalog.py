"""The catalog is checked against Xero's official OpenAPI specs, so the whole system rests on Xero's facts."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from xero_assets import catalog
from xero_assets.catalog import ApiBase, Endpoint, Paging, XeroApi
from xero_assets_tests.conftest import OPENAPI_DIR

SPEC_FILES = {
    (ApiBase.ACCOUNTING, None): "xero_accounting.yaml",
    (ApiBase.PAYROLL_AU, None): "xero-payroll-au.yaml",
    (ApiBase.PAYROLL_V2, "NZ"): "xero-payroll-nz.yaml",
    (ApiBase.PAYROLL_V2, "GB"): "xero-payroll-uk.yaml",
}


@cache
def load_spec(name: str) -> dict[str, Any]:
    return yaml.safe_load((OPENAPI_DIR / name).read_text())


def endpoints() -> list[tuple[XeroApi, Endpoint, str | None]]:
    out = []
    for api in catalog.CATALOG:
        if api.removed:
            continue
        out.append((api, api.endpoint, None))
        out += [(api, endpoint, country) for country, endpoint in api.regional.items()]
    return out


def operation(endpoint: Endpoint, country: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = load_spec(SPEC_FILES[(endpoint.base, country)])
    path = endpoint.path.replace("{EmployeeID}", "{EmployeeID}")
    assert path in spec["paths"], f"{endpoint.full_path} is not in {SPEC_FILES[(endpoint.base, country)]}"
    return spec, spec["paths"][path]["get"]


def parameter_names(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    names = set()
    for param in op.get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].split("/")[-1]]
        names.add(param["name"])
    return names


CASES = endpoints()
IDS = [f"{api.name}{'-' + country if country else ''}" for api, _, country in CASES]


@pytest.mark.parametrize(("api", "endpoint", "country"), CASES, ids=IDS)
def test_every_endpoint_exists_with_its_scopes(api: XeroApi, endpoint: Endpoint, country: str | None) -> None:
    _, op = operation(endpoint, country)
    spec_scopes = {scope for block in op.get("security", []) for scope in block.get("OAuth2", [])}
    assert set(api.scopes) <= spec_scopes, f"{api.name}: catalog {api.scopes} vs spec {sorted(spec_scopes)}"


@pytest.mark.parametrize(("api", "endpoint", "country"), CASES, ids=IDS)
def test_paging_and_if_modified_since_match_the_spec(api: XeroApi, endpoint: Endpoint, country: str | None) -> None:
    spec, op = operation(endpoint, country)
    params = parameter_names(spec, op)
    expected_paging = {
        Paging.PAGE_SIZE: {"page", "pageSize"},
        Paging.PAGE_ONLY: {"page"},
        Paging.OFFSET: {"offset"},
    }.get(endpoint.paging, set())
    assert expected_paging <= params, f"{api.name}: spec parameters {sorted(params)}"
    if endpoint.paging is not Paging.PAGE_SIZE:
        assert "pageSize" not in params, f"{api.name} takes pageSize in the spec: page it with Paging.PAGE_SIZE"
    assert endpoint.modified_since == ("If-Modified-Since" in params), f"{api.name}: If-Modified-Since mismatch"
    for name in endpoint.params:
        assert name in params, f"{api.name} sends {name}, which the spec does not accept"


@pytest.mark.parametrize(("api", "endpoint", "country"), CASES, ids=IDS)
def test_json_key_is_the_response_collection(api: XeroApi, endpoint: Endpoint, country: str | None) -> None:
    spec, op = operation(endpoint, country)
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    assert endpoint.json_key in schema["properties"], f"{api.name}: {sorted(schema['properties'])}"


def test_every_paged_endpoint_in_xero_docs_pages_here() -> None:
    """xero-api.md: exactly nine accounting endpoints take pageSize."""
    paged = {api.endpoint.json_key for api in catalog.CATALOG if api.endpoint.paging is Paging.PAGE_SIZE}
    assert paged == {
        "Invoices", "Contacts", "CreditNotes", "BankTransactions", "ManualJournals", "Payments", "PurchaseOrders",
        "Prepayments", "Overpayments",
    }  # fmt: skip


def test_scopes_grant_by_broad_or_granular_and_name_the_missing_one() -> None:
    invoices = catalog.get("invoices")
    assert invoices.is_granted(["accounting.transactions.read"])
    assert invoices.is_granted(["accounting.invoices.read"])
    assert not invoices.is_granted(["accounting.payments.read", "accounting.settings.read"])
    assert invoices.missing_scope(["offline_access"]) == "accounting.transactions.read"
    assert catalog.get("profit_and_loss").is_granted(["accounting.reports.profitandloss.read"])
    assert not catalog.get("balance_sheet").is_granted(["accounting.reports.profitandloss.read"])


def test_payroll_goes_to_the_api_of_the_organisations_country() -> None:
    employees = catalog.get("payroll_employees")
    assert employees.endpoint_for("AU").base is ApiBase.PAYROLL_AU
    assert employees.endpoint_for("NZ").base is ApiBase.PAYROLL_V2
    assert employees.endpoint_for("GB").json_key == "employees"
    assert employees.endpoint_for("US") is None


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: accounts"):
        catalog.get("invoice")
