"""Xero's reports, every figure read from the same ledger the Journals endpoint serves.

A report is never computed from documents: it sums journal lines per account (through the ledger's running daily
sums), so a client that syncs Journals and adds them up reconciles with TrialBalance, ProfitAndLoss, BalanceSheet and
BankSummary to the cent. Aged reports and the published GST/BAS returns live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from xero_assets.catalog import XeroApi
from xero_assets.sandbox.books.aged import aged_by_contact
from xero_assets.sandbox.books.ids import add_months
from xero_assets.sandbox.books.layout import (
    Json,
    account_row,
    amount,
    date_param,
    document,
    financial_year_start,
    header,
    int_param,
    long_date,
    month_last,
    month_start,
    param,
    row,
    section,
    short_date,
    summary,
    timeframe_param,
)
from xero_assets.sandbox.books.model import Account
from xero_assets.sandbox.books.query import VALIDATION, QueryError
from xero_assets.sandbox.books.tax_returns import published_report, published_reports

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books

Period = tuple[date, date]

# Profit and loss sections in Xero's order: (title, account types, sign that shows the natural balance positive).
_PL_SECTIONS: tuple[tuple[str, frozenset[str], int], ...] = (
    ("Income", frozenset({"REVENUE", "SALES"}), -1),
    ("Less Cost of Sales", frozenset({"DIRECTCOSTS"}), 1),
    ("Other Income", frozenset({"OTHERINCOME"}), -1),
    ("Less Operating Expenses", frozenset({"EXPENSE", "OVERHEADS", "DEPRECIATN"}), 1),
)
_BS_ASSETS = (
    ("Bank", frozenset({"BANK"})),
    ("Current Assets", frozenset({"CURRENT", "INVENTORY", "PREPAYMENT"})),
    ("Fixed Assets", frozenset({"FIXED"})),
    ("Non-current Assets", frozenset({"NONCURRENT"})),
)
_BS_LIABILITIES = (
    ("Current Liabilities", frozenset({"CURRLIAB", "LIABILITY", "PAYG"})),
    ("Non-current Liabilities", frozenset({"TERMLIAB"})),
)


def _accounts(books: Books, klass: str | None = None, types: frozenset[str] | None = None) -> list[Account]:
    return [
        a
        for a in books.accounts_by_code.values()
        if (klass is None or a.klass == klass) and (types is None or a.type in types)
    ]


def profit(books: Books, start: date | None, end: date, option: str | None = None) -> int:
    """Net profit in cents: minus the net of every revenue and expense journal line in the period."""
    ledger = books.ledger
    total = 0
    for account in books.accounts_by_code.values():
        if account.klass in ("REVENUE", "EXPENSE"):
            if option is None:
                total += ledger.balance(account, start, end)
            else:
                total += ledger.tracked_balance(account, option, start, end)
    return -total


def retained_before(books: Books, day: date) -> int:
    """Profit of every year before the one containing `day`, plus the retained earnings account (credit negative)."""
    fy_start = financial_year_start(books, day)
    before = date.fromordinal(fy_start.toordinal() - 1)
    retained = books.account("960")
    return books.ledger.balance(retained, None, day) - profit(books, None, before)


def balance_as_at(books: Books, account: Account, day: date) -> int:
    """What the account holds at `day`: all history for balance-sheet accounts, this year for P&L accounts."""
    start = financial_year_start(books, day) if account.klass in ("REVENUE", "EXPENSE") else None
    return books.ledger.balance(account, start, day)


# --- trial balance -------------------------------------------------------------------------------------------------
def trial_balance(books: Books, params: Mapping[str, str]) -> Json:
    day = date_param(params, "date", books.now().date())
    rows: list[Json] = [header("Account", "Debit", "Credit", "YTD Debit", "YTD Credit")]
    totals = [0, 0]
    for title, klass in (
        ("Revenue", "REVENUE"),
        ("Expenses", "EXPENSE"),
        ("Assets", "ASSET"),
        ("Liabilities", "LIABILITY"),
        ("Equity", "EQUITY"),
    ):
        section_rows = []
        for account in _accounts(books, klass):
            cents = retained_before(books, day) if account.system == "RETAINEDEARNINGS" else None
            cents = balance_as_at(books, account, day) if cents is None else cents
            if cents == 0:
                continue
            debit, credit = max(cents, 0), max(-cents, 0)
            totals[0] += debit
            totals[1] += credit
            values = [amount(debit) if debit else "", amount(credit) if credit else ""]
            section_rows.append(account_row(account, [*values, *values]))
        rows.append(section(title, section_rows))
    total_values = [amount(totals[0]), amount(totals[1])]
    rows.append(section("", [summary("Total", [*total_values, *total_values])]))
    return document(books, "TrialBalance", "Trial Balance", ["Trial Balance", books.name,
                                                             f"As at {long_date(day)}"], rows)  # fmt: skip


# --- profit and loss ---------------------------------------------------------------------------------------------
def _comparisons(start: date, end: date, periods: int, months: int) -> list[Period]:
    """The report's period and `periods` earlier ones, newest first, each `months` long (Xero's columns)."""
    whole_month = start.day == 1 and end == month_last(end)
    out = [(start, end)]
    for k in range(1, periods + 1):
        s = add_months(start, -k * months)
        e = month_last(add_months(end, -k * months)) if whole_month else add_months(end, -k * months)
        out.append((s, e))
    return out


def _period_label(period: Period) -> str:
    start, end = period
    if start.day == 1 and end == month_last(end) and (start.year, start.month) == (end.year, end.month):
        return f"{end:%b %Y}"
    return f"{short_date(start)} - {short_date(end)}" if start != end else short_date(end)


Measure = Callable[[Account, date, date], int]


def _pl_columns(books: Books, params: Mapping[str, str]) -> tuple[list[Period], list[Measure], list[str]]:
    """The report's columns: (period, how to measure an account in it, header label) for each.

    Periods compare earlier months/quarters/years; a trackingOptionID narrows to one option; a trackingCategoryID
    makes one column per option plus "Unassigned" (lines without that category), as Xero lays it out.
    """
    ledger = books.ledger
    today = books.now().date()
    start = date_param(params, "fromDate", month_start(today))
    end = date_param(params, "toDate", month_last(start) if param(params, "fromDate") else month_last(today))
    if end < start:
        raise QueryError(VALIDATION, "toDate must not be before fromDate")
    periods = int_param(params, "periods", 0, 0, 12)
    months = timeframe_param(params)
    spans = _comparisons(start, end, periods, months)
    labels = [_period_label(p) for p in spans]
    everything: Measure = ledger.balance
    category = param(params, "trackingCategoryID")
    option = param(params, "trackingOptionID")

    def tracked(option_id: str) -> Measure:
        return lambda account, s, e: ledger.tracked_balance(account, option_id, s, e)

    if option:
        chosen = [o for o in books.tracking_options if o.id.lower() == option.lower()]
        if not chosen:
            raise QueryError(VALIDATION, f"Tracking option {option} was not found")
        return spans, [tracked(chosen[0].id)] * len(spans), labels
    if category:
        options = [o for o in books.tracking_options if o.category_id.lower() == category.lower()]
        if not options:
            raise QueryError(VALIDATION, f"Tracking category {category} was not found")
        measures = [tracked(o.id) for o in options]

        def unassigned(account: Account, s: date, e: date) -> int:
            return ledger.balance(account, s, e) - sum(m(account, s, e) for m in measures)

        return [spans[0]] * (len(options) + 1), [*measures, unassigned], [*(o.name for o in options), "Unassigned"]
    return spans, [everything] * len(spans), labels


def profit_and_loss(books: Books, params: Mapping[str, str]) -> Json:
    spans, measures, labels = _pl_columns(books, params)

    def value(account: Account, column: int) -> int:
        start, end = spans[column]
        return measures[column](account, start, end)

    columns = range(len(spans))
    rows: list[Json] = [header("", *labels)]
    section_totals: dict[str, list[int]] = {}
    for title, types, sign in _PL_SECTIONS:
        section_rows = []
        totals = [0] * len(spans)
        for account in _accounts(books, types=types):
            values = [sign * value(account, c) for c in columns]
            if not any(values):
                continue
            totals = [t + v for t, v in zip(totals, values, strict=True)]
            section_rows.append(account_row(account, [amount(v) for v in values]))
        name = title.replace("Less ", "")
        section_rows.append(summary(f"Total {name}", [amount(t) for t in totals]))
        rows.append(section(title, section_rows))
        section_totals[title] = totals
        if title == "Less Cost of Sales":
            gross = [i - c for i, c in zip(section_totals["Income"], totals, strict=True)]
            rows.append(section("", [row("Gross Profit", [amount(g) for g in gross])]))
    net = [
        i - c + o - e
        for i, c, o, e in zip(
            section_totals["Income"],
            section_totals["Less Cost of Sales"],
            section_totals["Other Income"],
            section_totals["Less Operating Expenses"],
            strict=True,
        )
    ]
    rows.append(section("", [row("Net Profit", [amount(n) for n in net])]))
    start, end = spans[0]
    titles = ["Profit and Loss", books.name, f"For the period {long_date(start)} to {long_date(end)}"]
    return document(books, "ProfitAndLoss", "Profit and Loss", titles, rows)


# --- balance sheet -------------------------------------------------------------------------------------------------
def balance_sheet(books: Books, params: Mapping[str, str]) -> Json:
    today = books.now().date()
    day = date_param(params, "date", month_last(today))
    periods = int_param(params, "periods", 0, 0, 11)
    months = timeframe_param(params)
    whole = day == month_last(day)
    dates = [month_last(add_months(day, -k * months)) if whole else add_months(day, -k * months)
             for k in range(periods + 1)]  # fmt: skip
    rows: list[Json] = [header("", *(short_date(d) for d in dates))]
    ledger = books.ledger

    def block(groups: tuple[tuple[str, frozenset[str]], ...], sign: int) -> list[int]:
        grand = [0] * len(dates)
        for title, types in groups:
            section_rows, totals = [], [0] * len(dates)
            for account in _accounts(books, types=types):
                values = [sign * ledger.balance(account, None, d) for d in dates]
                if not any(values):
                    continue
                totals = [t + v for t, v in zip(totals, values, strict=True)]
                section_rows.append(account_row(account, [amount(v) for v in values]))
            if section_rows:
                section_rows.append(summary(f"Total {title}", [amount(t) for t in totals]))
                rows.append(section(title, section_rows))
            grand = [g + t for g, t in zip(grand, totals, strict=True)]
        return grand

    rows.append(section("Assets", []))
    assets = block(_BS_ASSETS, 1)
    rows.append(section("", [summary("Total Assets", [amount(a) for a in assets])]))
    rows.append(section("Liabilities", []))
    liabilities = block(_BS_LIABILITIES, -1)
    rows.append(section("", [summary("Total Liabilities", [amount(v) for v in liabilities])]))
    net_assets = [a - v for a, v in zip(assets, liabilities, strict=True)]
    rows.append(section("", [row("Net Assets", [amount(n) for n in net_assets])]))
    equity_rows, equity = [], [0] * len(dates)
    for account in _accounts(books, "EQUITY"):
        if account.system == "RETAINEDEARNINGS":
            continue
        values = [-ledger.balance(account, None, d) for d in dates]
        if any(values):
            equity = [e + v for e, v in zip(equity, values, strict=True)]
            equity_rows.append(account_row(account, [amount(v) for v in values]))
    current = [profit(books, financial_year_start(books, d), d) for d in dates]
    retained = [-retained_before(books, d) for d in dates]
    equity_rows.append(row("Current Year Earnings", [amount(c) for c in current]))
    equity_rows.append(account_row(books.account("960"), [amount(r) for r in retained]))
    equity = [e + c + r for e, c, r in zip(equity, current, retained, strict=True)]
    equity_rows.append(summary("Total Equity", [amount(e) for e in equity]))
    rows.append(section("Equity", equity_rows))
    return document(books, "BalanceSheet", "Balance Sheet", ["Balance Sheet", books.name,
                                                             f"As at {long_date(day)}"], rows)  # fmt: skip


# --- bank summary, budget summary, executive summary ------------------------------------------------------------
def bank_summary(books: Books, params: Mapping[str, str]) -> Json:
    today = books.now().date()
    start = date_param(params, "fromDate", month_start(today))
    end = date_param(params, "toDate", month_last(today) if not param(params, "fromDate") else month_last(start))
    before = date.fromordinal(start.toordinal() - 1)
    ledger = books.ledger
    rows: list[Json] = [header("Bank Accounts", "Opening Balance", "Cash Received", "Cash Spent", "Closing Balance")]
    body, totals = [], [0, 0, 0, 0]
    for account in _accounts(books, types=frozenset({"BANK"})):
        opening = ledger.balance(account, None, before)
        received = ledger.debited(account, start, end)
        spent = received - ledger.balance(account, start, end)
        values = [opening, received, spent, opening + received - spent]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        body.append(account_row(account, [amount(v) for v in values]))
    body.append(summary("Total", [amount(t) for t in totals]))
    rows.append(section("", body))
    titles = ["Bank Summary", books.name, f"From {long_date(start)} to {long_date(end)}"]
    return document(books, "BankSummary", "Bank Summary", titles, rows)


def budget_summary(books: Books, params: Mapping[str, str]) -> Json:
    today = books.now().date()
    day = date_param(params, "date", today)
    periods = int_param(params, "periods", 1, 1, 12)
    raw = param(params, "timeframe") or "1"
    if raw not in ("1", "3", "12"):
        raise QueryError(VALIDATION, f"timeframe for BudgetSummary is 1, 3 or 12 months (got {raw!r})")
    months = int(raw)
    starts = [add_months(month_start(day), k * months) for k in range(periods)]
    budget = next(iter(books.collections["budgets"]), None)
    by_account: dict[str, dict[str, float]] = {}
    if budget is not None:
        for line in budget.lines or []:
            by_account[line["AccountID"]] = {b["Period"]: b["Amount"] for b in line["BudgetBalances"]}
    from xero_assets.sandbox.books.render import ms_date

    def total(account: Account, start: date) -> int:
        balances = by_account.get(account.id, {})
        return sum(round(balances.get(ms_date(add_months(start, m)), 0.0) * 100) for m in range(months))

    rows: list[Json] = [header("Account", *(f"{s:%b-%y}" for s in starts))]
    net = [0] * periods
    for title, klass, sign in (("Income", "REVENUE", 1), ("Expenses", "EXPENSE", -1)):
        body, totals = [], [0] * periods
        for account in _accounts(books, klass):
            values = [total(account, s) for s in starts]
            if not any(values):
                continue
            totals = [t + v for t, v in zip(totals, values, strict=True)]
            body.append(account_row(account, [amount(v) for v in values]))
        body.append(summary(f"Total {title}", [amount(t) for t in totals]))
        rows.append(section(title, body))
        net = [n + sign * t for n, t in zip(net, totals, strict=True)]
    rows.append(section("", [row("Net Profit", [amount(n) for n in net])]))
    return document(books, "BudgetSummary", "Budget Summary", ["Budget Summary", books.name,
                                                               f"From {long_date(starts[0])}"], rows)  # fmt: skip


_COUNTS = frozenset({"Number of invoices issued"})  # executive summary figures that are counts, not money


def executive_summary(books: Books, params: Mapping[str, str]) -> Json:
    day = date_param(params, "date", books.now().date())
    this = (month_start(day), day)
    previous_start = add_months(month_start(day), -1)
    last = (previous_start, month_last(previous_start))
    ledger = books.ledger
    banks = _accounts(books, types=frozenset({"BANK"}))

    def figures(period: Period) -> dict[str, int]:
        start, end = period
        received = sum(ledger.debited(a, start, end) for a in banks)
        net_cash = sum(ledger.balance(a, start, end) for a in banks)

        def section_total(types: frozenset[str], sign: int) -> int:
            return sign * sum(ledger.balance(a, start, end) for a in _accounts(books, types=types))

        income = section_total(_PL_SECTIONS[0][1], -1)
        direct = section_total(_PL_SECTIONS[1][1], 1)
        other = section_total(_PL_SECTIONS[2][1], -1)
        expenses = section_total(_PL_SECTIONS[3][1], 1)
        sales = [d for d in books.collections["invoices"]
                 if d.type == "ACCREC" and start <= d.date <= end and d.status in ("AUTHORISED",)]  # fmt: skip
        return {
            "Cash received": received,
            "Cash spent": received - net_cash,
            "Cash surplus (deficit)": net_cash,
            "Closing bank balance": sum(ledger.balance(a, None, end) for a in banks),
            "Income": income,
            "Direct costs": direct,
            "Gross profit (loss)": income - direct,
            "Other Income": other,
            "Expenses": expenses,
            "Profit (loss)": income - direct + other - expenses,
            "Debtors": ledger.balance(books.controls.ar, None, end),
            "Creditors": -ledger.balance(books.controls.ap, None, end),
            "Number of invoices issued": len(sales),
            "Average value of invoices": sum(d.total for d in sales) // len(sales) if sales else 0,
        }

    now_figures, then_figures = figures(this), figures(last)
    groups = (
        ("Cash", ("Cash received", "Cash spent", "Cash surplus (deficit)", "Closing bank balance")),
        ("Profitability", ("Income", "Direct costs", "Gross profit (loss)", "Other Income", "Expenses",
                           "Profit (loss)")),
        ("Balance Sheet", ("Debtors", "Creditors")),
        ("Income", ("Number of invoices issued", "Average value of invoices")),
    )  # fmt: skip
    rows: list[Json] = [header("", f"{day:%b %Y}", f"{previous_start:%b %Y}", "Variance")]
    for title, names in groups:
        body = []
        for name in names:
            a, b = now_figures[name], then_figures[name]
            variance = f"{(a - b) * 100 / abs(b):.1f}%" if b else "0.0%"
            shown = str if name in _COUNTS else amount
            body.append(row(name, [shown(a), shown(b), variance]))
        rows.append(section(title, body))
    titles = ["Executive Summary", books.name, f"For the month of {day:%B %Y}"]
    return document(books, "ExecutiveSummary", "Executive Summary", titles, rows)


CASH_BASIS_UNSUPPORTED = (
    "paymentsOnly=true (cash basis) is not emulated by the sandbox: its reports and journals are accrual basis"
)

_BUILDERS: dict[str, Callable[[Books, Mapping[str, str]], Json]] = {
    "trial_balance": trial_balance,
    "profit_and_loss": profit_and_loss,
    "balance_sheet": balance_sheet,
    "bank_summary": bank_summary,
    "budget_summary": budget_summary,
    "executive_summary": executive_summary,
    "aged_receivables_by_contact": lambda books, params: aged_by_contact(books, params, receivable=True),
    "aged_payables_by_contact": lambda books, params: aged_by_contact(books, params, receivable=False),
}


def build_report(books: Books, api: XeroApi, params: Mapping[str, str], report_id: str | None) -> Any:
    """One report for `api`; for the published tax reports, the list (no id) or one return (with an id)."""
    if api.name == "tax_reports":
        if report_id is None:
            return published_reports(books)
        found = published_report(books, report_id)
        if found is None:
            raise QueryError(VALIDATION, f"Report {report_id} was not found")
        return found
    if (param(params, "paymentsOnly") or "").lower() == "true":
        raise QueryError(VALIDATION, CASH_BASIS_UNSUPPORTED)
    builder = _BUILDERS.get(api.name)
    if builder is None:
        raise QueryError(VALIDATION, f"{api.title} is not a report this organisation serves")
    return builder(books, params)
