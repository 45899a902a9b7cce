"""Operational datasets beside the books: open purchase orders, inventory value of tracked items, payroll headcount
and leave balances (when the tenant granted payroll)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets import money
from xero_assets.datasets.documents import contact_names
from xero_assets.datasets.spec import DatasetInputs, DatasetSkipped, DatasetSpec
from xero_assets.store import typed

# Xero's purchase order lifecycle: DRAFT -> SUBMITTED -> AUTHORISED -> BILLED (or DELETED). Open = not billed yet
# and approved or awaiting approval; a draft is nobody's commitment.
OPEN_PO_STATUSES = ("SUBMITTED", "AUTHORISED")
PO_MONEY = ("sub_total", "total_tax", "total", "total_base")


def open_purchase_orders(orders: pd.DataFrame, contacts: pd.DataFrame, as_at: date, base_currency: str) -> pd.DataFrame:
    """Purchase orders committed but not yet billed, with supplier name, delivery date and days to delivery (negative
    when late), in the order's currency and in base currency."""
    columns = [
        "purchase_order_id", "purchase_order_number", "status", "contact_id", "contact_name", "date", "delivery_date",
        "days_to_delivery", *PO_MONEY[:3], "currency", "total_base", "base_currency", "as_at",
    ]  # fmt: skip
    live = orders[orders["status"].isin(OPEN_PO_STATUSES)]
    if live.empty:
        return pd.DataFrame(columns=columns)
    total = money.cents(live["total"])
    delivery = pd.to_datetime(live["deliverydate"])
    out = pd.DataFrame(
        {
            "purchase_order_id": live["id"],
            "purchase_order_number": live["purchaseordernumber"],
            "status": live["status"],
            "contact_id": live["contactid"],
            "date": live["date"],
            "delivery_date": live["deliverydate"],
            "days_to_delivery": (delivery - pd.Timestamp(as_at)).dt.days.astype("Int64"),
            "sub_total": money.cents(live["subtotal"]),
            "total_tax": money.cents(live["totaltax"]),
            "total": total,
            "currency": live["currencycode"].fillna(base_currency),
            "total_base": money.to_base(total, live["currencyrate"]),
            "base_currency": base_currency,
            "as_at": as_at,
        }
    ).merge(contact_names(contacts), on="contact_id", how="left")
    out = out.sort_values(["delivery_date", "purchase_order_number"], ignore_index=True, na_position="last")
    return money.money_columns(out[columns], PO_MONEY)


def inventory_value(items: pd.DataFrame, as_at: date, base_currency: str) -> pd.DataFrame:
    """Tracked inventory items: quantity on hand and value (Xero's TotalCostPool, the cost of what is on hand, in
    base currency), with the average unit cost it implies. Untracked items hold no stock and are left out."""
    columns = ["item_id", "code", "name", "quantity_on_hand", "value", "average_unit_cost", "currency",
               "inventory_asset_account_code", "as_at"]  # fmt: skip
    tracked = items[items["istrackedasinventory"].fillna(False).astype(bool)]
    if tracked.empty:
        return pd.DataFrame(columns=columns)
    value = money.cents(tracked["totalcostpool"])
    quantity = money.decimals(tracked["quantityonhand"], default="0")
    average = pd.Series(
        [int((Decimal(v) / q).quantize(1, ROUND_HALF_UP)) if q else 0 for v, q in zip(value, quantity, strict=True)],
        index=tracked.index,
    )
    out = pd.DataFrame(
        {
            "item_id": tracked["id"],
            "code": tracked["code"],
            "name": tracked["name"],
            "quantity_on_hand": quantity,
            "value": value,
            "average_unit_cost": average,
            "currency": base_currency,
            "inventory_asset_account_code": tracked["inventoryassetaccountcode"],
            "as_at": as_at,
        }
    ).sort_values("code", ignore_index=True)
    return money.money_columns(out[columns], ("value", "average_unit_cost"))


