"""The accounting spec's GETs beyond the catalog: what Xero serves but xero-assets does not sync.

A client may still call them (and one written against Xero will), so the sandbox answers each as Xero's accounting
OpenAPI spec (xero_accounting.yaml, vendored in xero_assets_tests/openapi) describes, for the countries Xero serves
it in, from the same books through the same `TenantBooks` calls (`get` and `list`) the catalog routes use:

- `/{Collection}/{id}/History`: the record's history and notes (`HistoryRecords`), its creation and last change;
- `/{Collection}/{id}/Attachments`, `.../Attachments/{AttachmentID}` and `.../Attachments/{FileName}`: the list and
  the file's bytes (books/attachments.py decides which records have one), scope `accounting.attachments(.read)`;
- `/{Invoices|CreditNotes|PurchaseOrders|Quotes}/{id}/pdf`: the document as a PDF;
- `/Invoices/{id}/OnlineInvoice`: the online invoice URL (sales invoices that are not drafts, as Xero);
- `/Contacts/{id}/CISSettings`, `/Organisation/{id}/CISSettings`: the UK Construction Industry Scheme (GB only);
- `/Organisation/Actions`: what the organisation may do through the API (`UseMulticurrency`, ...);
- `/PaymentServices`, `/BrandingThemes/{id}/PaymentServices`: custom payment services, scope `paymentservices`;
- `/Reports` for GB and US organisations: published tax reports there are none (an empty `Reports`; AU and NZ list
  their GST/BAS returns through the catalog's `tax_reports`);
- `/Reports/TenNinetyNine` (US only): the 1099-NEC report, Box 1 per supplier paid in `reportYear`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from xero_assets.catalog import BY_NAME, XeroApi
from xero_assets.sandbox.books.attachments import attachment, pdf
from xero_assets.sandbox.state import TenantBooks
from xero_assets.xero.dates import parse

ATTACHMENT_SCOPES = ("accounting.attachments", "accounting.attachments.read")
PAYMENT_SERVICE_SCOPES = ("paymentservices",)
TEN99_SCOPES = ("accounting.reports.read", "accounting.reports.tenninetynine.read")


@dataclass(frozen=True)
class Call:
    """What an extra GET has to work with: the tenant's books, path arguments, query parameters, base URL."""

    books: TenantBooks
    args: Mapping[str, str]
    params: Mapping[str, str]
    base_url: str
    today: date


@dataclass(frozen=True)
class Json:
    key: str
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class File:
    content: bytes
    media_type: str


Answer = Json | File | None  # None: Xero's 404


@dataclass(frozen=True)
class Extra:
    template: str  # the spec's path under /api.xro/2.0, e.g. "/Invoices/{id}/History"
    parent: XeroApi | None  # the catalog API whose record the path names (and whose scopes it needs by default)
    answer: Callable[[Call], Answer]
    scopes: tuple[str, ...] = ()  # empty: the parent's
    countries: frozenset[str] | None = None

    def is_granted(self, granted: set[str]) -> bool:
        if self.scopes:
            return any(scope in granted for scope in self.scopes)
        return self.parent is not None and self.parent.is_granted(granted)

    def serves(self, country: str) -> bool:
        return self.countries is None or country in self.countries


# --- answers ---------------------------------------------------------------------------------------------------------
def _record(call: Call, api: XeroApi) -> dict[str, Any] | None:
    return call.books.get(api, api.endpoint, call.args["id"])


def _history(api: XeroApi) -> Callable[[Call], Answer]:
    def answer(call: Call) -> Answer:
        record = _record(call, api)
        if record is None:
            return None
        stamp = next((record[k] for k in ("UpdatedDateUTC", "CreatedDateUTC", "Date") if record.get(k)), None)
        stamp = stamp or (record.get("Schedule") or {}).get("StartDate")  # repeating invoices carry no stamps
        label = record.get(api.endpoint.id_field or "") if api.endpoint.id_field else ""
        for field in ("InvoiceNumber", "CreditNoteNumber", "PurchaseOrderNumber", "QuoteNumber", "Name", "Reference"):
            if record.get(field):
                label = record[field]
                break
        dated = {"DateUTC": stamp} if stamp else {}
        rows = [{"Changes": "Created", **dated, "User": "System Generated", "Details": f"{label} created."}]
        status = record.get("Status")
        if status in ("VOIDED", "DELETED", "PAID", "ARCHIVED"):
            rows.insert(0, {"Changes": status.title(), **dated, "User": "System Generated", "Details": ""})
        return Json("HistoryRecords", rows)

    return answer


