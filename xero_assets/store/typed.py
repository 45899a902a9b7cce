"""Typed warehouse tables, generated from small column specs instead of thirty hand-written table functions.

The raw table (`xero_raw_records`) keeps every record losslessly; these tables hold the columns the dashboard
datasets read, with real types (dates, numbers, booleans). A spec names a JSON path per column; a path may list
alternatives because payroll answers in PascalCase for AU and camelCase for NZ/UK. Child tables (line items,
allocations, journal lines, tracking options) hang off a list inside the parent record and are replaced whenever the
parent changes, so a removed line never lingers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from xero_assets.store.db import metadata
from xero_assets.xero import dates

# Column kinds: how a JSON value becomes a SQL value.
STR, NUM, INT, BOOL, DATE, TS = "str", "num", "int", "bool", "date", "ts"
# Exchange rates: Xero quotes CurrencyRate to more places than money's four; cut to four, a foreign document's
# base-currency amount drifts by cents from Xero's own aged reports and ledger.
RATE = "rate"

_SQL_TYPES: Mapping[str, Callable[[], sa.types.TypeEngine[Any]]] = MappingProxyType(
    {
        STR: lambda: sa.String(255),
        NUM: lambda: sa.Numeric(19, 4, asdecimal=True),  # read back as Decimal: money stays exact
        RATE: lambda: sa.Numeric(28, 10, asdecimal=True),
        INT: lambda: sa.BigInteger(),
        BOOL: lambda: sa.Boolean(),
        DATE: lambda: sa.Date(),
        TS: lambda: sa.DateTime(),
    }
)


def _to_str(value: Any) -> str:
    return value if type(value) is str and len(value) <= 255 else str(value)[:255]


def _to_moment(value: Any) -> datetime:
    moment = dates.parse(str(value))
    if moment is None:
        raise ValueError("not a date")
    return moment.replace(tzinfo=None)


def _to_date(value: Any) -> Any:
    return _to_moment(value).date()


def _to_number(value: Any) -> float:
    """A finite number; a bool, "NaN" or "Infinity" is as malformed as "not-a-number"."""
    if type(value) is bool:
        raise ValueError("a boolean, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _to_int(value: Any) -> int:
    if type(value) is bool or (type(value) is float and not value.is_integer()):
        raise ValueError("not a whole number")
    return int(value)


def _to_bool(value: Any) -> bool:
    """JSON true/false, or the strings Xero's XML-era fields sometimes carry; bool("false") would be True."""
    if type(value) is bool:
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError("not a boolean")


# One converter per kind, looked up once per column (this runs for every field of every record stored). A converter
# raises on a value it cannot type; `Col.read` turns that into NULL and a `FieldProblem`, never a failed API.
_CONVERTERS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {STR: _to_str, NUM: _to_number, RATE: _to_number, INT: _to_int, BOOL: _to_bool, DATE: _to_date, TS: _to_moment}
)

# What a converter may raise on a malformed value (float("x") ValueError, float({}) TypeError, huge ints Overflow).
_MALFORMED = (ValueError, TypeError, ArithmeticError)


@dataclass(frozen=True)
class FieldProblem:
    """A field that could not be typed: stored raw as received, NULL in the typed table, reported to the user."""

    api: str
    record_id: str
    field: str
    value: str

    def __str__(self) -> str:
        return f"{self.api} record {self.record_id}: {self.field} = {self.value!r} cannot be typed (stored as NULL)"


@dataclass(frozen=True)
class Col:
    """One typed column: its SQL name, its kind, and the JSON path(s) to read (first present wins)."""

    name: str
    kind: str
    paths: tuple[str, ...]
    sql_name: str = field(init=False, repr=False, compare=False)
    _keys: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _convert: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql_name", self.name.lower())
        object.__setattr__(self, "_keys", tuple(tuple(path.split(".")) for path in self.paths))
        object.__setattr__(self, "_convert", _CONVERTERS[self.kind])

    def read(self, record: Mapping[str, Any], malformed: list[tuple[str, Any]] | None = None) -> Any:
        """The typed value, or None when absent; a value that cannot be typed is None too, and is appended to
        `malformed` as (column, value) so the caller can report it with its API and record id."""
        for keys in self._keys:  # hot loop: plain dict checks, no ABC isinstance
            value: Any = record
            for key in keys:
                if type(value) is dict:
                    value = value.get(key)
                elif type(value) is list and key.isdigit():  # "Tracking.0.Option": the n-th element of a list
                    value = value[int(key)] if int(key) < len(value) else None
                else:
                    value = None
                if value is None:
                    break
            if value is not None and value != "":
                try:
                    return self._convert(value)
                except _MALFORMED:
                    if malformed is not None:
                        malformed.append((self.name, value))
                    return None
        return None