def payroll_headcount(employees: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """Employees on the payroll at each month end (started on or before it, not terminated before it), with the
    month's starters and leavers: one row per month from the first start to `as_at`'s month."""
    columns = ["month", "headcount", "starters", "leavers", "as_at"]
    starts = pd.to_datetime(employees["startdate"]).dropna()
    if starts.empty:
        return pd.DataFrame(columns=columns)
    ends = pd.to_datetime(employees["terminationdate"])
    month_ends = pd.date_range(starts.min().to_period("M").to_timestamp(), pd.Timestamp(as_at), freq="MS")
    rows = []
    for start_of_month in month_ends:
        end_of_month = start_of_month + pd.offsets.MonthEnd(0)
        on_payroll = (pd.to_datetime(employees["startdate"]) <= end_of_month) & (ends.isna() | (ends > end_of_month))
        starters = pd.to_datetime(employees["startdate"]).between(start_of_month, end_of_month)
        leavers = ends.between(start_of_month, end_of_month)
        rows.append(
            {
                "month": start_of_month.strftime("%Y-%m"),
                "headcount": int(on_payroll.sum()),
                "starters": int(starters.sum()),
                "leavers": int(leavers.sum()),
                "as_at": as_at,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def leave_balances(employees: pd.DataFrame, balances: pd.DataFrame, as_at: date) -> pd.DataFrame:
    """Each employee's balance per leave type (units as Xero states them: hours or days), employee named."""
    columns = ["employee_id", "employee_name", "leave_type_id", "leave_name", "balance", "units", "as_at"]
    frame = balances.merge(employees, left_on="parent_id", right_on="id", how="left")
    out = pd.DataFrame(
        {
            "employee_id": frame["parent_id"],
            "employee_name": (frame["firstname"].fillna("") + " " + frame["lastname"].fillna("")).str.strip(),
            "leave_type_id": frame["leavetypeid"],
            "leave_name": frame["leavename"],
            "balance": money.decimals(frame["numberofunits"], default="0"),
            "units": frame["typeofunits"],
            "as_at": as_at,
        }
    )
    return out.sort_values(["employee_name", "leave_name"], ignore_index=True)[columns]


# --- builders --------------------------------------------------------------------------------------------------
PAYROLL_COUNTRIES = ("AU", "NZ", "GB")  # Xero has no payroll API for other countries (US payroll is Gusto)


def _require_payroll(inputs: DatasetInputs) -> None:
    """Payroll datasets need Xero payroll in the organisation's country and the scope to read it."""
    country = inputs.organisation.country
    if country not in PAYROLL_COUNTRIES:
        raise DatasetSkipped(f"Xero payroll is not available for {country} organisations, so there is no headcount")
    if "payroll_employees" not in inputs.granted:
        raise DatasetSkipped(
            "payroll is not granted: reconnect the organisation with payroll.employees.read to build payroll datasets"
        )


def _open_orders(inputs: DatasetInputs, columns: tuple[str, ...]) -> pd.DataFrame:
    """Only the purchase orders still open, filtered in SQL: the large organisation has 13k orders, mostly billed."""
    table = typed.TABLES["xero_purchase_orders"]
    query = sa.select(*(table.c[name] for name in columns)).where(
        table.c.tenant_id == inputs.tenant_id, table.c.status.in_(OPEN_PO_STATUSES)
    )
    with inputs.engine.connect() as conn:
        return pd.read_sql(query, conn)


def _build_purchase_orders(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    columns = ("id", "purchaseordernumber", "status", "contactid", "date", "deliverydate", "subtotal", "totaltax",
               "total", "currencycode", "currencyrate")  # fmt: skip
    return open_purchase_orders(
        _open_orders(inputs, columns),
        inputs.typed("xero_contacts", ("id", "name")),
        inputs.as_at,
        inputs.organisation.base_currency,
    )


def _build_inventory(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    columns = ("id", "code", "name", "istrackedasinventory", "quantityonhand", "totalcostpool",
               "inventoryassetaccountcode")  # fmt: skip
    return inventory_value(inputs.typed("xero_items", columns), inputs.as_at, inputs.organisation.base_currency)


def _build_headcount(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    _require_payroll(inputs)
    return payroll_headcount(
        inputs.typed("xero_payroll_employees", ("id", "startdate", "terminationdate")), inputs.as_at
    )


def _build_leave_balances(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """From `payroll_leave_balances`: AU's single employee records, NZ/UK's per-employee lists (the same table)."""
    _require_payroll(inputs)
    return leave_balances(
        inputs.typed("xero_payroll_employees", ("id", "firstname", "lastname")),
        inputs.typed("xero_payroll_leave_balances"),
        inputs.as_at,
    )


DATASETS = (
    DatasetSpec(
        name="open_purchase_orders",
        description="Purchase orders submitted or approved and not yet billed: supplier, delivery date, days to "
        "delivery, totals in the order's currency and in base currency.",
        reads=("purchase_orders", "contacts"),
        key=("purchase_order_id",),
        build=_build_purchase_orders,
        money=PO_MONEY,
    ),
    DatasetSpec(
        name="inventory_value",
        description="Tracked inventory items: quantity on hand, value at cost (TotalCostPool) and average unit cost.",
        reads=("items",),
        key=("item_id",),
        build=_build_inventory,
        money=("value", "average_unit_cost"),
    ),
    DatasetSpec(
        name="payroll_headcount",
        description="Employees on the payroll at each month end, with starters and leavers (payroll scope needed).",
        reads=("payroll_employees",),
        key=("month",),
        build=_build_headcount,
    ),
    DatasetSpec(
        name="payroll_leave_balances",
        description="Leave balance per employee and leave type, in Xero's units: hours (AU) or days (NZ, UK); "
        "payroll scope needed.",
        reads=("payroll_employees", "payroll_leave_balances"),
        key=("employee_id", "leave_type_id"),
        build=_build_leave_balances,
    ),
)
