"""Which report requests cover the current month and each of the last 12 months, in the fewest calls.

Xero's report parameters decide the count: ProfitAndLoss and BalanceSheet take `periods` + `timeframe=MONTH`, so 13
months come back in ONE call; BudgetSummary likewise (its timeframe is an integer, 1 = month); TrialBalance and
ExecutiveSummary take one `date` and BankSummary one `fromDate`/`toDate`, so they need one call per month; the aged
reports need one call per contact, and only contacts with something outstanding are worth one; published GST/BAS
reports are one list call plus one call per published report. The plan depends only on "today", so a test, the
benchmark and the sync agree on it.

Financial-year awareness: 13 monthly columns always include the start of the organisation's current financial year
(it is at most 12 months back), so year-to-date figures are sums of those columns, not extra calls;
`financial_year_start` says which columns.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

MONTHS_BACK = 12  # the current month plus this many before it


@dataclass(frozen=True)
class ReportRequest:
    """One call: `period` is the key its response is stored under (stable across runs, so re-reads upsert)."""

    period: str
    params: dict[str, str] = field(default_factory=dict)
    path_suffix: str = ""  # appended to the catalog path (published reports: /{ReportID})


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def months(today: date, back: int = MONTHS_BACK) -> list[tuple[int, int]]:
    """(year, month) of the current month and the `back` months before it, oldest first."""
    out = []
    year, month = today.year, today.month
    for _ in range(back + 1):
        out.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def financial_year_start(today: date, end_month: int | None) -> date:
    """The first day of the financial year containing `today`, from Organisation.FinancialYearEndMonth."""
    start_month = (end_month or 12) % 12 + 1
    return date(today.year if today.month >= start_month else today.year - 1, start_month, 1)


def plan(api_name: str, today: date, contacts: Sequence[str] = ()) -> list[ReportRequest]:
    """The requests for one report API (published tax reports are planned after their list call; see sync)."""
    first_year, first_month = months(today)[0]
    this_month_start = date(today.year, today.month, 1)
    this_month_end = month_end(today.year, today.month)
    periods = str(MONTHS_BACK)
    key = f"{first_year:04d}-{first_month:02d}..{today:%Y-%m}"
    iso = date.isoformat
    if api_name == "profit_and_loss":
        params = {"fromDate": iso(this_month_start), "toDate": iso(this_month_end), "periods": periods}
        return [ReportRequest(key, params | {"timeframe": "MONTH"})]
    if api_name == "balance_sheet":
        return [ReportRequest(key, {"date": iso(this_month_end), "periods": periods, "timeframe": "MONTH"})]
    if api_name == "budget_summary":
        return [ReportRequest(key, {"date": iso(this_month_end), "periods": periods, "timeframe": "1"})]
    if api_name in ("trial_balance", "executive_summary"):
        return [ReportRequest(f"{y:04d}-{m:02d}", {"date": iso(month_end(y, m))}) for y, m in months(today)]
    if api_name == "bank_summary":
        return [
            ReportRequest(f"{y:04d}-{m:02d}", {"fromDate": iso(date(y, m, 1)), "toDate": iso(month_end(y, m))})
            for y, m in months(today)
        ]
    if api_name in ("aged_receivables_by_contact", "aged_payables_by_contact"):
        return [ReportRequest(contact, {"contactId": contact, "date": iso(today)}) for contact in contacts]
    if api_name == "tax_reports":
        return [ReportRequest("published", {})]  # the list; each published report follows as /Reports/{id}
    raise KeyError(f"no report plan for {api_name!r}")


AGED_INVOICE_TYPE = {"aged_receivables_by_contact": "ACCREC", "aged_payables_by_contact": "ACCPAY"}
