"""The KPI summary a dashboard's headline tiles show, from the P&L, balance sheet and cash datasets (whichever
source built them), so the KPIs can never disagree with the statements they summarise.

Conventions, stated so a reader can check them: revenue is Xero's "Total Income" (other income such as interest is
not revenue); the P&L figures are the last FULL month before the as-at date; DSO and DPO use the last three full
months (receivables over income, payables over cost of sales plus operating expenses, times the days in those
months); AR and AP are the control accounts' balances on the balance sheet at the as-at month end; burn is the
average net cash outflow of the last three full months (zero when cash grew) and runway is cash over burn (empty
when not burning).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from xero_assets.datasets.chart import CREDITORS, DEBTORS
from xero_assets.datasets.money import CENT, ZERO, month_end, month_key, month_range

KPI_COLUMNS = ("kpi", "label", "value", "unit", "period", "currency", "source")


def _previous_month(month: str, back: int = 1) -> str:
    year, number = int(month[:4]), int(month[5:7]) - back
    while number < 1:
        year, number = year - 1, number + 12
    return f"{year:04d}-{number:02d}"


def _line(frame: pd.DataFrame, month: str, line: str) -> Decimal:
    found = frame.loc[(frame["month"] == month) & (frame["line"] == line), "amount"]
    return found.iloc[0] if len(found) else ZERO


def _ratio(numerator: Decimal, denominator: Decimal, scale: Decimal = Decimal(1)) -> Decimal | None:
    if not denominator:
        return None
    return (numerator * scale / denominator).quantize(CENT, rounding=ROUND_HALF_UP)


def kpi_summary(
    pnl: pd.DataFrame, bs: pd.DataFrame, cash: pd.DataFrame, accounts: pd.DataFrame, as_at: date, currency: str
) -> pd.DataFrame:
    this_month = month_key(as_at)
    last = _previous_month(this_month)
    trailing = month_range(_previous_month(this_month, 3), last)
    days = Decimal(sum(month_end(m).day for m in trailing))
    bs_month = max((m for m in set(bs["month"]) if m <= this_month), default=this_month) if not bs.empty else this_month
    cash_month = (
        max((m for m in set(cash["month"]) if m <= this_month), default=this_month) if len(cash) else this_month
    )

    def control(system: str) -> Decimal:
        ids = set(accounts.loc[accounts["system_account"] == system, "account_id"]) if not accounts.empty else set()
        found = bs.loc[(bs["month"] == bs_month) & bs["line"].isin(ids), "amount"]
        return sum(found, ZERO)

    def over(line: str, months: list[str]) -> Decimal:
        return sum((_line(pnl, m, line) for m in months), ZERO)

    revenue, gross = _line(pnl, last, "Total Income"), _line(pnl, last, "Gross Profit")
    receivable, payable = control(DEBTORS), control(CREDITORS)
    current_assets = _line(bs, bs_month, "Total Bank") + _line(bs, bs_month, "Total Current Assets")
    current_liabilities = _line(bs, bs_month, "Total Current Liabilities")
    cash_now = sum(cash.loc[cash["month"] == cash_month, "closing_balance"], ZERO) if len(cash) else ZERO
    flows = cash[cash["month"].isin(trailing)]["net_movement"] if len(cash) else []
    burn = max(-sum(flows, ZERO) / 3, ZERO).quantize(CENT, rounding=ROUND_HALF_UP)
    spend = over("Total Cost of Sales", trailing) + over("Total Operating Expenses", trailing)
    figures: list[tuple[str, str, Decimal | None, str, str]] = [
        ("revenue", "Revenue (Total Income)", revenue, "currency", last),
        ("gross_profit", "Gross profit", gross, "currency", last),
        ("gross_margin_pct", "Gross margin", _ratio(gross, revenue, Decimal(100)), "%", last),
        ("operating_expenses", "Operating expenses", _line(pnl, last, "Total Operating Expenses"), "currency", last),
        ("net_profit", "Net profit", _line(pnl, last, "Net Profit"), "currency", last),
        ("accounts_receivable", "Accounts receivable", receivable, "currency", bs_month),
        ("accounts_payable", "Accounts payable", payable, "currency", bs_month),
        ("dso_days", "Days sales outstanding", _ratio(receivable, over("Total Income", trailing), days), "days",
         f"{trailing[0]}..{last}"),
        ("dpo_days", "Days payables outstanding", _ratio(payable, spend, days), "days", f"{trailing[0]}..{last}"),
        ("current_ratio", "Current ratio", _ratio(current_assets, current_liabilities), "ratio", bs_month),
        ("cash", "Cash at bank", cash_now, "currency", cash_month),
        ("monthly_burn", "Monthly burn", burn, "currency", f"{trailing[0]}..{last}"),
        ("runway_months", "Runway", _ratio(cash_now, burn), "months", cash_month),
    ]  # fmt: skip
    source = str(pnl["source"].iloc[0]) if len(pnl) else "journals"
    rows = [
        {"kpi": k, "label": label, "value": value, "unit": unit, "period": period,
         "currency": currency if unit == "currency" else None, "source": source}
        for k, label, value, unit, period in figures
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(KPI_COLUMNS))


def kpi_figures(frame: pd.DataFrame) -> dict[str, float]:
    """The KPIs as numeric metadata (Dagster plots each over materializations); empty values are left out."""
    return {str(k): float(v) for k, v in zip(frame["kpi"], frame["value"], strict=True) if v is not None}
