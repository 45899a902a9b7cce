"""Xero's report document shape: Header / Section / Row / SummaryRow with string cells, and the date parameters.

Shared by every report so that they all format amounts ("-1850.00"), dates and account attributes the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from xero_assets.sandbox.books.ids import add_months
from xero_assets.sandbox.books.model import Account
from xero_assets.sandbox.books.query import VALIDATION, QueryError, param
from xero_assets.sandbox.books.render import ms_time

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books

Json = dict[str, Any]


def amount(cents: int) -> str:
    """Cents as Xero's report string: 185000 -> "1850.00", -5 -> "-0.05" (exact, no float)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def cell(value: str, attributes: Mapping[str, str] | None = None) -> Json:
    out: Json = {"Value": value}
    if attributes:
        out["Attributes"] = [{"Id": key, "Value": val} for key, val in attributes.items()]
    return out


def header(*titles: str) -> Json:
    return {"RowType": "Header", "Cells": [cell(t) for t in titles]}


def account_row(account: Account, values: Iterable[str]) -> Json:
    """A row for one account: its name carries the `account` attribute (AccountID), as do its amount cells."""
    attrs = {"account": account.id}
    return {"RowType": "Row", "Cells": [cell(account.name, attrs), *(cell(v, attrs) for v in values)]}


def row(title: str, values: Iterable[str]) -> Json:
    return {"RowType": "Row", "Cells": [cell(title), *(cell(v) for v in values)]}


def summary(title: str, values: Iterable[str]) -> Json:
    return {"RowType": "SummaryRow", "Cells": [cell(title), *(cell(v) for v in values)]}


def section(title: str, rows: list[Json]) -> Json:
    return {"RowType": "Section", "Title": title, "Rows": rows}


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def document(books: Books, report_id: str, name: str, titles: list[str], rows: list[Json]) -> Json:
    """The ReportWithRow object: ReportID, names, titles, the date it was run and its rows."""
    today = books.now().date()
    return {
        "ReportID": report_id,
        "ReportName": name,
        "ReportType": report_id,
        "ReportTitles": titles,
        "ReportDate": long_date(today),
        "UpdatedDateUTC": ms_time(books.now()),
        "Fields": [],
        "Rows": rows,
    }


def date_param(params: Mapping[str, str], name: str, default: date) -> date:
    raw = param(params, name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise QueryError(VALIDATION, f"'{raw}' is not a valid date for {name}") from None


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = param(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(VALIDATION, f"'{raw}' is not a whole number for {name}") from None
    if not low <= value <= high:
        raise QueryError(VALIDATION, f"{name} must be between {low} and {high}")
    return value


TIMEFRAME_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def timeframe_param(params: Mapping[str, str]) -> int:
    raw = (param(params, "timeframe") or "MONTH").upper()
    if raw not in TIMEFRAME_MONTHS:
        raise QueryError(VALIDATION, f"timeframe must be one of MONTH, QUARTER, YEAR (got {raw!r})")
    return TIMEFRAME_MONTHS[raw]


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_last(day: date) -> date:
    return date.fromordinal(add_months(day.replace(day=1), 1).toordinal() - 1)


def financial_year_start(books: Books, day: date) -> date:
    """The first day of the financial year containing `day` (the day after FinancialYearEndDay/Month)."""
    p = books.profile
    end_this_year = month_last(date(day.year, p.fy_end_month, 1)).replace(day=p.fy_end_day)
    start = date.fromordinal(end_this_year.toordinal() + 1)
    return start if start <= day else add_months(start, -12)