def col(name: str, kind: str = STR, *paths: str) -> Col:
    """A column named `name` read from `paths` (default: the PascalCase name itself)."""
    return Col(name, kind, paths or (name,))


@dataclass(frozen=True)
class ChildSpec:
    """A list inside the parent record (e.g. LineItems) flattened into its own table, one row per element."""

    table_name: str
    list_keys: tuple[str, ...]
    cols: tuple[Col, ...]


@dataclass(frozen=True)
class TypedSpec:
    """The typed table for one catalog API, keyed by (tenant_id, id)."""

    api: str
    table_name: str
    id_col: Col
    cols: tuple[Col, ...]
    children: tuple[ChildSpec, ...] = ()


def _c(*specs: tuple[str, str] | tuple[str, str, str] | str) -> tuple[Col, ...]:
    out = []
    for spec in specs:
        if isinstance(spec, str):
            out.append(col(spec))
        else:
            out.append(col(*spec))
    return tuple(out)


_LINE_ITEMS = _c(
    "LineItemID", "Description", ("Quantity", NUM), ("UnitAmount", NUM), "ItemCode", "AccountCode",
    ("AccountID", STR), "TaxType", ("TaxAmount", NUM), ("LineAmount", NUM), ("DiscountRate", NUM),
    # Xero allows at most two tracking categories per line, so two (category, option) pairs hold them all.
    ("Tracking1Category", STR, "Tracking.0.Name"), ("Tracking1Option", STR, "Tracking.0.Option"),
    ("Tracking2Category", STR, "Tracking.1.Name"), ("Tracking2Option", STR, "Tracking.1.Option"),
)  # fmt: skip
_ALLOCATIONS = _c(("InvoiceID", STR, "Invoice.InvoiceID"), ("Amount", NUM), ("Date", DATE))
_DOC_TOTALS = _c(("SubTotal", NUM), ("TotalTax", NUM), ("Total", NUM), "CurrencyCode", ("CurrencyRate", RATE))
_UPDATED = (col("UpdatedDateUTC", TS),)
_CONTACT = (col("ContactID", STR, "Contact.ContactID"),)


def _lines(table: str, key: str = "LineItems", cols: tuple[Col, ...] = _LINE_ITEMS) -> ChildSpec:
    return ChildSpec(table, (key,), cols)


