"""Recurring revenue: MRR and ARR per customer and month, with new, expansion, contraction, churn and reactivation.

Built from the invoices that repeating invoices generated (Invoice.RepeatingInvoiceID), not from the repeating
invoices themselves. A repeating invoice holds only its current amount and status: a price change overwrites it and
a cancelled one stops or disappears, so it cannot say what a customer was billed last March, and movements need
exactly that history. The invoices it generated are that history, dated and in their own currency with a rate. The
repeating invoice still supplies two facts: its schedule (unit and period, to turn one invoice into a monthly
amount) and whether it is still running (so the latest amount carries into the current month when its invoice is not
raised yet, instead of showing a churn that is only a billing date; a schedule that missed a whole period is churned
whatever its status says, as a customer who left but whose repeating invoice nobody deleted).

Normalisation: an invoice on a MONTHLY schedule every N months covers N months at SubTotal / N (ex tax, base
currency); WEEKLY invoices every N weeks count SubTotal x 52 / 12 / N, averaged over the month's invoices. When two
invoices of one schedule cover a month, the later one wins (an upgrade mid-period). Credit notes and one-off
invoices are not recurring revenue. VOIDED and DELETED invoices never billed anything, so they count for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from xero_assets.datasets import money
from xero_assets.datasets.documents import contact_names
from xero_assets.datasets.frames import shared
from xero_assets.datasets.spec import Chunked, DatasetInputs, DatasetSpec

BILLED_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID")
MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
MRR_MONEY = ("mrr", "arr", *MOVEMENTS)
INVOICE_COLUMNS = ("type", "status", "date", "contactid", "subtotal", "currencyrate", "repeatinginvoiceid")
SCHEDULE_COLUMNS = ("id", "status", "scheduleunit", "scheduleperiod", "enddate")


def _month_index(dates: pd.Series) -> pd.Series:
    moments = pd.to_datetime(dates)
    return (moments.dt.year * 12 + moments.dt.month - 1).astype("int64")


def _month_label(index: pd.Series) -> pd.Series:
    return (index // 12).astype(str) + "-" + (index % 12 + 1).astype(str).str.zfill(2)


def billed(invoices: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """The sales invoices repeating invoices generated and billed by `as_at`, as the little the MRR needs of each:
    its schedule, contact, date and SubTotal in base-currency cents. Compact, so a large organisation's invoices are
    reduced to this a chunk at a time."""
    rows = invoices[
        (invoices["type"] == "ACCREC")
        & invoices["status"].isin(BILLED_STATUSES)
        & invoices["repeatinginvoiceid"].notna()
        & (pd.to_datetime(invoices["date"]) <= pd.Timestamp(as_at))
    ]
    return pd.DataFrame(
        {
            "schedule_id": rows["repeatinginvoiceid"],
            "contact_id": rows["contactid"],
            "date": pd.to_datetime(rows["date"]),
            "base": money.to_base(money.cents(rows["subtotal"]), rows["currencyrate"]),
        }
    )


def schedule_months(invoices: pd.DataFrame, schedules: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """Monthly recurring cents per (schedule, contact, month index), before customers are summed."""
    return billed_months(billed(invoices, as_at), schedules, as_at)


def billed_months(billed: pd.DataFrame, schedules: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """`schedule_months` of the invoices `billed` already picked out."""
    columns = ["schedule_id", "contact_id", "month", "mrr"]
    if billed.empty:
        return pd.DataFrame(columns=columns)
    plan = schedules.rename(columns={"id": "schedule_id", "status": "schedule_status"})
    frame = billed.merge(plan, on="schedule_id", how="left")
    period = pd.to_numeric(frame["scheduleperiod"]).fillna(1).clip(lower=1).astype("int64")
    weekly = frame["scheduleunit"].eq("WEEKLY")
    base = frame["base"].astype(float)
    frame = frame.assign(
        month=_month_index(frame["date"]),
        period=period,
        monthly=np.where(weekly, base * 52 / 12 / period, base / period),
        moment=pd.to_datetime(frame["date"]),
    )
    weeks = (
        frame[weekly]
        .groupby(["schedule_id", "contact_id", "month"], as_index=False)
        .agg(monthly=("monthly", "mean"), moment=("moment", "max"))
    )
    months = frame[~weekly]
    covered = months.loc[months.index.repeat(months["period"])].copy()
    covered["month"] = covered["month"] + covered.groupby(level=0).cumcount()
    rows = pd.concat([covered[weeks.columns], weeks], ignore_index=True)
    rows = rows.sort_values("moment").drop_duplicates(["schedule_id", "month"], keep="last")
    rows = rows[rows["month"] <= _month_index(pd.Series([as_at])).iloc[0]]
    rows = pd.concat([rows, _carried(rows, plan, as_at)], ignore_index=True)
    rows["mrr"] = np.floor(rows["monthly"].to_numpy() + 0.5).astype("int64")
    return rows[columns]


def _carried(rows: pd.DataFrame, plan: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """For schedules still running at `as_at` whose coverage ended last month (this period's invoice is not raised
    yet), their latest monthly amount in `as_at`'s month. A schedule that has missed a whole period is not carried:
    its customer stopped being billed, whatever the repeating invoice's status still says."""
    current = int(_month_index(pd.Series([as_at])).iloc[0])
    running = plan[
        plan["schedule_status"].eq("AUTHORISED")
        & (plan["enddate"].isna() | (pd.to_datetime(plan["enddate"]) >= pd.Timestamp(as_at)))
    ]["schedule_id"]
    last = rows[rows["schedule_id"].isin(running)].sort_values("month").groupby("schedule_id").tail(1)
    carried = last[last["month"] == current - 1].copy()
    carried["month"] = current
    return carried


