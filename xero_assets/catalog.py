"""What exists in Xero: one declarative entry per Xero API that xero-assets syncs.

Everything else reads this table. The sandbox serves exactly these endpoints with these paging and filter
semantics, the client pages them the way each entry says, the warehouse keys rows by `id_field`, and the Dagster
layer builds one asset per entry. Adding a Xero API is one entry here (plus typed columns if a dataset needs them).

The facts come from Xero's OpenAPI specs (XeroAPI/Xero-OpenAPI, vendored in xero_assets_tests/openapi and checked by
`xero_assets_tests/test_catalog.py`) and, for what the specs do not say, from Xero's docs: the 2026 granular scopes
(https://developer.xero.com/faq/granular-scopes) and which lists take pageSize, up to 1,000
(https://developer.xero.com/documentation/api/accounting/requests-and-responses).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class ApiBase(StrEnum):
    """Which Xero API an endpoint lives under; the value is the path prefix on api.xero.com."""

    ACCOUNTING = "/api.xro/2.0"
    PAYROLL_AU = "/payroll.xro/1.0"
    PAYROLL_V2 = "/payroll.xro/2.0"  # NZ and UK


class Paging(StrEnum):
    """How a list endpoint is paged. Getting this wrong is how peers end up with duplicates or gaps."""

    NONE = "none"  # one response holds every record
    PAGE_SIZE = "page_size"  # page (1-based) + pageSize up to 1000, with a `pagination` object
    PAGE_ONLY = "page_only"  # page only, 100 a page, no pagination object: stop on a short page
    OFFSET = "offset"  # Journals: offset = last JournalNumber, 100 at most, oldest first
    PER_EMPLOYEE = "per_employee"  # NZ/UK leave, leave balances: one call per employee, path holds {EmployeeID}


class Kind(StrEnum):
    """What a response carries."""

    RECORDS = "records"  # a list of records, each with an id
    SINGLETON = "singleton"  # one settings object with no id (InvoiceReminders)
    REPORT = "report"  # a Reports/* document of nested rows


class Interface(StrEnum):
    """The product page's permission groups; each asset sits in one (its Dagster group)."""

    SETTINGS = "settings"
    CONTACTS = "contacts"
    TRANSACTIONS = "transactions"
    REPORTS = "reports"
    JOURNALS = "journals"
    PAYROLL = "payroll"


PAGE_SIZE_MAX = 1000
PAGE_ONLY_SIZE = 100
JOURNALS_PAGE_SIZE = 100


@dataclass(frozen=True)
class Endpoint:
    """Where and how one Xero list is read.

    `params` are sent on every call (for example includeArchived=true, so archived records are not silently missed).
    `updated_field` is the timestamp Xero filters If-Modified-Since on, when `modified_since` is true.
    """

    base: ApiBase
    path: str
    json_key: str
    id_field: str | None
    paging: Paging = Paging.NONE
    modified_since: bool = False
    updated_field: str | None = None
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def full_path(self) -> str:
        return f"{self.base.value}{self.path}"


@dataclass(frozen=True)
class XeroApi:
    """One Xero API as xero-assets knows it: an asset, a warehouse table, a sandbox endpoint.

    A tenant may read it when its token holds any scope in `scopes` (the broad 2020-era scopes, read or write)
    or any in `granular_scopes` (the 2026 per-area scopes, read or write). `regional` overrides `endpoint` by the
    organisation's CountryCode: payroll lives in a different API, with a different shape, per country.
    """

    name: str
    title: str
    group: Interface
    endpoint: Endpoint
    scopes: tuple[str, ...]
    granular_scopes: tuple[str, ...] = ()
    kind: Kind = Kind.RECORDS
    regional: Mapping[str, Endpoint] = field(default_factory=lambda: MappingProxyType({}))
    countries: frozenset[str] | None = None  # None: every country
    removed: bool = False  # Xero answers but no longer serves data (kept so the gap is visible, never synced)
    description: str = ""

    def endpoint_for(self, country_code: str) -> Endpoint | None:
        """The endpoint for an organisation in `country_code`, or None where Xero has no such API there."""
        if self.countries is not None and country_code not in self.countries:
            return None
        return self.regional.get(country_code, self.endpoint)

    def all_scopes(self) -> tuple[str, ...]:
        return self.scopes + self.granular_scopes

    def is_granted(self, granted: Iterable[str]) -> bool:
        """True when any granted scope reads this API (a write scope implies read)."""
        have = set(granted)
        return any(scope in have for scope in self.all_scopes())

    def missing_scope(self, granted: Iterable[str]) -> str | None:
        """The scope to ask for when this API is not granted (the read-only broad one), else None."""
        return None if self.is_granted(granted) else self.scopes[-1]


