"""Which report requests cover the current month and each of the last 12 months, in the fewest calls.

Xero's report parameters decide the count: ProfitAndLoss takes `periods` (up to 12) + `timeframe=MONTH`, so 13
months come back in ONE call; BalanceSheet allows 11 comparisons and BudgetSummary 12 columns (its timeframe is an
integer, 1 = month), so they take two; TrialBalance and
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


# How many monthly columns one call returns at most: Xero caps `periods` (comparison periods) per report.
COLUMNS_PER_CALL = {"profit_and_loss": 13, "balance_sheet": 12, "budget_summary": 12}


def _chunks(items: list[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    """`items` (oldest first) in runs of at most `size`, the newest run first."""
    newest_first = items[::-1]
    return [newest_first[i : i + size][::-1] for i in range(0, len(newest_first), size)]


def plan(api_name: str, today: date, contacts: Sequence[str] = ()) -> list[ReportRequest]:
    """The requests for one report API (published tax reports are planned after their list call; see sync)."""
    iso = date.isoformat
    span = months(today)
    if api_name in COLUMNS_PER_CALL:
        out = []
        for chunk in _chunks(span, COLUMNS_PER_CALL[api_name]):
            (y0, m0), (y1, m1) = chunk[0], chunk[-1]
            key = f"{y0:04d}-{m0:02d}..{y1:04d}-{m1:02d}"
            comparisons = str(len(chunk) - 1)
            if api_name == "profit_and_loss":
                params = {"fromDate": iso(date(y1, m1, 1)), "toDate": iso(month_end(y1, m1))}
                params |= {"periods": comparisons, "timeframe": "MONTH"}
            elif api_name == "balance_sheet":
                params = {"date": iso(month_end(y1, m1)), "periods": comparisons, "timeframe": "MONTH"}
            else:  # BudgetSummary runs forward from `date`, `periods` columns, timeframe an integer (1 = month)
                params = {"date": iso(date(y0, m0, 1)), "periods": str(len(chunk)), "timeframe": "1"}
            out.append(ReportRequest(key, params))
        return out
    if api_name in ("trial_balance", "executive_summary"):
        return [ReportRequest(f"{y:04d}-{m:02d}", {"date": iso(month_end(y, m))}) for y, m in span]
    if api_name == "bank_summary":
        return [
            ReportRequest(f"{y:04d}-{m:02d}", {"fromDate": iso(date(y, m, 1)), "toDate": iso(month_end(y, m))})
            for y, m in span
        ]
    if api_name in ("aged_receivables_by_contact", "aged_payables_by_contact"):
        return [ReportRequest(contact, {"contactId": contact, "date": iso(today)}) for contact in contacts]
    raise KeyError(f"no report plan for {api_name!r}")


AGED_INVOICE_TYPE = {"aged_receivables_by_contact": "ACCREC", "aged_payables_by_contact": "ACCPAY"}