def movements(customer_months: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """MRR movements per customer and month from (contact_id, month index, mrr cents): every month from the
    customer's first to `as_at`'s is considered, and a month is kept when it has MRR or a movement (so the months
    between a churn and a return have no row). Movements are signed and sum to the change in MRR. Vectorised: the
    large tenant has some 200k customer-months."""
    columns = ["contact_id", "month", "mrr", *MOVEMENTS]
    if customer_months.empty:
        return pd.DataFrame(columns=columns)
    current = int(_month_index(pd.Series([as_at])).iloc[0])
    sums = customer_months.groupby(["contact_id", "month"], as_index=False)["mrr"].sum()
    first = sums.groupby("contact_id")["month"].min()
    span = (current - first + 1).clip(lower=1)
    grid = pd.DataFrame({"contact_id": first.index.repeat(span.to_numpy())})
    grid["month"] = first.repeat(span.to_numpy()).to_numpy() + grid.groupby("contact_id").cumcount().to_numpy()
    grid = grid.merge(sums, on=["contact_id", "month"], how="left").fillna({"mrr": 0})
    grid = grid.sort_values(["contact_id", "month"], ignore_index=True)
    mrr = grid["mrr"].astype("int64")
    by_customer = mrr.groupby(grid["contact_id"])
    previous = by_customer.shift(1, fill_value=0).astype("int64")
    ever_billed = (mrr > 0).groupby(grid["contact_id"]).cummax()
    billed_before = ever_billed.groupby(grid["contact_id"]).shift(1, fill_value=False).astype(bool)
    starts, stops = (previous == 0) & (mrr > 0), (previous > 0) & (mrr == 0)
    both = (previous > 0) & (mrr > 0)
    change = mrr - previous
    out = grid.assign(
        mrr=mrr,
        new=change.where(starts & ~billed_before, 0),
        expansion=change.where(both & (change > 0), 0),
        contraction=change.where(both & (change < 0), 0),
        churn=change.where(stops, 0),
        reactivation=change.where(starts & billed_before, 0),
    )
    return out[(mrr > 0) | (previous > 0)].reset_index(drop=True)[columns]


CUSTOMERS_PER_GROUP = 500


def movements_by_customer_group(customer_months: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """`movements`, a group of customers at a time in customer order (each customer's movements are its own, so
    the groups' rows together are exactly `movements` of all): every customer's months from its first to today
    is a grid of hundreds of thousands of rows for the large organisation, too many to hold at once."""
    customers = sorted(customer_months["contact_id"].dropna().unique())
    if len(customers) <= CUSTOMERS_PER_GROUP:
        return movements(customer_months, as_at)
    parts = [
        movements(customer_months[customer_months["contact_id"].isin(customers[start : start + CUSTOMERS_PER_GROUP])],
                  as_at)
        for start in range(0, len(customers), CUSTOMERS_PER_GROUP)
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def recurring_revenue(
    invoices: pd.DataFrame, schedules: pd.DataFrame, contacts: pd.DataFrame, as_at: date, base_currency: str
) -> pd.DataFrame:
    """MRR, ARR (12 x MRR) and the month's movements per customer and month, in base currency."""
    out = recurring_cents(billed(invoices, as_at), schedules, contacts, as_at, base_currency)
    return out if out.empty else money.money_columns(out, MRR_MONEY)


def recurring_cents(
    billed: pd.DataFrame, schedules: pd.DataFrame, contacts: pd.DataFrame, as_at: date, base_currency: str
) -> pd.DataFrame:
    """`recurring_revenue` of the invoices `billed` picked out, its money still int cents (8 bytes a figure, where a
    Decimal costs about a hundred: the large organisation has 164k customer-months of seven figures)."""
    columns = ["contact_id", "contact_name", "month", *MRR_MONEY, "currency"]
    per_schedule = billed_months(billed, schedules, as_at)
    if per_schedule.empty:
        return pd.DataFrame(columns=columns)
    customer = per_schedule.groupby(["contact_id", "month"], as_index=False)["mrr"].sum()
    out = movements_by_customer_group(customer, as_at)
    out = out.assign(arr=out["mrr"] * 12, month=_month_label(out["month"]), currency=base_currency)
    out = out.merge(contact_names(contacts), on="contact_id", how="left")
    return out[columns]


def mrr_figures(frame: pd.DataFrame) -> dict[str, float]:
    """The latest month's MRR and ARR over all customers, and its movements (Dagster plots them run over run)."""
    if frame.empty:
        return {}
    latest = frame[frame["month"] == frame["month"].max()]
    return {name: float(sum(latest[name], Decimal(0))) for name in MRR_MONEY} | {
        "customers": float((latest["mrr"] > 0).sum())
    }


INVOICES_PER_READ = 20_000
ROWS_PER_WRITE = 20_000


def _billed(inputs: DatasetInputs) -> pd.DataFrame:
    """Every billed invoice, `billed` a chunk of invoices at a time (in the order one read returns them, which
    decides ties between two invoices of a schedule on one day), ids shared across chunks."""
    pool: dict[object, object] = {}
    parts = []
    for chunk in inputs.typed_chunks("xero_invoices", INVOICE_COLUMNS, INVOICES_PER_READ):
        part = billed(chunk, inputs.as_at)
        parts.append(part.assign(schedule_id=shared(part["schedule_id"], pool),
                                 contact_id=shared(part["contact_id"], pool)))  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else billed(inputs.typed("xero_invoices", INVOICE_COLUMNS),
                                                                    inputs.as_at)  # fmt: skip


def _build(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> Chunked:
    """Summed as int cents and written a slice at a time, each slice's money turned into Decimal as it goes; the
    key figures come from the latest month's rows."""
    rows = recurring_cents(
        _billed(inputs),
        inputs.typed("xero_repeating_invoices", SCHEDULE_COLUMNS),
        inputs.typed("xero_contacts", ("id", "name")),
        inputs.as_at,
        inputs.organisation.base_currency,
    )
    latest = rows[rows["month"] == rows["month"].max()] if len(rows) else rows
    figures = mrr_figures(money.money_columns(latest, MRR_MONEY)) if len(rows) else {}
    slices = (rows.iloc[start : start + ROWS_PER_WRITE] for start in range(0, max(len(rows), 1), ROWS_PER_WRITE))
    return Chunked((part if part.empty else money.money_columns(part, MRR_MONEY) for part in slices), figures)


DATASETS = (
    DatasetSpec(
        name="recurring_revenue",
        description="MRR and ARR per customer and month from the invoices repeating invoices generated, with new, "
        "expansion, contraction, churn and reactivation movements (signed; they sum to the month's change).",
        reads=("invoices", "repeating_invoices", "contacts"),
        key=("contact_id", "month"),
        build=_build,
        money=MRR_MONEY,
        figures=mrr_figures,
    ),
)
