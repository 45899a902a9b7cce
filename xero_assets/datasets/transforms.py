"""The dashboard datasets an MSP's BI shows: AR/AP ageing, P&L by month, cash by month, KPIs, recurring revenue."""

from __future__ import annotations

from datetime import date

import pandas as pd

AGEING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
OPEN_STATUSES = ("AUTHORISED", "SUBMITTED")
# Per-month multipliers of a repeating schedule: amount per period x this = amount per month.
_MONTHLY_FACTOR = {"WEEKLY": 52 / 12, "MONTHLY": 1.0}


def _bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


CREDIT_TYPES = {
    "ACCREC": ("ACCRECCREDIT", "RECEIVE-OVERPAYMENT", "RECEIVE-PREPAYMENT"),
    "ACCPAY": ("ACCPAYCREDIT", "SPEND-OVERPAYMENT", "SPEND-PREPAYMENT"),
}


def _in_base(documents: pd.DataFrame, column: str) -> pd.Series:
    """A document amount in base currency: Xero keeps amounts in the document's currency and CurrencyRate as units
    of it per unit of base currency, so base = amount / rate, to the cent (1 for base-currency documents)."""
    if "currencyrate" not in documents:
        return documents[column]
    rate = documents["currencyrate"].fillna(1.0).replace(0, 1.0)
    return (documents[column] / rate).round(2)


def ageing(invoices: pd.DataFrame, invoice_type: str, as_at: date, credits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Amount due per contact and overdue bucket for ACCREC (receivables) or ACCPAY (payables).

    Open invoices are aged by due date; unapplied credits (credit notes, overpayments, prepayments with remaining
    credit) reduce the contact's balance, aged by their date, as Xero's aged reports show them. The total then
    equals the receivables (payables) control account.
    """
    columns = ["contactid", *AGEING_BUCKETS, "total_due"]
    open_ = invoices[
        (invoices["type"] == invoice_type) & invoices["status"].isin(OPEN_STATUSES) & (invoices["amountdue"] > 0)
    ]
    items = pd.DataFrame(
        {
            "contactid": open_["contactid"],
            "amount": _in_base(open_, "amountdue"),
            "due": open_["duedate"].fillna(open_["date"]),
        }
    )
    if credits is not None and not credits.empty:
        live = credits[
            credits["type"].isin(CREDIT_TYPES[invoice_type])
            & (credits["status"] == "AUTHORISED")
            & (credits["remainingcredit"] > 0)
        ]
        items = pd.concat(
            [
                items,
                pd.DataFrame(
                    {"contactid": live["contactid"], "amount": -_in_base(live, "remainingcredit"), "due": live["date"]}
                ),
            ]
        )
    if items.empty:
        return pd.DataFrame(columns=columns)
    overdue_days = (pd.Timestamp(as_at) - pd.to_datetime(items["due"])).dt.days
    frame = items.assign(bucket=overdue_days.map(_bucket))
    table = frame.pivot_table(index="contactid", columns="bucket", values="amount", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=list(AGEING_BUCKETS), fill_value=0.0).round(2)
    table["total_due"] = table.sum(axis=1).round(2)
    return table.reset_index()[columns].sort_values("total_due", ascending=False, ignore_index=True)


def pnl_by_month(journals: pd.DataFrame, lines: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Revenue, expenses and net profit per month from the general ledger (journal lines on P&L accounts).

    Journal lines are debit-positive, so revenue is the negated sum on REVENUE-class accounts.
    """
    columns = ["month", "revenue", "expenses", "net_profit"]
    if lines.empty:
        return pd.DataFrame(columns=columns)
    ledger = lines.merge(journals[["id", "journaldate"]], left_on="parent_id", right_on="id")
    ledger = ledger.merge(accounts[["id", "class"]], left_on="accountid", right_on="id", how="left")
    ledger["month"] = pd.to_datetime(ledger["journaldate"]).dt.to_period("M").astype(str)
    revenue = -ledger[ledger["class"] == "REVENUE"].groupby("month")["netamount"].sum()
    expenses = ledger[ledger["class"] == "EXPENSE"].groupby("month")["netamount"].sum()
    out = pd.DataFrame({"revenue": revenue, "expenses": expenses}).fillna(0.0).round(2)
    out["net_profit"] = (out["revenue"] - out["expenses"]).round(2)
    return out.rename_axis("month").reset_index()[columns]


def cash_by_month(journals: pd.DataFrame, lines: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Net cash movement and closing balance per bank account and month, from journal lines on BANK accounts."""
    columns = ["accountid", "month", "net_movement", "closing_balance"]
    banks = accounts[accounts["type"] == "BANK"][["id"]]
    ledger = lines.merge(banks, left_on="accountid", right_on="id")
    if ledger.empty:
        return pd.DataFrame(columns=columns)
    ledger = ledger.merge(journals[["id", "journaldate"]], left_on="parent_id", right_on="id", suffixes=("", "_j"))
    ledger["month"] = pd.to_datetime(ledger["journaldate"]).dt.to_period("M").astype(str)
    out = ledger.groupby(["accountid", "month"])["netamount"].sum().round(2).rename("net_movement").reset_index()
    out["closing_balance"] = out.groupby("accountid")["net_movement"].cumsum().round(2)
    return out[columns]


def recurring_revenue(repeating: pd.DataFrame) -> pd.DataFrame:
    """Monthly recurring revenue per contact from AUTHORISED sales repeating invoices (schedules normalised to a
    month: weekly x 52/12, every N months / N)."""
    columns = ["contactid", "mrr"]
    live = repeating[(repeating["type"] == "ACCREC") & (repeating["status"] == "AUTHORISED")]
    if live.empty:
        return pd.DataFrame(columns=columns)
    period = live["scheduleperiod"].fillna(1).clip(lower=1)
    factor = live["scheduleunit"].map(_MONTHLY_FACTOR).fillna(1.0)
    mrr = live["subtotal"].fillna(0.0) * factor / period
    out = live.assign(mrr=mrr).groupby("contactid")["mrr"].sum().round(2).reset_index()
    return out.sort_values("mrr", ascending=False, ignore_index=True)[columns]


def kpis(invoices: pd.DataFrame, pnl: pd.DataFrame, cash: pd.DataFrame, mrr: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """Headline numbers for one tenant: receivables, payables, this month's revenue and profit, cash, MRR, DSO."""
    open_ = invoices[invoices["status"].isin(OPEN_STATUSES)]
    receivable = float(open_.loc[open_["type"] == "ACCREC", "amountdue"].sum())
    payable = float(open_.loc[open_["type"] == "ACCPAY", "amountdue"].sum())
    month = as_at.strftime("%Y-%m")
    this_month = pnl[pnl["month"] == month]
    last_90 = pnl.tail(3)["revenue"].sum() if not pnl.empty else 0.0
    cash_now = float(cash.groupby("accountid")["closing_balance"].last().sum()) if not cash.empty else 0.0
    values = {
        "accounts_receivable": receivable,
        "accounts_payable": payable,
        "revenue_this_month": float(this_month["revenue"].sum()),
        "net_profit_this_month": float(this_month["net_profit"].sum()),
        "cash_balance": cash_now,
        "mrr": float(mrr["mrr"].sum()) if not mrr.empty else 0.0,
        "dso_days": round(receivable / (last_90 / 90), 1) if last_90 else 0.0,
    }
    return pd.DataFrame({"kpi": list(values), "value": [round(v, 2) for v in values.values()]})