TYPED: tuple[TypedSpec, ...] = (
    TypedSpec(
        "invoices", "xero_invoices", col("InvoiceID"),
        _c("Type", "InvoiceNumber", "Reference", "Status", ("Date", DATE), ("DueDate", DATE),
           ("FullyPaidOnDate", DATE), "LineAmountTypes", ("AmountDue", NUM), ("AmountPaid", NUM),
           ("AmountCredited", NUM), "RepeatingInvoiceID")
        + _CONTACT + _DOC_TOTALS + _UPDATED,
        (_lines("xero_invoice_line_items"),),
    ),
    TypedSpec(
        "credit_notes", "xero_credit_notes", col("CreditNoteID"),
        _c("Type", "CreditNoteNumber", "Status", ("Date", DATE), ("RemainingCredit", NUM), "LineAmountTypes")
        + _CONTACT + _DOC_TOTALS + _UPDATED,
        (_lines("xero_credit_note_line_items"), _lines("xero_credit_note_allocations", "Allocations", _ALLOCATIONS)),
    ),
    TypedSpec(
        "payments", "xero_payments", col("PaymentID"),
        _c(("InvoiceID", STR, "Invoice.InvoiceID"), ("CreditNoteID", STR, "CreditNote.CreditNoteID"),
           ("OverpaymentID", STR, "Overpayment.OverpaymentID"), ("PrepaymentID", STR, "Prepayment.PrepaymentID"),
           ("AccountID", STR, "Account.AccountID"), ("Date", DATE), ("Amount", NUM), ("CurrencyRate", RATE),
           "Status", "PaymentType", "Reference", ("IsReconciled", BOOL))
        + _UPDATED,
    ),
    *(
        TypedSpec(
            api, f"xero_{api}", col(id_name),
            _c("Type", "Status", ("Date", DATE), ("RemainingCredit", NUM)) + _CONTACT + _DOC_TOTALS + _UPDATED,
            (
                _lines(f"xero_{api[:-1]}_line_items"),
                _lines(f"xero_{api[:-1]}_allocations", "Allocations", _ALLOCATIONS),
            ),
        )
        for api, id_name in (("overpayments", "OverpaymentID"), ("prepayments", "PrepaymentID"))
    ),
    TypedSpec(
        "bank_transactions", "xero_bank_transactions", col("BankTransactionID"),
        _c("Type", "Status", "Reference", ("Date", DATE), ("IsReconciled", BOOL),
           ("BankAccountID", STR, "BankAccount.AccountID"))
        + _CONTACT + _DOC_TOTALS + _UPDATED,
        (_lines("xero_bank_transaction_lines"),),
    ),
    TypedSpec(
        "bank_transfers", "xero_bank_transfers", col("BankTransferID"),
        _c(("FromBankAccountID", STR, "FromBankAccount.AccountID"), ("ToBankAccountID", STR, "ToBankAccount.AccountID"),
           ("Amount", NUM), ("Date", DATE), ("CreatedDateUTC", TS), "Status"),
    ),
    TypedSpec(
        "contacts", "xero_contacts", col("ContactID"),
        _c("Name", "ContactStatus", ("IsCustomer", BOOL), ("IsSupplier", BOOL), "EmailAddress", "AccountNumber",
           "DefaultCurrency")
        + _UPDATED,
    ),
    TypedSpec(
        "accounts", "xero_accounts", col("AccountID"),
        _c("Code", "Name", "Type", "Class", "Status", "TaxType", "BankAccountType", "ReportingCode",
           "SystemAccount")
        + _UPDATED,
    ),
    TypedSpec(
        "items", "xero_items", col("ItemID"),
        _c("Code", "Name", ("IsSold", BOOL), ("IsPurchased", BOOL), ("IsTrackedAsInventory", BOOL),
           ("SalesUnitPrice", NUM, "SalesDetails.UnitPrice"), ("PurchaseUnitPrice", NUM, "PurchaseDetails.UnitPrice"),
           ("QuantityOnHand", NUM), ("TotalCostPool", NUM), "InventoryAssetAccountCode")
        + _UPDATED,
    ),
    TypedSpec(
        "purchase_orders", "xero_purchase_orders", col("PurchaseOrderID"),
        _c("PurchaseOrderNumber", "Status", ("Date", DATE), ("DeliveryDate", DATE)) + _CONTACT + _DOC_TOTALS + _UPDATED,
        (_lines("xero_purchase_order_lines"),),
    ),
    TypedSpec(
        "repeating_invoices", "xero_repeating_invoices", col("RepeatingInvoiceID"),
        _c("Type", "Status", ("ScheduleUnit", STR, "Schedule.Unit"), ("SchedulePeriod", INT, "Schedule.Period"),
           ("StartDate", DATE, "Schedule.StartDate"), ("NextScheduledDate", DATE, "Schedule.NextScheduledDate"),
           ("EndDate", DATE, "Schedule.EndDate"))
        + _CONTACT + _DOC_TOTALS,
        (_lines("xero_repeating_invoice_lines"),),
    ),
    TypedSpec(
        "manual_journals", "xero_manual_journals", col("ManualJournalID"),
        _c("Narration", "Status", ("Date", DATE), "LineAmountTypes") + _UPDATED,
        (ChildSpec("xero_manual_journal_lines", ("JournalLines",),
                   _c("AccountCode", "AccountID", "Description", ("LineAmount", NUM), "TaxType", ("TaxAmount", NUM))),),
    ),
    TypedSpec(
        "journals", "xero_journals", col("JournalID"),
        _c(("JournalNumber", INT), ("JournalDate", DATE), ("CreatedDateUTC", TS), "SourceID", "SourceType",
           "Reference"),
        (ChildSpec("xero_journal_lines", ("JournalLines",),
                   _c("JournalLineID", "AccountID", "AccountCode", "AccountType", "AccountName", "Description",
                      ("NetAmount", NUM), ("GrossAmount", NUM), ("TaxAmount", NUM), "TaxType")),),
    ),
    TypedSpec("tax_rates", "xero_tax_rates", col("TaxType"),
              _c("Name", "Status", "ReportTaxType", ("EffectiveRate", NUM), ("DisplayTaxRate", NUM))),
    TypedSpec(
        "tracking_categories", "xero_tracking_categories", col("TrackingCategoryID"), _c("Name", "Status"),
        (ChildSpec("xero_tracking_options", ("Options",), _c("TrackingOptionID", "Name", "Status")),),
    ),
    TypedSpec(
        "payroll_employees", "xero_payroll_employees", col("EmployeeID", STR, "EmployeeID", "employeeID"),
        (col("FirstName", STR, "FirstName", "firstName"), col("LastName", STR, "LastName", "lastName"),
         col("Status", STR, "Status", "status"), col("StartDate", DATE, "StartDate", "startDate"),
         col("TerminationDate", DATE, "TerminationDate", "endDate"),
         col("UpdatedDateUTC", TS, "UpdatedDateUTC", "updatedDateUTC")),
    ),
    # One record per employee (AU: the single employee record; NZ/UK: the sync's wrapper around the employee's
    # list), its balances one row each, keyed by (parent_id = employee id, line_no).
    TypedSpec(
        "payroll_leave_balances", "xero_payroll_balance_employees", col("EmployeeID", STR, "EmployeeID", "employeeID"),
        (col("EmployeeID", STR, "EmployeeID", "employeeID"),),
        (ChildSpec("xero_payroll_leave_balances", ("LeaveBalances", "leaveBalances"),
                   (col("LeaveName", STR, "LeaveName", "name"), col("LeaveTypeID", STR, "LeaveTypeID", "leaveTypeID"),
                    col("NumberOfUnits", NUM, "NumberOfUnits", "balance"),
                    col("TypeOfUnits", STR, "TypeOfUnits", "typeOfUnits"))),),
    ),
    TypedSpec(
        "payroll_leave", "xero_payroll_leave", col("LeaveID", STR, "LeaveApplicationID", "leaveID"),
        (col("EmployeeID", STR, "EmployeeID", "employeeID"), col("LeaveTypeID", STR, "LeaveTypeID", "leaveTypeID"),
         col("Title", STR, "Title", "description"), col("StartDate", DATE, "StartDate", "startDate"),
         col("EndDate", DATE, "EndDate", "endDate"), col("UpdatedDateUTC", TS, "UpdatedDateUTC", "updatedDateUTC")),
    ),
)  # fmt: skip