def _attachment_json(call: Call, api: XeroApi, path: str, found: tuple[str, str, bytes]) -> dict[str, Any]:
    attachment_id, file_name, content = found
    return {
        "AttachmentID": attachment_id,
        "FileName": file_name,
        "Url": f"{call.base_url}/api.xro/2.0/{path}/{call.args['id']}/Attachments/{file_name}",
        "MimeType": "application/pdf",
        "ContentLength": len(content),
        "IncludeOnline": False,
    }


def _attachments(api: XeroApi, path: str) -> Callable[[Call], Answer]:
    def answer(call: Call) -> Answer:
        if _record(call, api) is None:
            return None
        found = attachment(api.name, call.args["id"])
        return Json("Attachments", [_attachment_json(call, api, path, found)] if found else [])

    return answer


def _attachment_file(api: XeroApi) -> Callable[[Call], Answer]:
    def answer(call: Call) -> Answer:
        if _record(call, api) is None:
            return None
        found = attachment(api.name, call.args["id"])
        wanted = call.args["file"].lower()
        if found is None or wanted not in (found[0].lower(), found[1].lower()):
            return None
        return File(found[2], "application/octet-stream")

    return answer


def _pdf(api: XeroApi) -> Callable[[Call], Answer]:
    def answer(call: Call) -> Answer:
        record = _record(call, api)
        if record is None:
            return None
        number = next((v for k, v in record.items() if k.endswith("Number") and v), call.args["id"])
        return File(pdf(f"{api.title} {number} total {record.get('Total', 0)}"), "application/pdf")

    return answer


def _online_invoice(call: Call) -> Answer:
    record = _record(call, BY_NAME["invoices"])
    if record is None or record.get("Type") != "ACCREC" or record.get("Status") in ("DRAFT", "DELETED"):
        return None
    token = uuid.uuid5(uuid.NAMESPACE_URL, f"online:{record['InvoiceID']}").hex
    return Json("OnlineInvoices", [{"OnlineInvoiceUrl": f"https://in.xero.com/{token}"}])


def _contact_cis(call: Call) -> Answer:
    return None if _record(call, BY_NAME["contacts"]) is None else Json("CISSettings", [{"CISEnabled": False}])


def _organisation_cis(call: Call) -> Answer:
    organisation = call.books.get(BY_NAME["organisation"], BY_NAME["organisation"].endpoint, call.args["id"])
    if organisation is None:
        return None
    return Json("CISSettings", [{"CISContractorEnabled": False, "CISSubContractorEnabled": False}])


# What Xero lists under /Organisation/Actions (the spec's example set), all allowed on a paid organisation.
_ACTIONS = (
    "CreateApprovedInvoice",
    "CreateDraftPurchaseOrder",
    "CreateApprovedBill",
    "AttachFilesIntoInvoice",
    "UseMulticurrency",
    "CreateApprovedPayment",
    "CreateApprovedQuote",
)


def _actions(call: Call) -> Answer:
    starter = call.books.tier == "starter"
    return Json(
        "Actions",
        [
            {"Name": name, "Status": "NOT-ALLOWED" if starter and name == "UseMulticurrency" else "ALLOWED"}
            for name in _ACTIONS
        ],
    )


def _payment_service(books: TenantBooks) -> dict[str, Any]:
    return {
        "PaymentServiceID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"payment-service:{books.tenant_id}")),
        "PaymentServiceName": "Card payments",
        "PaymentServiceUrl": f"https://pay.example.com/{books.short_code.lstrip('!')}",
        "PayNowText": "Pay by card",
        "PaymentServiceType": "CUSTOM",
    }


def _payment_services(call: Call) -> Answer:
    return Json("PaymentServices", [_payment_service(call.books)])


def _theme_payment_services(call: Call) -> Answer:
    theme = call.books.get(BY_NAME["branding_themes"], BY_NAME["branding_themes"].endpoint, call.args["id"])
    return None if theme is None else Json("PaymentServices", [_payment_service(call.books)])


def _no_published_reports(call: Call) -> Answer:
    return Json("Reports", [])


