"""Which report requests cover the current month and each of the last 12 months, in the fewest calls.

Xero's report parameters decide the count: ProfitAndLoss takes `periods` (up to 12) + `timeframe=MONTH`, so 13
months come back in ONE call; BalanceSheet allows 11 comparisons and BudgetSummary 12 columns (its timeframe is an
integer, 1 = month), so they take two; TrialBalance and
ExecutiveSummary take one `date` and BankSummary one `fromDate`/`toDate`, so they need one call per month; the aged
reports need one call per contact, and only contacts with something outstanding are worth one; published GST/BAS
reports are one list call plus one call per published report. The plan depends only on "today", so a test, the
benchmark and the sync agree on it.

What a sync re-reads (`incremental`): past months rarely change, so after the first read only the requests covering
the current month and the months a change touched are re-read; for reports whose month-end figures include every
earlier posting (balance sheet, trial balance, executive summary, bank summary) a change in month M touches M and
every later month. A periodic full re-read (`full_reread_interval`, default weekly) catches what no cursor sees
(quiet edits, back-dated changes a cursor missed). Aged-by-contact reports are read for the contacts whose invoices
changed, then the stalest (a contact never read is as stale as the tenant's first aged read), within a per-sync
budget (`choose_contacts`).

Financial-year awareness: 13 monthly columns always include the start of the organisation's current financial year
(it is at most 12 months back), so year-to-date figures are sums of those columns, not extra calls;
`financial_year_start` says which columns.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from xero_assets.settings import whole_number

MONTHS_BACK = 12  # the current month plus this many before it
FULL_REREAD_DAYS = 7  # default; XERO_ASSETS_REPORTS_FULL_REREAD_DAYS overrides
AGED_CONTACTS_PER_SYNC = 100  # default per aged report per sync; XERO_ASSETS_AGED_CONTACTS_PER_SYNC overrides

Month = tuple[int, int]


@dataclass(frozen=True)
class ReportRequest:
    """One call: `period` is the key its response is stored under (stable across runs, so re-reads upsert)."""

    period: str
    params: dict[str, str] = field(default_factory=dict)
    path_suffix: str = ""  # appended to the catalog path (published reports: /{ReportID})
    covers: tuple[date, date] | None = None  # the first and last day the response's figures cover

    @property
    def months(self) -> set[Month]:
        """The calendar months this response covers (what decides whether a change makes it worth re-reading)."""
        if self.covers is None:
            return set()
        (start, end), out = self.covers, set()
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            out.add((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def covers_label(self) -> dict[str, str] | None:
        """The period as stored beside the response ({"From": ..., "To": ...}, ISO dates)."""
        return None if self.covers is None else {"From": self.covers[0].isoformat(), "To": self.covers[1].isoformat()}


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
            out.append(ReportRequest(key, params, covers=(date(y0, m0, 1), month_end(y1, m1))))
        return out
    if api_name in ("trial_balance", "executive_summary"):
        return [
            ReportRequest(f"{y:04d}-{m:02d}", {"date": iso(month_end(y, m))}, covers=(date(y, m, 1), month_end(y, m)))
            for y, m in span
        ]
    if api_name == "bank_summary":
        return [
            ReportRequest(
                f"{y:04d}-{m:02d}",
                {"fromDate": iso(date(y, m, 1)), "toDate": iso(month_end(y, m))},
                covers=(date(y, m, 1), month_end(y, m)),
            )
            for y, m in span
        ]
    if api_name in ("aged_receivables_by_contact", "aged_payables_by_contact"):
        return [
            ReportRequest(contact, {"contactId": contact, "date": iso(today)}, covers=(today, today))
            for contact in contacts
        ]
    raise KeyError(f"no report plan for {api_name!r}")


AGED_INVOICE_TYPE = {"aged_receivables_by_contact": "ACCREC", "aged_payables_by_contact": "ACCPAY"}


# Reports whose figures at a month's end include every posting before it: a change in month M moves M and every
# later month. Profit and loss and budget columns are each month's own.
CUMULATIVE = frozenset({"balance_sheet", "trial_balance", "executive_summary", "bank_summary"})


def full_reread_interval() -> timedelta:
    """How often every month of every report is re-read whatever the cursors say (0 days: every sync)."""
    return timedelta(days=whole_number("XERO_ASSETS_REPORTS_FULL_REREAD_DAYS", FULL_REREAD_DAYS))


def aged_contacts_per_sync() -> int:
    """How many contacts' aged reports one sync may read, per aged report."""
    return whole_number("XERO_ASSETS_AGED_CONTACTS_PER_SYNC", AGED_CONTACTS_PER_SYNC)


def months_touched(api_name: str, today: date, changed: Iterable[date]) -> set[Month]:
    """The months of `api_name` a change on any of the `changed` dates can have moved, plus the current month."""
    span = months(today)
    touched = {(d.year, d.month) for d in changed}
    out = {span[-1]}
    if api_name in CUMULATIVE and touched:
        earliest = min(touched)
        return out | {m for m in span if m >= earliest}
    return out | (touched & set(span))


def incremental(requests: Sequence[ReportRequest], needed: set[Month], stored: Iterable[str]) -> list[ReportRequest]:
    """The requests worth re-reading: those covering a needed month, and any whose response is not stored yet."""
    have = set(stored)
    return [r for r in requests if r.period not in have or r.months & needed]


def choose_contacts(
    outstanding: Sequence[str],
    changed: Iterable[str],
    last_read: Mapping[str, datetime],
    now: datetime,
    budget: int,
    stale_after: timedelta,
) -> list[str]:
    """Whose aged report to read this sync, at most `budget`: first contacts whose invoices changed since the last
    read (including any paid off since, so their stored report stops showing a debt); then outstanding contacts
    whose read is older than `stale_after`, oldest first. Deterministic, so the contacts a budget leaves out are the
    first read next time.

    A contact never read counts as read when the tenant's first aged report was: on the first sync every outstanding
    contact is due (within the budget), and the ones the budget left out wait for the periodic re-read instead of
    costing the budget again on every routine sync. The ageing datasets come from invoices, so these reports only
    feed checks, and a week-old sample of contacts keeps them meaningful."""
    open_now = set(outstanding)
    changed_set = {c for c in changed if c in open_now or c in last_read}
    first_read = min(last_read.values(), default=now - stale_after)
    read_at = {c: last_read.get(c, first_read) for c in open_now}
    stale = sorted(
        (c for c in open_now if c not in changed_set and now - read_at[c] >= stale_after),
        key=lambda c: (c in last_read, read_at[c], c),
    )
    first = sorted(changed_set)
    return (first + stale)[:budget]
