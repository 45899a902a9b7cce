"""The ledger datasets: general ledger, trial balance, P&L by month, balance sheet by month, cash by month, KPIs.

With `accounting.journals.read` they are built from the journals (source `journals`): movements summed per account
and month in SQL, then the pure statements in `statements`. Without it, every one Xero's report endpoints can give
is built from the reports the sync stored (source `reports`, same columns); the general ledger cannot be, and is
skipped with what to grant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from xero_assets.datasets import statements, xero_reports
from xero_assets.datasets.general_ledger import general_ledger_chunks
from xero_assets.datasets.kpis import kpi_figures, kpi_summary
from xero_assets.datasets.ledger_reads import account_movements, chart_of_accounts, stored_report
from xero_assets.datasets.money import month_range
from xero_assets.datasets.spec import Builder, DatasetInputs, DatasetSkipped, DatasetSpec

JOURNALS_SCOPE = "accounting.journals.read"
REPORTS_SCOPE = "accounting.reports.read"
GL_NEEDS_JOURNALS = f"grant {JOURNALS_SCOPE} for line-level detail (Xero's reports have no journal lines)"


def uses_journals(inputs: DatasetInputs) -> bool:
    return "journals" in inputs.granted


def accounts(inputs: DatasetInputs) -> pd.DataFrame:
    return inputs.memo("accounts", lambda: chart_of_accounts(inputs))


def monthly_ledger(inputs: DatasetInputs) -> statements.MonthlyLedger:
    """The tenant's movements per account and month (one SQL aggregate per build, shared by four datasets)."""

    def compute() -> statements.MonthlyLedger:
        movements = account_movements(inputs)
        as_at_month = f"{inputs.as_at.year:04d}-{inputs.as_at.month:02d}"
        first = str(movements["month"].min()) if len(movements) else as_at_month
        last = max(as_at_month, str(movements["month"].max()) if len(movements) else as_at_month)
        months = month_range(min(first, as_at_month), last)
        return statements.monthly_ledger(
            movements, accounts(inputs), months, inputs.organisation.financial_year_end_month
        )

    return inputs.memo("monthly_ledger", compute)


def _from_reports(inputs: DatasetInputs, report: str, title: str) -> pd.DataFrame:
    if report not in inputs.granted:
        raise DatasetSkipped(
            f"needs {JOURNALS_SCOPE} (built from the journals) or {REPORTS_SCOPE} (built from Xero's {title} report); "
            "neither was granted: reconnect the organisation with one of them"
        )
    cells = stored_report(inputs, report)
    if cells.empty:
        raise DatasetSkipped(f"no {title} report stored yet for this organisation: sync xero/{report} first")
    return cells


def _statement(
    journals_build: Callable[[statements.MonthlyLedger], pd.DataFrame],
    report: str,
    title: str,
    parse: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
) -> Builder:
    """A statement's builder: from the journals when granted, else from Xero's `report` as the sync stored it."""

    def build(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        if uses_journals(inputs):
            return journals_build(monthly_ledger(inputs))
        return parse(_from_reports(inputs, report, title), accounts(inputs))

    return build


def _general_ledger(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> Iterable[pd.DataFrame]:
    if not uses_journals(inputs):
        raise DatasetSkipped(GL_NEEDS_JOURNALS)
    return general_ledger_chunks(inputs)


def _kpis(inputs: DatasetInputs, upstream: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return kpi_summary(
        upstream["profit_and_loss_by_month"], upstream["balance_sheet_by_month"], upstream["cash_by_month"],
        accounts(inputs), inputs.as_at, inputs.organisation.base_currency,
    )  # fmt: skip


def latest_totals(frame: pd.DataFrame, lines: tuple[str, ...]) -> dict[str, float]:
    """The last complete month's named total lines as numeric metadata (plotted by Dagster run over run)."""
    if frame.empty:
        return {}
    months = sorted(set(frame["month"]))
    month = months[-2] if len(months) > 1 else months[-1]
    rows = frame[(frame["month"] == month) & frame["line"].isin(lines)]
    return {str(line).lower().replace(" ", "_"): float(v) for line, v in zip(rows["line"], rows["amount"], strict=True)}


def _cash_figures(frame: pd.DataFrame) -> dict[str, float]:
    if frame.empty:
        return {}
    last = frame[frame["month"] == frame["month"].max()]
    return {"cash_closing": float(sum(last["closing_balance"])), "bank_accounts": float(len(last))}


_LEDGER_READS = ("journals", "accounts")
DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "general_ledger",
        "Every journal line with its date, journal number, source document, account, contact and tracking; "
        "net, tax and gross to the cent. Needs accounting.journals.read.",
        ("journals", "accounts", "contacts", "invoices", "credit_notes", "bank_transactions", "payments",
         "overpayments", "prepayments", "manual_journals", "bank_transfers"),
        ("journal_id", "line_no"), _general_ledger, money=("net_amount", "tax_amount", "gross_amount"),
    ),
    DatasetSpec(
        "trial_balance",
        "Each account's debit or credit balance at every month end (P&L accounts year to date, retained earnings "
        "carrying earlier years), as Xero's Trial Balance; from the journals, or Xero's TrialBalance report.",
        (*_LEDGER_READS, "trial_balance"), ("month", "account_id"),
        _statement(statements.trial_balance, "trial_balance", "Trial Balance", xero_reports.trial_balance),
        money=("debit", "credit", "balance"),
    ),
    DatasetSpec(
        "profit_and_loss_by_month",
        "Profit and loss per month and account in Xero's sections (income, cost of sales, other income, operating "
        "expenses) with section totals, gross profit and net profit.",
        (*_LEDGER_READS, "profit_and_loss"), ("month", "line"),
        _statement(statements.profit_and_loss, "profit_and_loss", "Profit and Loss", xero_reports.profit_and_loss),
        money=("amount",),
        figures=lambda f: latest_totals(f, ("Total Income", "Gross Profit", "Total Operating Expenses", "Net Profit")),
    ),
    DatasetSpec(
        "balance_sheet_by_month",
        "Balance sheet at every month end, cumulative, with current-year earnings and retained earnings split at "
        "the organisation's financial-year end.",
        (*_LEDGER_READS, "balance_sheet"), ("month", "line"),
        _statement(statements.balance_sheet, "balance_sheet", "Balance Sheet", xero_reports.balance_sheet),
        money=("amount",),
        figures=lambda f: latest_totals(f, ("Total Assets", "Total Liabilities", "Net Assets")),
    ),
    DatasetSpec(
        "cash_by_month",
        "Opening, received, spent and closing balance for every bank account and every month, movement or not.",
        (*_LEDGER_READS, "bank_summary"), ("month", "account_id"),
        _statement(statements.cash_by_month, "bank_summary", "Bank Summary", xero_reports.bank_summary),
        money=("opening_balance", "received", "spent", "net_movement", "closing_balance"),
        figures=_cash_figures,
    ),
    DatasetSpec(
        "kpis",
        "Headline KPIs: revenue (Total Income), gross margin, operating expenses, net profit, AR and AP (the control "
        "accounts), DSO and DPO, current ratio, cash, monthly burn and runway.",
        (*_LEDGER_READS, "profit_and_loss", "balance_sheet", "bank_summary"), ("kpi",), _kpis, money=("value",),
        uses=("profit_and_loss_by_month", "balance_sheet_by_month", "cash_by_month"), figures=kpi_figures,
    ),
)  # fmt: skip
