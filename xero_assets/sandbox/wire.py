"""Xero's wire format: envelopes, JSON with escaped MS dates, XML by default, and every error shape Xero sends.

What the sandbox's data routes return is built here and only here, so a reader can check the bytes in one place
against Xero's "Requests and responses" and "HTTP response codes" pages
(https://developer.xero.com/documentation/api/accounting/requests-and-responses,
https://developer.xero.com/documentation/api/accounting/responsecodes) and the specs' `Error`/`Problem` schemas:

- JSON only when the request's Accept names application/json; anything else (httpx sends `*/*`) gets XML, the
  default of Xero's Accounting and AU Payroll APIs. Payroll NZ/UK (payroll.xro/2.0) is JSON-only.
- Dates are plain `/Date(ms+0000)/` strings in the books; on the wire JSON escapes their slashes, `"\\/Date(...)\\/"`.
- 401/403 are problem-style JSON (`{"Type":null,"Title":...,"Detail":...}`) whatever the Accept header; 404 and 503
  are plain text; 400 is ApiException JSON (`ValidationException`, `QueryParseException`) or problem+json on
  payroll 2.0; 429 carries X-Rate-Limit-Problem and Retry-After.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from starlette.responses import JSONResponse, PlainTextResponse, Response

from xero_assets.catalog import ApiBase
from xero_assets.xero import dates

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
OFFLINE_TEXT = "The Xero API is currently offline for maintenance"
UNHANDLED_TEXT = "An unhandled error with the Xero API. Contact the Xero API team if problems persist"

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ERROR_NUMBERS = {"ValidationException": 10, "QueryParseException": 16}


def iso7(moment: datetime) -> str:
    """ISO without offset and with 7 fractional digits (`2020-08-24T20:16:14.6198711`): .NET's round-trip format,
    which Identity's connection dates and payroll 2.0's dateTimeUTC use."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def wants_json(accept: str | None) -> bool:
    """Xero answers JSON only when asked for it; its default is XML."""
    return accept is not None and "application/json" in accept.lower()


def dumps(data: Any) -> bytes:
    """JSON as Xero writes it: MS dates with escaped slashes (`"\\/Date(1573755038314+0000)\\/"`).

    Two plain replacements instead of a regex: a 1,000-invoice page is megabytes. A string that merely starts with
    `/Date(` or ends with `)/` gets its slash escaped too, which is still the same string to any JSON parser.
    """
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"').encode("utf-8")


class XeroJSONResponse(JSONResponse):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return dumps(content)


# --- envelopes ---------------------------------------------------------------------------------------------------


def envelope(
    base: ApiBase,
    json_key: str,
    records: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    now: datetime,
    provider_name: str,
    pagination: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The response document around `records` (a list, or one object for payroll 2.0's single-record keys)."""
    if base is ApiBase.PAYROLL_V2:
        out: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "providerName": provider_name,
            "dateTimeUTC": iso7(now),
            "httpStatusCode": "OK",
        }
        if pagination is not None:
            out["pagination"] = dict(pagination)
        out["problem"] = None
        out[json_key] = records
        return out
    out = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider_name,
        "DateTimeUTC": dates.format_ms(now, with_offset=False),
    }
    if pagination is not None:
        out["pagination"] = dict(pagination)
    out[json_key] = records
    return out


def document(data: Mapping[str, Any], base: ApiBase, accept: str | None, status: int = 200) -> Response:
    """A data document as JSON or XML, by the Accept header and the API (payroll 2.0 is JSON-only)."""
    if base is ApiBase.PAYROLL_V2 or wants_json(accept):
        return XeroJSONResponse(data, status_code=status)
    return Response(to_xml(data), status_code=status, media_type=XML_TYPE)


# --- XML ---------------------------------------------------------------------------------------------------------


def to_xml(data: Mapping[str, Any], root: str = "Response") -> bytes:
    """Xero-style XML: list keys wrap singular elements (`<Invoices><Invoice>`), MS dates become ISO."""
    element = ElementTree.Element(root)
    _fill(element, data)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=False)


def _fill(parent: ElementTree.Element, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        child = ElementTree.SubElement(parent, key[:1].upper() + key[1:])
        _put(child, key, value)


def _put(element: ElementTree.Element, key: str, value: Any) -> None:
    if isinstance(value, Mapping):
        _fill(element, value)
    elif isinstance(value, list | tuple):
        for item in value:
            _put(ElementTree.SubElement(element, singular(key[:1].upper() + key[1:])), key, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, str) and _MS_DATE.match(value):
        moment = dates.parse(value)
        element.text = moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else ""
    else:
        element.text = str(value)


def singular(name: str) -> str:
    """The element name for one item of a list key (Invoices -> Invoice, Addresses -> Address)."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


# --- errors ------------------------------------------------------------------------------------------------------


def problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """The problem-style body Xero's API gateway sends for 401 and 403."""
    body = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return XeroJSONResponse(body, status_code=status, headers=dict(headers or {}))


def unauthorized(detail: str) -> Response:
    """401: `TokenExpired: token expired at ...`, `AuthorizationUnsuccessful` (scope), `AuthenticationUnsuccessful`."""
    error = "invalid_token" if detail != "AuthorizationUnsuccessful" else "insufficient_scope"
    return problem(401, "Unauthorized", detail, {"WWW-Authenticate": f'Bearer error="{error}"'})


def forbidden() -> Response:
    """403: the xero-tenant-id header is missing, unknown, or not connected for this token."""
    return problem(403, "Forbidden", "AuthenticationUnsuccessful")


def not_found() -> Response:
    return PlainTextResponse(NOT_FOUND_TEXT, status_code=404)


def unavailable(text: str = OFFLINE_TEXT) -> Response:
    return PlainTextResponse(text, status_code=503)


def server_error() -> Response:
    body = {"ErrorNumber": 500, "Type": "UnhandledException", "Message": UNHANDLED_TEXT}
    return XeroJSONResponse(body, status_code=500)


def method_not_allowed() -> Response:
    """Writes are refused: the sandbox is read-only, and the refusal is counted so a test can prove a client is too."""
    return PlainTextResponse("The sandbox serves Xero's read API only (GET)", status_code=405, headers={"Allow": "GET"})


def rate_limited(problem_kind: str, retry_after: int, headers: Mapping[str, str] | None = None) -> Response:
    """429 with the headers clients act on; Xero documents no body, so a short text says what happened."""
    out = {"X-Rate-Limit-Problem": problem_kind, "Retry-After": str(max(1, retry_after)), **(headers or {})}
    return PlainTextResponse(f"Rate limit exceeded: {problem_kind}", status_code=429, headers=out)


def bad_request(error_type: str, message: str, base: ApiBase, accept: str | None) -> Response:
    """400 for a bad query or parameter: ApiException (Accounting, AU Payroll) or problem+json (payroll 2.0)."""
    if base is ApiBase.PAYROLL_V2:
        body: dict[str, Any] = {
            "type": "application/problem+json",
            "title": "BadRequest",
            "status": 400,
            "detail": message,
            "instance": None,
            "invalidFields": [],
        }
        return XeroJSONResponse(body, status_code=400)
    api_exception = {"ErrorNumber": _ERROR_NUMBERS.get(error_type, 10), "Type": error_type, "Message": message}
    if wants_json(accept):
        return XeroJSONResponse(api_exception, status_code=400)
    return Response(to_xml(api_exception, root="ApiException"), status_code=400, media_type=XML_TYPE)
