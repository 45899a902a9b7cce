"""Published GST (NZ) and BAS (AU) returns: GET /Reports lists them, GET /Reports/{ReportID} returns one.

Each completed tax period (AU quarters from July, NZ two-month periods ending in odd months) becomes a published
return whose boxes come from the ledger's per-tax-type sums, so the GST a client computes from journal lines
(TaxAmount by TaxType) matches the return.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from xero_assets.sandbox.books.ids import add_months, uuid_for
from xero_assets.sandbox.books.layout import Json, amount, cell, document, header, long_date, section

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books

# country: (report name, ReportType, months per period, a month in which a period starts)
_RETURNS = {"AU": ("Activity Statement", "BAS", 3, 7), "NZ": ("GST Return", "GST", 2, 2)}


def _periods(books: Books) -> list[tuple[date, date]]:
    if books.country not in _RETURNS or not books.ledger.journals:
        return []
    _, _, months, anchor = _RETURNS[books.country]
    first = min(j.date for j in books.ledger.journals)
    start = date(first.year - 1, anchor, 1)
    today = books.now().date()
    out = []
    while True:
        end = date.fromordinal(add_months(start, months).toordinal() - 1)
        if end >= today:
            return out
        if end >= first:
            out.append((start, end))
        start = add_months(start, months)


def _report_id(books: Books, start: date) -> str:
    return uuid_for(f"tax-return:{books.tenant_id}:{start.isoformat()}")


def _boxes(books: Books, start: date, end: date) -> list[tuple[str, str, int]]:
    """(FieldID, Description, cents) for the return's boxes, from the ledger's tax-type sums."""
    sales_gross = sales_tax = zero_rated = purchases_gross = purchases_tax = 0
    for rate in books.profile.tax_rates:
        net, tax = books.ledger.tax_totals(rate.tax_type, start, end)
        if rate.sales and not rate.purchases:
            sales_gross -= net + tax
            sales_tax -= tax
            if rate.rate_bp == 0:
                zero_rated -= net
        elif rate.purchases and not rate.sales:
            purchases_gross += net + tax
            purchases_tax += tax
    if books.country == "AU":
        return [
            ("G1", "Total sales", sales_gross),
            ("G3", "Other GST-free sales", zero_rated),
            ("G11", "Non-capital purchases", purchases_gross),
            ("1A", "GST on sales", sales_tax),
            ("1B", "GST on purchases", purchases_tax),
            ("9", "Net amount for this statement", sales_tax - purchases_tax),
        ]
    return [
        ("5", "Total sales and income", sales_gross),
        ("6", "Zero-rated supplies", zero_rated),
        ("8", "Total GST collected on sales and income", sales_tax),
        ("11", "Total purchases and expenses", purchases_gross),
        ("13", "Total GST credit for purchases and expenses", purchases_tax),
        ("15", "GST to pay or refund", sales_tax - purchases_tax),
    ]


def _summary(books: Books, start: date, end: date, with_boxes: bool) -> Json:
    name, type_, _, _ = _RETURNS[books.country]
    rows: list[Json] = []
    fields: list[Json] = []
    if with_boxes:
        boxes = _boxes(books, start, end)
        fields = [{"FieldID": f, "Description": d, "Value": amount(c)} for f, d, c in boxes]
        rows = [
            header("Box", "Description", "Amount"),
            section("", [{"RowType": "Row", "Cells": [cell(f), cell(d), cell(amount(c))]} for f, d, c in boxes]),
        ]
    report = document(books, _report_id(books, start), name, [name, books.name,
                      f"For the period {long_date(start)} to {long_date(end)}"], rows)  # fmt: skip
    report["ReportType"] = type_
    report["ReportTitle"] = f"{name} {long_date(start)} to {long_date(end)}"
    report["ReportDate"] = long_date(end)
    report["Fields"] = fields
    return report


def published_reports(books: Books) -> list[Json]:
    """Every published return, newest first, without its boxes (as GET /Reports lists them)."""
    return [_summary(books, s, e, with_boxes=False) for s, e in reversed(_periods(books))]


def published_report(books: Books, report_id: str) -> Json | None:
    for start, end in _periods(books):
        if _report_id(books, start).lower() == report_id.lower():
            return _summary(books, start, end, with_boxes=True)
    return None
