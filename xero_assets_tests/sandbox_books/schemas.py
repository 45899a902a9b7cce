"""Validate sandbox responses against the response schemas of Xero's OpenAPI specs (vendored in ../openapi)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import yaml
from openapi_schema_validator import OAS30ReadValidator

from xero_assets.catalog import ApiBase, Endpoint
from xero_assets.xero.dates import format_ms
from xero_assets_tests.conftest import OPENAPI_DIR

SPEC_FILES = {"ACCOUNTING": "xero_accounting.yaml", "AU": "xero-payroll-au.yaml", "NZ": "xero-payroll-nz.yaml",
              "GB": "xero-payroll-uk.yaml"}  # fmt: skip


@cache
def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((OPENAPI_DIR / name).read_text())


def spec_for(endpoint: Endpoint, country: str) -> str:
    if endpoint.base is ApiBase.ACCOUNTING:
        return SPEC_FILES["ACCOUNTING"]
    if endpoint.base is ApiBase.PAYROLL_AU:
        return SPEC_FILES["AU"]
    return SPEC_FILES[country]


@cache
def validator(spec_name: str, path: str) -> Callable[[Any], None]:
    """A function that raises ValidationError unless a document matches GET `path`'s 200 JSON response schema."""
    spec = load(spec_name)
    response = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = {**response, "components": spec["components"]}
    checker = OAS30ReadValidator(schema, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
    return lambda document: checker.validate(document)


def single_path(spec_name: str, list_path: str) -> str | None:
    """The spec's single-record path beside a list path (/Invoices -> /Invoices/{InvoiceID})."""
    for path in load(spec_name)["paths"]:
        rest = path[len(list_path) :]
        if path.startswith(list_path + "/{") and rest.count("/") == 1 and rest.endswith("}"):
            return path
    return None


def envelope(endpoint: Endpoint, key: str, records: Any, pagination: dict[str, int] | None = None) -> dict[str, Any]:
    """The response document as Xero wraps it, round-tripped through JSON like a client receives it."""
    if endpoint.base is ApiBase.PAYROLL_V2:
        body: dict[str, Any] = {"id": "3f0c8d5e-5d4e-4c57-9b0e-6d9a7b5f2e11", "providerName": "test",
                                "dateTimeUTC": "2026-11-24T07:00:00.000", "httpStatusCode": "OK"}  # fmt: skip
    else:
        body = {"Id": "3f0c8d5e-5d4e-4c57-9b0e-6d9a7b5f2e11", "Status": "OK", "ProviderName": "test",
                "DateTimeUTC": format_ms(__import__("datetime").datetime(2026, 11, 24), with_offset=False)}  # fmt: skip
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = records
    return json.loads(json.dumps(body))
