"""The financial statements from monthly account movements: pure functions on small frames.

Input is what SQL aggregated out of the journal lines (never the lines themselves): one row per account and month
with the month's net (debits positive) and its debits alone. From that, every statement is prefix sums per account:
a trial balance and balance sheet are cumulative, a P&L is one month, and the organisation's financial year decides
where this year's profit stops and retained earnings begin, exactly as Xero's reports split them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from xero_assets.datasets.chart import (
    BS_ASSETS,
    BS_LIABILITIES,
    CLASS_OF_TYPE,
    PNL_CLASSES,
    PNL_SECTIONS,
    RETAINED_EARNINGS,
    bs_section,
    pnl_section,
)
from xero_assets.datasets.money import ZERO, financial_year_start, money, month_end

ACCOUNT_COLUMNS = ("account_id", "account_code", "account_name", "account_type", "account_class", "system_account")
MOVEMENT_COLUMNS = ("account_id", "month", "net", "debits")
STATEMENT_COLUMNS = (
    "month", "month_end", "section", "line", "kind", "account_id", "account_code", "account_name", "amount", "source",
)  # fmt: skip
TRIAL_BALANCE_COLUMNS = (
    "month", "month_end", "account_id", "account_code", "account_name", "account_type", "account_class",
    "debit", "credit", "balance", "source",
)  # fmt: skip
CASH_COLUMNS = (
    "month", "month_end", "account_id", "account_code", "account_name",
    "opening_balance", "received", "spent", "net_movement", "closing_balance", "source",
)  # fmt: skip
CURRENT_YEAR_EARNINGS = "Current Year Earnings"


@dataclass(frozen=True)
class MonthlyLedger:
    """Movements per account over a run of months, with prefix sums so any balance is one subtraction."""

    accounts: pd.DataFrame  # ACCOUNT_COLUMNS, one row per account, indexed by account_id
    months: list[str]
    cumulative: dict[str, list[Decimal]]  # account -> running net at the end of each month (index as `months`)
    net: dict[str, list[Decimal]]
    debits: dict[str, list[Decimal]]
    fy_end_month: int
    source: str

    def at(self, account: str, index: int) -> Decimal:
        """Net balance (debit positive) at the end of months[index]; before the first month, zero."""
        return self.cumulative[account][index] if index >= 0 else ZERO

    def between(self, account: str, first: int, last: int) -> Decimal:
        return self.at(account, last) - self.at(account, first - 1)

    def fy_start_index(self, index: int) -> int:
        """Index of the first month of the financial year containing months[index] (may be before the data)."""
        start = financial_year_start(self.months[index], self.fy_end_month)
        return next((i for i, m in enumerate(self.months) if m >= start), index)

    def of_class(self, classes: Iterable[str]) -> list[str]:
        wanted = set(classes)
        return [a for a in self.accounts.index if self.accounts.at[a, "account_class"] in wanted]

    def retained_account(self) -> str | None:
        found = self.accounts.index[self.accounts["system_account"] == RETAINED_EARNINGS]
        return str(found[0]) if len(found) else None


def monthly_ledger(
    movements: pd.DataFrame, accounts: pd.DataFrame, months: list[str], fy_end_month: int, source: str = "journals"
) -> MonthlyLedger:
    """Prefix sums per account over `months` (movements before the first month are carried into it, so balances
    stay whole; months with no movement repeat the balance). Accounts that only appear in movements (the chart was
    not synced) keep what the journal lines said about them."""
    known = accounts.set_index("account_id")[list(ACCOUNT_COLUMNS[1:])] if not accounts.empty else None
    chart = known if known is not None else pd.DataFrame(columns=list(ACCOUNT_COLUMNS[1:]))
    extra = sorted(set(movements["account_id"]) - set(chart.index))
    if extra:
        guessed = movements.drop_duplicates("account_id").set_index("account_id").reindex(extra)
        guess = pd.DataFrame(
            {
                "account_code": guessed.get("account_code"),
                "account_name": guessed.get("account_name"),
                "account_type": guessed.get("account_type"),
                "account_class": [CLASS_OF_TYPE.get(t, "") for t in guessed.get("account_type", [""] * len(extra))],
                "system_account": None,
            },
            index=pd.Index(extra, name="account_id"),
        )
        chart = pd.concat([chart, guess]) if len(chart) else guess
    chart = chart.copy()
    chart["account_class"] = [
        c if isinstance(c, str) and c else CLASS_OF_TYPE.get(str(t), "")
        for c, t in zip(chart["account_class"], chart["account_type"], strict=True)
    ]
    position = {m: i for i, m in enumerate(months)}
    net = {a: [ZERO] * len(months) for a in chart.index}
    debits = {a: [ZERO] * len(months) for a in chart.index}
    for account, month, amount, debit in movements[list(MOVEMENT_COLUMNS)].itertuples(index=False):
        if month > months[-1]:
            continue
        index = position.get(month, 0)  # earlier than the first month: part of its opening
        net[account][index] += money(amount)
        debits[account][index] += money(debit) if month in position else ZERO
    cumulative = {}
    for account, values in net.items():
        running, out = ZERO, []
        for value in values:
            running += value
            out.append(running)
        cumulative[account] = out
    return MonthlyLedger(chart, months, cumulative, net, debits, fy_end_month, source)


def _account_fields(ledger: MonthlyLedger, account: str) -> dict[str, object]:
    row = ledger.accounts.loc[account]
    return {"account_id": account, "account_code": row["account_code"], "account_name": row["account_name"]}


def _line(month: str, section: str, line: str, kind: str, amount: Decimal, source: str, **account: object) -> dict:
    return {"month": month, "month_end": month_end(month), "section": section, "line": line, "kind": kind,
            "account_id": account.get("account_id"), "account_code": account.get("account_code"),
            "account_name": account.get("account_name", line), "amount": amount, "source": source}  # fmt: skip


def _frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _earnings(ledger: MonthlyLedger, index: int) -> tuple[Decimal, Decimal]:
    """(this financial year's P&L net, every earlier year's P&L net) at the end of months[index], debit positive."""
    start = ledger.fy_start_index(index)
    pnl_accounts = ledger.of_class(PNL_CLASSES)
    this_year = sum((ledger.between(a, start, index) for a in pnl_accounts), ZERO)
    before = sum((ledger.at(a, start - 1) for a in pnl_accounts), ZERO)
    return this_year, before


def trial_balance(ledger: MonthlyLedger) -> pd.DataFrame:
    """Every account with a balance at each month end, debit or credit: balance-sheet accounts cumulative, P&L
    accounts year to date, and retained earnings carrying every earlier year's profit, as Xero's TrialBalance."""
    rows = []
    retained = ledger.retained_account()
    pnl_accounts = set(ledger.of_class(PNL_CLASSES))
    for index, month in enumerate(ledger.months):
        start = ledger.fy_start_index(index)
        _, before = _earnings(ledger, index)
        for account in ledger.accounts.index:
            if account in pnl_accounts:
                balance = ledger.between(account, start, index)
            else:
                balance = ledger.at(account, index) + (before if account == retained else ZERO)
            if balance == 0:
                continue
            info = ledger.accounts.loc[account]
            rows.append({
                "month": month, "month_end": month_end(month), **_account_fields(ledger, account),
                "account_type": info["account_type"], "account_class": info["account_class"],
                "debit": max(balance, ZERO), "credit": max(-balance, ZERO), "balance": balance,
                "source": ledger.source,
            })  # fmt: skip
        if retained is None and before:
            rows.append({"month": month, "month_end": month_end(month), "account_id": "Retained Earnings",
                         "account_code": None, "account_name": "Retained Earnings", "account_type": "EQUITY",
                         "account_class": "EQUITY", "debit": max(before, ZERO), "credit": max(-before, ZERO),
                         "balance": before, "source": ledger.source})  # fmt: skip
    return _frame(rows, TRIAL_BALANCE_COLUMNS)


def profit_and_loss(ledger: MonthlyLedger) -> pd.DataFrame:
    """Each month's P&L by account in Xero's sections, with section totals, gross profit and net profit (amounts as
    Xero shows them: income and expenses both positive in their own sections)."""
    rows = []
    by_section: dict[str, list[str]] = {name: [] for name, _, _ in PNL_SECTIONS}
    signs = {name: sign for name, _, sign in PNL_SECTIONS}
    for account in ledger.accounts.index:
        placed = pnl_section(str(ledger.accounts.at[account, "account_type"]))
        if placed is not None:
            by_section[placed[0]].append(account)
    for index, month in enumerate(ledger.months):
        totals: dict[str, Decimal] = {}
        for section, accounts in by_section.items():
            subtotal = ZERO
            for account in accounts:
                amount = signs[section] * ledger.net[account][index]
                if amount:
                    subtotal += amount
                    rows.append(_line(month, section, account, "account", amount, ledger.source,
                                      **_account_fields(ledger, account)))  # fmt: skip
            totals[section] = subtotal
            rows.append(_line(month, section, f"Total {section}", "total", subtotal, ledger.source))
            if section == "Cost of Sales":
                gross = totals["Income"] - subtotal
                rows.append(_line(month, "", "Gross Profit", "total", gross, ledger.source))
        net = totals["Income"] - totals["Cost of Sales"] + totals["Other Income"] - totals["Operating Expenses"]
        rows.append(_line(month, "", "Net Profit", "total", net, ledger.source))
    return _frame(rows, STATEMENT_COLUMNS)


def balance_sheet(ledger: MonthlyLedger) -> pd.DataFrame:
    """The balance sheet at each month end: cumulative balances in Xero's sections, with Current Year Earnings and
    retained earnings split at the organisation's financial-year start, and the totals Xero prints."""
    rows = []
    retained = ledger.retained_account()
    placed: dict[str, list[tuple[str, int]]] = {}
    for account in ledger.accounts.index:
        info = ledger.accounts.loc[account]
        if info["account_class"] in PNL_CLASSES or account == retained:
            continue
        section, sign = bs_section(str(info["account_type"]), str(info["account_class"]))
        placed.setdefault(section, []).append((account, sign))
    for index, month in enumerate(ledger.months):
        subtotal: dict[str, Decimal] = {}
        for section in [name for name, _ in (*BS_ASSETS, *BS_LIABILITIES)] + ["Equity"]:
            value = ZERO
            for account, sign in placed.get(section, []):
                amount = sign * ledger.at(account, index)
                if amount:
                    value += amount
                    rows.append(_line(month, section, account, "account", amount, ledger.source,
                                      **_account_fields(ledger, account)))  # fmt: skip
            subtotal[section] = value
            if section != "Equity":
                rows.append(_line(month, section, f"Total {section}", "total", value, ledger.source))
        assets = sum((subtotal[name] for name, _ in BS_ASSETS), ZERO)
        liabilities = sum((subtotal[name] for name, _ in BS_LIABILITIES), ZERO)
        this_year, before = _earnings(ledger, index)
        current = -this_year
        retained_value = -(before + (ledger.at(retained, index) if retained else ZERO))
        rows.append(_line(month, "", "Total Assets", "total", assets, ledger.source))
        rows.append(_line(month, "", "Total Liabilities", "total", liabilities, ledger.source))
        rows.append(_line(month, "", "Net Assets", "total", assets - liabilities, ledger.source))
        rows.append(_line(month, "Equity", CURRENT_YEAR_EARNINGS, "earnings", current, ledger.source))
        fields = _account_fields(ledger, retained) if retained else {"account_name": "Retained Earnings"}
        rows.append(_line(month, "Equity", retained or "Retained Earnings", "earnings", retained_value, ledger.source,
                          **fields))  # fmt: skip
        equity = subtotal["Equity"] + current + retained_value
        rows.append(_line(month, "Equity", "Total Equity", "total", equity, ledger.source))
    return _frame(rows, STATEMENT_COLUMNS)


def cash_by_month(ledger: MonthlyLedger) -> pd.DataFrame:
    """Opening, received, spent and closing per bank account for EVERY month, movement or not, so a month's cash
    summed from this table is the organisation's whole bank balance."""
    banks = ledger.accounts.index[ledger.accounts["account_type"] == "BANK"]
    rows = []
    for index, month in enumerate(ledger.months):
        for account in banks:
            opening, closing = ledger.at(account, index - 1), ledger.at(account, index)
            received = ledger.debits[account][index]
            net = closing - opening
            rows.append({"month": month, "month_end": month_end(month), **_account_fields(ledger, account),
                         "opening_balance": opening, "received": received, "spent": received - net,
                         "net_movement": net, "closing_balance": closing, "source": ledger.source})  # fmt: skip
    return _frame(rows, CASH_COLUMNS)


def months_of(first: date | None, as_at: date) -> tuple[str, str]:
    """The dataset's month span: from the first movement (or the as-at month) to the as-at month."""
    last = f"{as_at.year:04d}-{as_at.month:02d}"
    start = f"{first.year:04d}-{first.month:02d}" if first else last
    return min(start, last), last
