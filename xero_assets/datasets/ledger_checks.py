"""Checks on the ledger datasets, as pure functions of the built frames and Xero's stored reports: the trial balance
nets to zero, and each statement equals the report Xero itself returned, line by line, to the cent, for every
month the sync read. A failure lists each difference with the tenant, the line (account), the month and both
figures, which is what a person needs to find it in Xero."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import pandas as pd

from xero_assets.datasets import xero_reports
from xero_assets.datasets.chart import CREDITORS, DEBTORS
from xero_assets.datasets.ledger import accounts
from xero_assets.datasets.ledger_reads import stored_report
from xero_assets.datasets.money import ZERO, money, total
from xero_assets.datasets.spec import CheckOutcome, DatasetCheck, DatasetInputs

DIFFERENCE_COLUMNS = ("tenant", "organisation", "account", "period", "figure", "dataset", "xero", "difference")


def _differences(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))


def trial_balance_nets_to_zero(inputs: DatasetInputs, frame: pd.DataFrame | None, _: Mapping) -> CheckOutcome:
    assert frame is not None
    rows = []
    for month, group in frame.groupby("month", sort=True):
        net = total(group["balance"])
        if net:
            rows.append({"tenant": inputs.tenant_id, "organisation": inputs.organisation.name,
                         "account": "(all accounts)", "period": month, "figure": "debits - credits",
                         "dataset": net, "xero": ZERO, "difference": net})  # fmt: skip
    months = frame["month"].nunique()
    if rows:
        return CheckOutcome(False, f"trial balance does not net to zero in {len(rows)} of {months} months",
                            _differences(rows))  # fmt: skip
    return CheckOutcome(True, f"debits equal credits at all {months} month ends")


def _figure(value: object) -> Decimal:
    """A figure to compare: a line one side lacks (None, or pandas' NaN) is zero there."""
    return value if isinstance(value, Decimal) else money(value)


def compare(
    inputs: DatasetInputs, ours: pd.DataFrame, xero: pd.DataFrame, keys: list[str], figures: list[str], title: str
) -> CheckOutcome:
    """Every figure of `ours` against Xero's for the months Xero's report covers; a line one side lacks counts as
    zero there (Xero leaves out accounts with nothing to show)."""
    if xero.empty:
        return CheckOutcome.not_compared(f"no {title} report stored for this organisation yet")
    months = set(xero["month"])
    mine = ours[ours["month"].isin(months)]

    def by_key(frame: pd.DataFrame) -> dict[tuple, tuple]:
        columns = [*keys, "account_name", *figures]
        return {row[: len(keys)]: row[len(keys) :] for row in frame[columns].itertuples(index=False, name=None)}

    left, right = by_key(mine), by_key(xero)
    nothing = (None, *([ZERO] * len(figures)))
    rows = []
    for key in sorted(left.keys() | right.keys()):
        a_row, b_row = left.get(key, nothing), right.get(key, nothing)
        name = a_row[0] if isinstance(a_row[0], str) else b_row[0]
        for figure, a, b in zip(figures, a_row[1:], b_row[1:], strict=True):
            a, b = _figure(a), _figure(b)
            if a != b:
                account = f"{name} ({key[-1]})" if name != key[-1] else str(name)
                rows.append({"tenant": inputs.tenant_id, "organisation": inputs.organisation.name,
                             "account": account, "period": key[0], "figure": figure, "dataset": a, "xero": b,
                             "difference": a - b})  # fmt: skip
    joined = left.keys() | right.keys()
    compared = len(joined) * len(figures)
    if rows:
        return CheckOutcome(False, f"{len(rows)} of {compared} figures differ from Xero's {title} "
                                   f"over {len(months)} months", _differences(rows))  # fmt: skip
    return CheckOutcome(True, f"all {compared} figures equal Xero's {title} to the cent over {len(months)} months")


Check = Callable[[DatasetInputs, pd.DataFrame | None, Mapping[str, pd.DataFrame]], CheckOutcome]


def _matches(
    report: str,
    title: str,
    parse: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
    keys: list[str],
    figures: list[str],
) -> Check:
    """A check that the dataset equals Xero's `report` (as the sync stored it) on `figures` per `keys`."""

    def run(inputs: DatasetInputs, frame: pd.DataFrame | None, _: Mapping) -> CheckOutcome:
        assert frame is not None
        if report not in inputs.granted:
            return CheckOutcome.not_compared(f"grant accounting.reports.read to tie it to Xero's {title} report")
        xero = parse(stored_report(inputs, report), accounts(inputs))
        return compare(inputs, frame, xero, keys, figures, title)

    return run


def kpi_controls(inputs: DatasetInputs, frame: pd.DataFrame | None, built: Mapping[str, pd.DataFrame]) -> CheckOutcome:
    """AR and AP in the KPIs equal the receivables and payables control accounts on Xero's BalanceSheet (and on the
    journals' trial balance when it was built in the same run)."""
    assert frame is not None
    chart = accounts(inputs)
    rows = []
    sources: list[tuple[str, pd.DataFrame, str]] = []
    if "balance_sheet" in inputs.granted:
        sheet = xero_reports.balance_sheet(stored_report(inputs, "balance_sheet"), chart)
        sources.append(("BalanceSheet", sheet, "amount"))
    if "trial_balance" in built:
        tb = built["trial_balance"].rename(columns={"account_id": "line"})
        sources.append(("trial balance", tb.assign(amount=tb["balance"]), "amount"))
    for kpi, system, sign in (("accounts_receivable", DEBTORS, 1), ("accounts_payable", CREDITORS, -1)):
        found = frame[frame["kpi"] == kpi]
        value, period = found["value"].iloc[0], found["period"].iloc[0]
        ids = set(chart.loc[chart["system_account"] == system, "account_id"])
        for title, source, column in sources:
            at = source[(source["month"] == period) & source["line"].isin(ids)]
            if at.empty and title == "BalanceSheet" and period not in set(source["month"]):
                continue  # Xero's report does not cover that month
            expected = total(at[column])
            expected = expected if title == "BalanceSheet" else sign * expected
            if value != expected:
                rows.append({"tenant": inputs.tenant_id, "organisation": inputs.organisation.name,
                             "account": f"{system} control account", "period": period, "figure": kpi,
                             "dataset": value, "xero": expected, "difference": value - expected})  # fmt: skip
    if rows:
        return CheckOutcome(False, f"{len(rows)} KPI figures differ from the control accounts", _differences(rows))
    names = ", ".join(t for t, _, _ in sources) or "nothing (no balance sheet or trial balance)"
    return CheckOutcome(True, f"AR and AP equal the control accounts on {names}")


CHECKS: tuple[DatasetCheck, ...] = (
    DatasetCheck("trial_balance", "nets_to_zero", "Debits equal credits at every month end.",
                 trial_balance_nets_to_zero),
    DatasetCheck("trial_balance", "matches_xero_trial_balance",
                 "Each account's debit and credit equal Xero's TrialBalance report for every month it was read "
                 "(from journals: the journals and Xero's reports agree).",
                 _matches("trial_balance", "TrialBalance", xero_reports.trial_balance, ["month", "account_id"],
                          ["debit", "credit"])),
    DatasetCheck("profit_and_loss_by_month", "matches_xero_profit_and_loss",
                 "Every line equals Xero's ProfitAndLoss report, month by month, to the cent.",
                 _matches("profit_and_loss", "ProfitAndLoss", xero_reports.profit_and_loss, ["month", "line"],
                          ["amount"])),
    DatasetCheck("balance_sheet_by_month", "matches_xero_balance_sheet",
                 "Every line equals Xero's BalanceSheet report at every month end it was read, to the cent.",
                 _matches("balance_sheet", "BalanceSheet", xero_reports.balance_sheet, ["month", "line"],
                          ["amount"])),
    DatasetCheck("cash_by_month", "matches_xero_bank_summary",
                 "Opening, received, spent and closing per bank account equal Xero's BankSummary each month.",
                 _matches("bank_summary", "BankSummary", xero_reports.bank_summary, ["month", "account_id"],
                          ["opening_balance", "received", "spent", "closing_balance"])),
    DatasetCheck("kpis", "ar_ap_equal_control_accounts",
                 "The KPIs' AR and AP equal the receivables and payables control accounts.", kpi_controls),
)  # fmt: skip