def _read_write(*scopes: str) -> tuple[str, ...]:
    """A scope and its `.read` variant, in that order, for each scope given."""
    out: list[str] = []
    for scope in scopes:
        base = scope.removesuffix(".read")
        out += [base, f"{base}.read"]
    return tuple(out)


_SETTINGS = _read_write("accounting.settings")
_CONTACTS = _read_write("accounting.contacts")
_TRANSACTIONS = _read_write("accounting.transactions")
_REPORTS = ("accounting.reports.read",)
_JOURNALS = ("accounting.journals.read",)
_BUDGETS = ("accounting.budgets.read",)
_PAYROLL = _read_write("payroll.employees")

_INVOICES_G = _read_write("accounting.invoices")
_PAYMENTS_G = _read_write("accounting.payments")
_BANK_G = _read_write("accounting.banktransactions")
_MANUAL_G = _read_write("accounting.manualjournals")
_EXPENSES_G = _read_write("accounting.classicexpenses")

_ARCHIVED = MappingProxyType({"includeArchived": "true"})
_DELETED = MappingProxyType({"includeDeleted": "true"})


def _acc(
    path: str,
    json_key: str,
    id_field: str | None,
    paging: Paging = Paging.NONE,
    modified_since: bool = False,
    updated_field: str | None = "UpdatedDateUTC",
    params: Mapping[str, str] | None = None,
) -> Endpoint:
    return Endpoint(
        base=ApiBase.ACCOUNTING,
        path=path,
        json_key=json_key,
        id_field=id_field,
        paging=paging,
        modified_since=modified_since,
        updated_field=updated_field,
        params=params or MappingProxyType({}),
    )


def _report(
    name: str, title: str, granular: str, path: str | None = None, countries: set[str] | None = None
) -> XeroApi:
    return XeroApi(
        name=name,
        title=title,
        group=Interface.REPORTS,
        kind=Kind.REPORT,
        endpoint=_acc(path or f"/Reports/{title.replace(' ', '')}", "Reports", "ReportID", updated_field=None),
        scopes=_REPORTS,
        granular_scopes=(f"accounting.reports.{granular}.read",),
        countries=frozenset(countries) if countries else None,
    )