def _ten_ninety_nine(call: Call) -> Answer:
    """1099-NEC: per supplier, what was paid to it in the year (Box 1, nonemployee compensation), from its bills."""
    from xero_assets.sandbox.books.query import Query, QueryError

    raw = call.params.get("reportYear") or str(call.today.year - 1)
    if not raw.isdigit():
        raise QueryError("ValidationException", f"reportYear must be a year such as 2025 (got {raw!r})")
    year = int(raw)
    invoices = BY_NAME["invoices"]
    page = call.books.list(invoices, invoices.endpoint, Query.from_params({}))
    paid: dict[str, tuple[str, float]] = {}
    for bill in page.records:
        if bill.get("Type") != "ACCPAY" or not bill.get("FullyPaidOnDate"):
            continue
        paid_on = parse(bill["FullyPaidOnDate"])
        if paid_on is None or paid_on.year != year:
            continue
        contact = bill["Contact"]
        name, total = paid.get(contact["ContactID"], (contact.get("Name", ""), 0.0))
        paid[contact["ContactID"]] = (name, round(total + float(bill.get("Total", 0)), 2))
    contacts = [
        {"ContactId": contact_id, "Name": name, "BusinessName": name, "LegalName": name, "Box1": total,
         "Box2": 0.0, "Box3": 0.0, "Box4": 0.0, "FederalTaxIDType": "EIN", "TaxID": "", "Email": "",
         "StreetAddress": "", "City": "", "State": "", "Zip": "", "FederalTaxClassification": "C_CORP"}
        for contact_id, (name, total) in sorted(paid.items(), key=lambda item: item[1][0])
    ]  # fmt: skip
    report = {"ReportName": "1099-NEC report", "ReportDate": f"1 Jan {year} to 31 Dec {year}", "Fields": [],
              "Contacts": contacts}  # fmt: skip
    return Json("Reports", [report])


# --- the table -------------------------------------------------------------------------------------------------------
_HISTORY = ("batch_payments", "bank_transactions", "bank_transfers", "contacts", "credit_notes", "expense_claims",
            "invoices", "items", "manual_journals", "overpayments", "payments", "prepayments", "purchase_orders",
            "quotes", "receipts", "repeating_invoices")  # fmt: skip
_ATTACHMENTS = ("accounts", "bank_transactions", "bank_transfers", "contacts", "credit_notes", "invoices",
                "manual_journals", "purchase_orders", "quotes", "receipts", "repeating_invoices")  # fmt: skip
_PDFS = ("credit_notes", "invoices", "purchase_orders", "quotes")


def _collection(api: XeroApi) -> str:
    return api.endpoint.path.strip("/")


def _table() -> list[Extra]:
    out: list[Extra] = []
    for name in _HISTORY:
        api = BY_NAME[name]
        out.append(Extra(f"/{_collection(api)}/{{id}}/History", api, _history(api)))
    for name in _ATTACHMENTS:
        api, path = BY_NAME[name], _collection(BY_NAME[name])
        out.append(Extra(f"/{path}/{{id}}/Attachments", api, _attachments(api, path), ATTACHMENT_SCOPES))
        out.append(Extra(f"/{path}/{{id}}/Attachments/{{file}}", api, _attachment_file(api), ATTACHMENT_SCOPES))
    for name in _PDFS:
        api = BY_NAME[name]
        out.append(Extra(f"/{_collection(api)}/{{id}}/pdf", api, _pdf(api)))
    settings, contacts = BY_NAME["organisation"], BY_NAME["contacts"]
    out += [
        Extra("/Invoices/{id}/OnlineInvoice", BY_NAME["invoices"], _online_invoice),
        Extra("/Contacts/{id}/CISSettings", contacts, _contact_cis, countries=frozenset({"GB"})),
        Extra("/Organisation/{id}/CISSettings", settings, _organisation_cis, countries=frozenset({"GB"})),
        Extra("/Organisation/Actions", settings, _actions),
        Extra("/PaymentServices", None, _payment_services, PAYMENT_SERVICE_SCOPES),
        Extra("/BrandingThemes/{id}/PaymentServices", None, _theme_payment_services, PAYMENT_SERVICE_SCOPES),
        Extra("/Reports", BY_NAME["tax_reports"], _no_published_reports, countries=frozenset({"GB", "US"})),
        Extra("/Reports/TenNinetyNine", None, _ten_ninety_nine, TEN99_SCOPES, frozenset({"US"})),
    ]
    return out


EXTRAS: tuple[Extra, ...] = tuple(_table())


def compile_template(template: str) -> re.Pattern[str]:
    """A path template as Xero's router matches it: any case, one optional trailing slash."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


_COMPILED = [(compile_template("/api.xro/2.0" + extra.template), extra) for extra in EXTRAS]


def resolve(path: str, country: str | None = None) -> tuple[Extra, dict[str, str]] | None:
    """The extra GET at `path` (for `country`, when given), with its path arguments."""
    for pattern, extra in _COMPILED:
        match = pattern.match(path)
        if match and (country is None or extra.serves(country)):
            return extra, match.groupdict()
    return None
