"""Xero's own reports (as the sync stored them, flattened to cells) turned into the ledger datasets' columns.

Two uses: a tenant without `accounting.journals.read` gets its P&L, balance sheet, trial balance and cash from these
(source `reports`), and the checks compare the journal-built datasets with them line by line. Each month is taken
from the newest request that covered it, so a month re-read by a later sync replaces the older figures.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from xero_assets.datasets.chart import REPORT_SECTION
from xero_assets.datasets.money import money, month_end, month_key
from xero_assets.datasets.statements import CASH_COLUMNS, STATEMENT_COLUMNS, TRIAL_BALANCE_COLUMNS

_LABEL_FORMATS = ("%b %Y", "%d %b %Y", "%b %y", "%d %b %y", "%Y-%m-%d", "%d/%m/%Y")


def column_month(label: str) -> str | None:
    """'YYYY-MM' of a report column header ("Nov 2026", "30 Nov 2026", ...), None when it is not a date."""
    for fmt in _LABEL_FORMATS:
        try:
            return month_key(datetime.strptime(label.strip(), fmt).date())
        except ValueError:
            continue
    return None


def _newest_per_month(cells: pd.DataFrame) -> pd.DataFrame:
    """Only the cells of the newest request per month (`month` column already set)."""
    cells = cells[cells["month"].notna()]
    if cells.empty:
        return cells
    newest = cells.sort_values(["last_seen", "period"]).groupby("month")["period"].last()
    return cells[cells["period"] == cells["month"].map(newest)]


def _accounts_named(accounts: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    if accounts.empty:
        return {}
    return dict(zip(accounts["account_id"], zip(accounts["account_code"], accounts["account_name"], strict=True),
                    strict=True))  # fmt: skip


def _statement(cells: pd.DataFrame, accounts: pd.DataFrame, section_of: dict[str, str] | None) -> pd.DataFrame:
    named = _accounts_named(accounts)
    rows = []
    for cell in cells.itertuples(index=False):
        if cell.value is None or cell.value == "":
            continue
        section = str(cell.section or "")
        if section_of is not None:
            section = section_of.get(section, section)
        account = cell.account_id
        code, name = named.get(account, (None, cell.row_label)) if account else (None, cell.row_label)
        kind = "account" if account else "total"
        if cell.row_label in ("Current Year Earnings",) or (account and section == "Equity" and "Retained" in name):
            kind = "earnings"
        label = name or cell.row_label
        rows.append({"month": cell.month, "month_end": month_end(cell.month), "section": section,
                     "line": account or cell.row_label, "kind": kind, "account_id": account, "account_code": code,
                     "account_name": label, "amount": money(cell.value), "source": "reports"})  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(STATEMENT_COLUMNS))
    return frame.drop_duplicates(["month", "line"], keep="last").reset_index(drop=True)


def _by_column_month(cells: pd.DataFrame) -> pd.DataFrame:
    cells = cells.assign(month=[column_month(str(label or "")) for label in cells["column_label"]])
    return _newest_per_month(cells)


def profit_and_loss(cells: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """ProfitAndLoss (monthly columns) as P&L lines: accounts, section totals, gross and net profit."""
    if cells.empty:
        return pd.DataFrame(columns=list(STATEMENT_COLUMNS))
    frame = _statement(_by_column_month(cells), accounts, dict(REPORT_SECTION))
    totals = frame["kind"] == "total"
    frame.loc[totals, "line"] = frame.loc[totals, "line"].str.replace("Total Less ", "Total ", regex=False)
    return frame


def balance_sheet(cells: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """BalanceSheet (month-end columns) as balance-sheet lines."""
    if cells.empty:
        return pd.DataFrame(columns=list(STATEMENT_COLUMNS))
    return _statement(_by_column_month(cells), accounts, None)


def _by_period_month(cells: pd.DataFrame) -> pd.DataFrame:
    """Reports read one call per month (TrialBalance, BankSummary): the period key is the month."""
    periods = [p if len(str(p)) == 7 and str(p)[4] == "-" else None for p in cells["period"]]
    return _newest_per_month(cells.assign(month=periods))


def _by_account(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[str, dict[int, str]]]:
    """{(month, account id): (row label, {column number: value})} for the rows tied to an account."""
    out: dict[tuple[str, str], tuple[str, dict[int, str]]] = {}
    rows = frame[frame["account_id"].notna()]
    for month, account, label, col_no, value in rows[
        ["month", "account_id", "row_label", "col_no", "value"]
    ].itertuples(index=False, name=None):
        out.setdefault((month, account), (label, {}))[1][int(col_no)] = value
    return out


def trial_balance(cells: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """TrialBalance per month end: each account's debit and credit (the report's first two amount columns)."""
    frame = _by_period_month(cells) if not cells.empty else cells
    if frame.empty:
        return pd.DataFrame(columns=list(TRIAL_BALANCE_COLUMNS))
    chart = {} if accounts.empty else {row[0]: row for row in accounts.itertuples(index=False, name=None)}
    rows = []
    for (month, account), (label, values) in sorted(_by_account(frame).items()):
        debit, credit = money(values.get(1)), money(values.get(2))
        _, code, _, kind, klass, _ = chart.get(account, (account, None, None, None, None, None))
        rows.append({"month": month, "month_end": month_end(month), "account_id": account, "account_code": code,
                     "account_name": label, "account_type": kind, "account_class": klass, "debit": debit,
                     "credit": credit, "balance": debit - credit, "source": "reports"})  # fmt: skip
    return pd.DataFrame(rows, columns=list(TRIAL_BALANCE_COLUMNS))


def bank_summary(cells: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """BankSummary per month: opening, received, spent and closing per bank account."""
    frame = _by_period_month(cells) if not cells.empty else cells
    if frame.empty:
        return pd.DataFrame(columns=list(CASH_COLUMNS))
    named = _accounts_named(accounts)
    rows = []
    for (month, account), (label, values) in sorted(_by_account(frame).items()):
        opening, received, spent, closing = (money(values.get(k)) for k in (1, 2, 3, 4))
        code, _ = named.get(account, (None, None))
        rows.append({"month": month, "month_end": month_end(month), "account_id": account, "account_code": code,
                     "account_name": label, "opening_balance": opening, "received": received, "spent": spent,
                     "net_movement": closing - opening, "closing_balance": closing, "source": "reports"})  # fmt: skip
    return pd.DataFrame(rows, columns=list(CASH_COLUMNS))


def months_read(frame: pd.DataFrame) -> list[str]:
    return sorted(set(frame["month"])) if not frame.empty else []