P = Paging
CATALOG: tuple[XeroApi, ...] = (
    # --- settings -------------------------------------------------------------------------------------------------
    XeroApi("accounts", "Accounts", Interface.SETTINGS, _acc("/Accounts", "Accounts", "AccountID", modified_since=True), _SETTINGS),
    XeroApi("branding_themes", "Branding themes", Interface.SETTINGS, _acc("/BrandingThemes", "BrandingThemes", "BrandingThemeID", updated_field=None), _SETTINGS),
    XeroApi("currencies", "Currencies", Interface.SETTINGS, _acc("/Currencies", "Currencies", "Code", updated_field=None), _SETTINGS),
    XeroApi("items", "Items", Interface.SETTINGS, _acc("/Items", "Items", "ItemID", modified_since=True), _SETTINGS, _INVOICES_G),
    XeroApi("invoice_reminders", "Invoice reminder settings", Interface.SETTINGS, _acc("/InvoiceReminders/Settings", "InvoiceReminders", None, updated_field=None), _SETTINGS, kind=Kind.SINGLETON),
    XeroApi("organisation", "Organisation", Interface.SETTINGS, _acc("/Organisation", "Organisations", "OrganisationID", updated_field=None), _SETTINGS),
    XeroApi("tax_rates", "Tax rates", Interface.SETTINGS, _acc("/TaxRates", "TaxRates", "TaxType", updated_field=None), _SETTINGS),
    XeroApi("tracking_categories", "Tracking categories", Interface.SETTINGS, _acc("/TrackingCategories", "TrackingCategories", "TrackingCategoryID", updated_field=None, params=_ARCHIVED), _SETTINGS),
    XeroApi("users", "Users", Interface.SETTINGS, _acc("/Users", "Users", "UserID", modified_since=True), _SETTINGS),
    XeroApi(
        "employees", "Employees (accounting, removed)", Interface.SETTINGS,
        _acc("/Employees", "Employees", "EmployeeID", modified_since=True), _SETTINGS, removed=True,
        description="Xero removed the accounting Employees endpoint on 28 April 2026; payroll employees replace it.",
    ),
    # --- contacts -------------------------------------------------------------------------------------------------
    XeroApi("contacts", "Contacts", Interface.CONTACTS, _acc("/Contacts", "Contacts", "ContactID", P.PAGE_SIZE, True, params=_ARCHIVED), _CONTACTS),
    XeroApi("contact_groups", "Contact groups", Interface.CONTACTS, _acc("/ContactGroups", "ContactGroups", "ContactGroupID", updated_field=None), _CONTACTS),
    # --- transactions ---------------------------------------------------------------------------------------------
    XeroApi("bank_transactions", "Bank transactions", Interface.TRANSACTIONS, _acc("/BankTransactions", "BankTransactions", "BankTransactionID", P.PAGE_SIZE, True), _TRANSACTIONS, _BANK_G),
    XeroApi("bank_transfers", "Bank transfers", Interface.TRANSACTIONS, _acc("/BankTransfers", "BankTransfers", "BankTransferID", modified_since=True, updated_field="CreatedDateUTC", params=_DELETED), _TRANSACTIONS, _BANK_G),
    XeroApi("batch_payments", "Batch payments", Interface.TRANSACTIONS, _acc("/BatchPayments", "BatchPayments", "BatchPaymentID", modified_since=True), _TRANSACTIONS, _PAYMENTS_G),
    XeroApi("credit_notes", "Credit notes", Interface.TRANSACTIONS, _acc("/CreditNotes", "CreditNotes", "CreditNoteID", P.PAGE_SIZE, True), _TRANSACTIONS, _INVOICES_G),
    XeroApi("expense_claims", "Expense claims", Interface.TRANSACTIONS, _acc("/ExpenseClaims", "ExpenseClaims", "ExpenseClaimID", modified_since=True), _TRANSACTIONS, _EXPENSES_G),
    XeroApi("invoices", "Invoices", Interface.TRANSACTIONS, _acc("/Invoices", "Invoices", "InvoiceID", P.PAGE_SIZE, True, params=_ARCHIVED), _TRANSACTIONS, _INVOICES_G),
    XeroApi("linked_transactions", "Linked transactions", Interface.TRANSACTIONS, _acc("/LinkedTransactions", "LinkedTransactions", "LinkedTransactionID", P.PAGE_ONLY), _TRANSACTIONS, _INVOICES_G),
    XeroApi("manual_journals", "Manual journals", Interface.TRANSACTIONS, _acc("/ManualJournals", "ManualJournals", "ManualJournalID", P.PAGE_SIZE, True), _TRANSACTIONS, _MANUAL_G),
    XeroApi("overpayments", "Overpayments", Interface.TRANSACTIONS, _acc("/Overpayments", "Overpayments", "OverpaymentID", P.PAGE_SIZE, True), _TRANSACTIONS, _PAYMENTS_G),
    XeroApi("payments", "Payments", Interface.TRANSACTIONS, _acc("/Payments", "Payments", "PaymentID", P.PAGE_SIZE, True), _TRANSACTIONS, _PAYMENTS_G),
    XeroApi("prepayments", "Prepayments", Interface.TRANSACTIONS, _acc("/Prepayments", "Prepayments", "PrepaymentID", P.PAGE_SIZE, True), _TRANSACTIONS, _PAYMENTS_G),
    XeroApi("purchase_orders", "Purchase orders", Interface.TRANSACTIONS, _acc("/PurchaseOrders", "PurchaseOrders", "PurchaseOrderID", P.PAGE_SIZE, True), _TRANSACTIONS, _INVOICES_G),
    XeroApi("quotes", "Quotes", Interface.TRANSACTIONS, _acc("/Quotes", "Quotes", "QuoteID", P.PAGE_ONLY, True), _TRANSACTIONS, _INVOICES_G),
    XeroApi("receipts", "Receipts", Interface.TRANSACTIONS, _acc("/Receipts", "Receipts", "ReceiptID", modified_since=True), _TRANSACTIONS, _EXPENSES_G),
    XeroApi("repeating_invoices", "Repeating invoices", Interface.TRANSACTIONS, _acc("/RepeatingInvoices", "RepeatingInvoices", "RepeatingInvoiceID", updated_field=None), _TRANSACTIONS, _INVOICES_G),
    # --- journals and budgets -------------------------------------------------------------------------------------
    XeroApi(
        "journals", "Journals (general ledger)", Interface.JOURNALS,
        _acc("/Journals", "Journals", "JournalID", P.OFFSET, True, updated_field="CreatedDateUTC"), _JOURNALS,
        description="Immutable general-ledger journals, read by JournalNumber offset, 100 a call, oldest first.",
    ),
    XeroApi("budgets", "Budgets", Interface.REPORTS, _acc("/Budgets", "Budgets", "BudgetID"), _BUDGETS),
    # --- reports --------------------------------------------------------------------------------------------------
    _report("aged_payables_by_contact", "Aged Payables By Contact", "aged"),
    _report("aged_receivables_by_contact", "Aged Receivables By Contact", "aged"),
    _report("balance_sheet", "Balance Sheet", "balancesheet"),
    _report("bank_summary", "Bank Summary", "banksummary"),
    _report("budget_summary", "Budget Summary", "budgetsummary"),
    _report("executive_summary", "Executive Summary", "executivesummary"),
    _report("profit_and_loss", "Profit And Loss", "profitandloss"),
    _report("trial_balance", "Trial Balance", "trialbalance"),
    _report("tax_reports", "Published GST and BAS reports", "taxreports", path="/Reports", countries={"AU", "NZ"}),
    # --- payroll: AU on payroll.xro/1.0, NZ and UK on payroll.xro/2.0 --------------------------------------------
    XeroApi(
        "payroll_employees", "Payroll employees", Interface.PAYROLL,
        Endpoint(ApiBase.PAYROLL_AU, "/Employees", "Employees", "EmployeeID", P.PAGE_ONLY, True, "UpdatedDateUTC"),
        _PAYROLL,
        regional=MappingProxyType({
            country: Endpoint(ApiBase.PAYROLL_V2, "/Employees", "employees", "employeeID", P.PAGE_ONLY, False, "updatedDateUTC")
            for country in ("NZ", "GB")
        }),
        countries=frozenset({"AU", "NZ", "GB"}),
    ),
    XeroApi(
        "payroll_leave", "Payroll leave", Interface.PAYROLL,
        Endpoint(ApiBase.PAYROLL_AU, "/LeaveApplications", "LeaveApplications", "LeaveApplicationID", P.PAGE_ONLY, True, "UpdatedDateUTC"),
        _PAYROLL,
        regional=MappingProxyType({
            country: Endpoint(ApiBase.PAYROLL_V2, "/Employees/{EmployeeID}/Leave", "leave", "leaveID", P.PER_EMPLOYEE, False, "updatedDateUTC")
            for country in ("NZ", "GB")
        }),
        countries=frozenset({"AU", "NZ", "GB"}),
    ),
    # Leave balances: AU payroll carries them only on the single employee (GET /Employees/{EmployeeID} answers the
    # full record with LeaveBalances; the list leaves them out), NZ and UK serve them per employee with no id of
    # their own, so the sync stores one record per employee holding its list. One call per employee either way.
    XeroApi(
        "payroll_leave_balances", "Payroll leave balances", Interface.PAYROLL,
        Endpoint(ApiBase.PAYROLL_AU, "/Employees/{EmployeeID}", "Employees", "EmployeeID", P.PER_EMPLOYEE, False, "UpdatedDateUTC"),
        _PAYROLL,
        regional=MappingProxyType({
            country: Endpoint(ApiBase.PAYROLL_V2, "/Employees/{EmployeeID}/LeaveBalances", "leaveBalances", None, P.PER_EMPLOYEE)
            for country in ("NZ", "GB")
        }),
        countries=frozenset({"AU", "NZ", "GB"}),
    ),
)  # fmt: skip

BY_NAME: Mapping[str, XeroApi] = MappingProxyType({api.name: api for api in CATALOG})
SYNCABLE: tuple[XeroApi, ...] = tuple(api for api in CATALOG if not api.removed)


def get(name: str) -> XeroApi:
    """The catalog entry called `name`, with an error that lists the valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown Xero API {name!r}; known: {', '.join(sorted(BY_NAME))}") from None


def for_path(full_path: str) -> XeroApi | None:
    """The entry serving `full_path` (e.g. "/api.xro/2.0/Invoices"), for the sandbox's router and its scope checks."""
    for api in CATALOG:
        endpoints = (api.endpoint, *api.regional.values())
        if any(endpoint.full_path == full_path for endpoint in endpoints):
            return api
    return None