BY_API: Mapping[str, TypedSpec] = MappingProxyType({spec.api: spec for spec in TYPED})


def _make_table(name: str, key_cols: Iterable[sa.Column[Any]], cols: Iterable[Col]) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        *key_cols,
        *(sa.Column(c.sql_name, _SQL_TYPES[c.kind]()) for c in cols),
    )


def _parent_table(spec: TypedSpec) -> sa.Table:
    return _make_table(spec.table_name, [sa.Column("id", sa.String(255), primary_key=True)], spec.cols)


def _child_table(child: ChildSpec) -> sa.Table:
    keys = [
        sa.Column("parent_id", sa.String(255), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
    ]
    return _make_table(child.table_name, keys, child.cols)


TABLES: Mapping[str, sa.Table] = MappingProxyType(
    {spec.table_name: _parent_table(spec) for spec in TYPED}
    | {child.table_name: _child_table(child) for spec in TYPED for child in spec.children}
)


@dataclass
class TypedRows:
    """Rows for one typed table and its children, built from a batch of records."""

    parent: list[dict[str, Any]] = field(default_factory=list)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)


def typed_rows(spec: TypedSpec, tenant_id: str, records: Iterable[Mapping[str, Any]]) -> TypedRows:
    """Flatten `records` into parent and child rows (column names lower-case, as the tables have them).

    A field that cannot be typed is NULL in its row and listed in `problems` (a line's field is named
    `LineItems[2].UnitAmount`), so one malformed value never costs the record, let alone the API."""
    out = TypedRows(children={child.table_name: [] for child in spec.children})
    malformed: list[tuple[str, Any]] = []
    for record in records:
        record_id = spec.id_col.read(record)
        if record_id is None:
            continue
        row = {"tenant_id": tenant_id, "id": record_id}
        for c in spec.cols:
            row[c.sql_name] = c.read(record, malformed)
        out.parent.append(row)
        for child in spec.children:
            key = next((k for k in child.list_keys if isinstance(record.get(k), list)), None)
            rows = out.children[child.table_name]
            for line_no, item in enumerate(record[key] if key else ()):
                child_row = {"tenant_id": tenant_id, "parent_id": record_id, "line_no": line_no}
                found = len(malformed)
                for c in child.cols:
                    child_row[c.sql_name] = c.read(item, malformed)
                malformed[found:] = [(f"{key}[{line_no}].{name}", value) for name, value in malformed[found:]]
                rows.append(child_row)
        if malformed:
            out.problems += [FieldProblem(spec.api, str(record_id), name, str(value)[:80]) for name, value in malformed]
            malformed.clear()
    return out
