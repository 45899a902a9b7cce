"""What customers owe and suppliers are owed: AR/AP ageing by contact, the overdue list, revenue by customer.

Amounts are in the organisation's base currency (each document converted with its own CurrencyRate), as Xero's aged
reports show them, so the ageing ties to AgedReceivablesByContact/AgedPayablesByContact and the control accounts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import partial

import numpy as np
import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets import money
from xero_assets.datasets.documents import contact_names, invoice_id_ranges, is_inclusive, read_range
from xero_assets.datasets.frames import shared
from xero_assets.datasets.spec import DatasetInputs, DatasetSpec
from xero_assets.store import typed

# Only approved documents are posted to the receivables/payables ledger; SUBMITTED ones await approval and are in
# neither Xero's aged reports nor the control account, so they are not owed yet.
OPEN_STATUSES = ("AUTHORISED",)
POSTED_STATUSES = ("AUTHORISED", "PAID")
BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")
AGEING_MONEY = (*BUCKETS, "total_due")
CREDIT_TYPES = {
    "ACCREC": ("ACCRECCREDIT", "RECEIVE-OVERPAYMENT", "RECEIVE-PREPAYMENT"),
    "ACCPAY": ("ACCPAYCREDIT", "SPEND-OVERPAYMENT", "SPEND-PREPAYMENT"),
}
CREDIT_TABLES = ("xero_credit_notes", "xero_overpayments", "xero_prepayments")
AGEING_INVOICE_COLUMNS = ("id", "type", "status", "contactid", "date", "duedate", "amountdue", "currencyrate")
CREDIT_COLUMNS = ("id", "type", "status", "contactid", "date", "remainingcredit", "currencyrate")


def _bucket(days_overdue: np.ndarray) -> np.ndarray:
    edges = [days_overdue <= 0, days_overdue <= 30, days_overdue <= 60, days_overdue <= 90]
    return np.select(edges, BUCKETS[:4], default=BUCKETS[4])


def open_items(invoices: pd.DataFrame, credits: pd.DataFrame, invoice_type: str, as_at: date) -> pd.DataFrame:
    """Every open document of one side (ACCREC or ACCPAY) dated on or before `as_at`: invoices by amount due and due
    date, unapplied credits (credit notes, overpayments, prepayments) negative by their date, in base-currency cents.
    This is exactly the list of rows Xero's aged-by-contact report shows."""
    as_at_ts = pd.Timestamp(as_at)
    inv = invoices[
        (invoices["type"] == invoice_type)
        & invoices["status"].isin(OPEN_STATUSES)
        & (pd.to_datetime(invoices["date"]) <= as_at_ts)
    ]
    inv_items = pd.DataFrame(
        {
            "contact_id": inv["contactid"],
            "amount": money.to_base(money.cents(inv["amountdue"]), inv["currencyrate"]),
            "due": pd.to_datetime(inv["duedate"].fillna(inv["date"])),
        }
    )
    frames = [inv_items[inv_items["amount"] != 0]]
    if not credits.empty:
        live = credits[
            credits["type"].isin(CREDIT_TYPES[invoice_type])
            & (credits["status"] == "AUTHORISED")
            & (pd.to_datetime(credits["date"]) <= as_at_ts)
        ]
        remaining = money.to_base(money.cents(live["remainingcredit"]), live["currencyrate"])
        items = pd.DataFrame(
            {"contact_id": live["contactid"], "amount": -remaining, "due": pd.to_datetime(live["date"])}
        )
        frames.append(items[items["amount"] != 0])
    return pd.concat(frames, ignore_index=True)


def ageing(
    invoices: pd.DataFrame,
    credits: pd.DataFrame,
    contacts: pd.DataFrame,
    invoice_type: str,
    as_at: date,
    base_currency: str,
) -> pd.DataFrame:
    """Amount due per contact in overdue buckets (by days past due at `as_at`), unapplied credits netted, with the
    contact's name, the as-at date and the base currency stated. The total equals the control account."""
    columns = ["contact_id", "contact_name", "as_at", *AGEING_MONEY, "currency"]
    items = open_items(invoices, credits, invoice_type, as_at)
    if items.empty:
        return pd.DataFrame(columns=columns)
    days = (pd.Timestamp(as_at) - items["due"]).dt.days.to_numpy()
    items = items.assign(bucket=_bucket(days))
    table = items.pivot_table(index="contact_id", columns="bucket", values="amount", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=list(BUCKETS), fill_value=0).astype("int64")
    table["total_due"] = table.sum(axis=1)
    out = table.reset_index().merge(contact_names(contacts), on="contact_id", how="left")
    out = out.assign(as_at=as_at, currency=base_currency)
    out = out.sort_values(["total_due", "contact_id"], ascending=[False, True], ignore_index=True)
    return money.money_columns(out[columns], AGEING_MONEY)


def overdue_invoices(invoices: pd.DataFrame, contacts: pd.DataFrame, as_at: date, base_currency: str) -> pd.DataFrame:
    """Sales invoices past their due date with something still to pay: what an alerting bot posts, most overdue
    first. `amount_due` is in the invoice's currency (what the customer is asked for), `amount_due_base` beside it."""
    columns = [
        "invoice_id", "invoice_number", "contact_id", "contact_name", "date", "due_date", "days_overdue",
        "amount_due", "currency", "amount_due_base", "base_currency", "as_at",
    ]  # fmt: skip
    due = pd.to_datetime(invoices["duedate"])
    late = invoices[
        (invoices["type"] == "ACCREC")
        & invoices["status"].isin(OPEN_STATUSES)
        & (money.cents(invoices["amountdue"]) > 0)
        & (due < pd.Timestamp(as_at))
    ]
    if late.empty:
        return pd.DataFrame(columns=columns)
    amount = money.cents(late["amountdue"])
    out = pd.DataFrame(
        {
            "invoice_id": late["id"],
            "invoice_number": late["invoicenumber"],
            "contact_id": late["contactid"],
            "date": late["date"],
            "due_date": late["duedate"],
            "days_overdue": (pd.Timestamp(as_at) - pd.to_datetime(late["duedate"])).dt.days.astype("int64"),
            "amount_due": amount,
            "currency": late["currencycode"].fillna(base_currency),
            "amount_due_base": money.to_base(amount, late["currencyrate"]),
            "base_currency": base_currency,
            "as_at": as_at,
        }
    ).merge(contact_names(contacts), on="contact_id", how="left")
    out = out.sort_values(["days_overdue", "amount_due_base"], ascending=False, ignore_index=True)
    return money.money_columns(out[columns], ("amount_due", "amount_due_base"))


REVENUE_MONEY = ("invoiced", "credited", "net_revenue")


def revenue_by_customer(
    documents: pd.DataFrame, lines: pd.DataFrame, accounts: pd.DataFrame, contacts: pd.DataFrame, base_currency: str
) -> pd.DataFrame:
    """Revenue per customer and month in base currency: net (ex tax) lines on REVENUE-class accounts of approved
    sales invoices (ACCREC) less those of sales credit notes (ACCRECCREDIT), by document date. Lines to other
    accounts (a deposit to a liability, a pass-through cost) are not revenue, so the total ties to the P&L's income
    from sales documents. `documents` holds invoices and credit notes (the same columns); a month in which a
    customer had no sales has no row."""
    return finish_revenue(revenue_cents(documents, lines, accounts), contacts, base_currency)


def revenue_cents(documents: pd.DataFrame, lines: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """The summing half of `revenue_by_customer`: int cents invoiced and credited per (contactid, month) for these
    documents. Sums of disjoint sets of documents add up, so a large tenant's documents are summed a chunk at a
    time and the chunks' sums summed again (`_build_revenue`), never all lines in memory at once."""
    sales = documents[documents["type"].isin(("ACCREC", "ACCRECCREDIT")) & documents["status"].isin(POSTED_STATUSES)]
    revenue_codes = accounts.loc[accounts["class"] == "REVENUE", "code"]
    frame = lines[lines["accountcode"].isin(revenue_codes)].merge(sales, left_on="parent_id", right_on="id")
    if frame.empty:
        return pd.DataFrame({"contactid": pd.Series(dtype=object), "month": pd.Series(dtype=object),
                             "invoiced": pd.Series(dtype="int64"), "credited": pd.Series(dtype="int64")})  # fmt: skip
    line_cents, tax_cents = money.cents(frame["lineamount"]), money.cents(frame["taxamount"])
    net = money.to_base(line_cents.where(~is_inclusive(frame["lineamounttypes"]), line_cents - tax_cents),
                        frame["currencyrate"])  # fmt: skip
    credit = frame["type"].eq("ACCRECCREDIT")
    frame = frame.assign(
        month=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m"),
        invoiced=net.where(~credit, 0),
        credited=net.where(credit, 0),
    )
    return frame.groupby(["contactid", "month"], as_index=False)[["invoiced", "credited"]].sum()


def finish_revenue(cents: pd.DataFrame, contacts: pd.DataFrame, base_currency: str) -> pd.DataFrame:
    """Per-chunk sums summed again, named, netted and turned into money to the cent."""
    return money.money_columns(revenue_rows(cents, contacts, base_currency), REVENUE_MONEY)


def revenue_rows(cents: pd.DataFrame, contacts: pd.DataFrame, base_currency: str) -> pd.DataFrame:
    """`finish_revenue` with the money still int cents: 8 bytes a figure, where a Decimal costs about a hundred."""
    columns = ["contact_id", "contact_name", "month", *REVENUE_MONEY, "currency"]
    if cents.empty:
        return pd.DataFrame(columns=columns)
    out = cents.groupby(["contactid", "month"], as_index=False)[["invoiced", "credited"]].sum()
    out = out.rename(columns={"contactid": "contact_id"}).assign(net_revenue=lambda f: f["invoiced"] - f["credited"])
    out = out.merge(contact_names(contacts), on="contact_id", how="left").assign(currency=base_currency)
    out = out.sort_values(["month", "net_revenue", "contact_id"], ascending=[True, False, True], ignore_index=True)
    return out[columns]


# --- builders --------------------------------------------------------------------------------------------------
def _open_rows(inputs: DatasetInputs, table_name: str, columns: tuple[str, ...], amount: str) -> pd.DataFrame:
    """Only the approved documents with something left (`amount` not zero), filtered in SQL: of the large
    tenant's 200k invoices a few thousand are open, and only those are read."""
    table = typed.TABLES[table_name]
    query = sa.select(*(table.c[name] for name in columns)).where(
        table.c.tenant_id == inputs.tenant_id, table.c.status.in_(OPEN_STATUSES), table.c[amount] != 0
    )
    with inputs.engine.connect() as conn:
        return pd.read_sql(query, conn)


def read_open_invoices(inputs: DatasetInputs, columns: tuple[str, ...]) -> pd.DataFrame:
    return _open_rows(inputs, "xero_invoices", columns, "amountdue")


def read_credits(inputs: DatasetInputs) -> pd.DataFrame:
    parts = [_open_rows(inputs, name, CREDIT_COLUMNS, "remainingcredit") for name in CREDIT_TABLES]
    return pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)


def _build_ageing(invoice_type: str, inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return ageing(
        read_open_invoices(inputs, AGEING_INVOICE_COLUMNS),
        read_credits(inputs),
        inputs.typed("xero_contacts", ("id", "name")),
        invoice_type,
        inputs.as_at,
        inputs.organisation.base_currency,
    )


def _build_overdue(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    columns = ("id", "type", "status", "invoicenumber", "contactid", "date", "duedate", "amountdue", "currencycode",
               "currencyrate")  # fmt: skip
    return overdue_invoices(
        read_open_invoices(inputs, columns),
        inputs.typed("xero_contacts", ("id", "name")),
        inputs.as_at,
        inputs.organisation.base_currency,
    )


def _build_revenue(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Summed a chunk of invoices at a time (the large tenant's 490k lines never in memory at once; credit notes,
    a few thousand, in one chunk of their own), each chunk's sums kept with its contact ids and months shared,
    then written a slice of rows at a time, each turned into Decimal money only as it is written (the large tenant
    has 164k customer-months)."""
    accounts = inputs.typed("xero_accounts", ("code", "class"))
    pool: dict[object, object] = {}

    def compact(sums: pd.DataFrame) -> pd.DataFrame:
        return sums.assign(contactid=shared(sums["contactid"], pool), month=shared(sums["month"], pool))

    parts = [
        compact(
            revenue_cents(
                read_range(inputs, "xero_invoices", REVENUE_HEADER, "id", first, last),
                read_range(inputs, "xero_invoice_line_items", REVENUE_LINES, "parent_id", first, last),
                accounts,
            )
        )
        for first, last in invoice_id_ranges(inputs, REVENUE_CHUNK_INVOICES)
    ]
    credit_notes = revenue_cents(
        inputs.typed("xero_credit_notes", REVENUE_HEADER),
        inputs.typed("xero_credit_note_line_items", REVENUE_LINES),
        accounts,
    )
    rows = revenue_rows(
        pd.concat([*parts, credit_notes], ignore_index=True),
        inputs.typed("xero_contacts", ("id", "name")),
        inputs.organisation.base_currency,
    )
    for start in range(0, max(len(rows), 1), REVENUE_ROWS_PER_WRITE):
        yield money.money_columns(rows.iloc[start : start + REVENUE_ROWS_PER_WRITE], REVENUE_MONEY)


REVENUE_HEADER = ("id", "type", "status", "date", "contactid", "lineamounttypes", "currencyrate")
REVENUE_LINES = ("parent_id", "accountcode", "lineamount", "taxamount")
REVENUE_CHUNK_INVOICES = 2_500  # about 6k lines of four columns a chunk
REVENUE_ROWS_PER_WRITE = 20_000


def ageing_figures(frame: pd.DataFrame) -> dict[str, float]:
    """Total due and the part overdue, as numeric metadata Dagster plots run over run."""
    overdue = sum((sum(frame[b]) for b in BUCKETS[1:]), Decimal(0)) if len(frame) else Decimal(0)
    return {"total_due": float(sum(frame["total_due"], Decimal(0))), "overdue": float(overdue),
            "contacts": float(len(frame))}  # fmt: skip


def overdue_figures(frame: pd.DataFrame) -> dict[str, float]:
    return {
        "invoices_overdue": float(len(frame)),
        "amount_overdue_base": float(sum(frame["amount_due_base"], Decimal(0))),
    }


_AGEING_READS = ("invoices", "credit_notes", "overpayments", "prepayments", "contacts")
DATASETS = (
    DatasetSpec(
        name="ar_ageing",
        description="Receivables per customer (name and id) in overdue buckets as at the organisation's today, "
        "unapplied credit notes, overpayments and prepayments netted, in base currency; ties to "
        "AgedReceivablesByContact and the receivables control account.",
        reads=_AGEING_READS,
        key=("contact_id",),
        build=partial(_build_ageing, "ACCREC"),
        money=AGEING_MONEY,
        figures=ageing_figures,
    ),
    DatasetSpec(
        name="ap_ageing",
        description="Payables per supplier in overdue buckets as at the organisation's today, unapplied credits "
        "netted, in base currency; ties to AgedPayablesByContact and the payables control account.",
        reads=_AGEING_READS,
        key=("contact_id",),
        build=partial(_build_ageing, "ACCPAY"),
        money=AGEING_MONEY,
        figures=ageing_figures,
    ),
    DatasetSpec(
        name="overdue_invoices",
        description="Sales invoices past due with an amount still owed, most overdue first: number, contact, due "
        "date, days overdue, amount due and currency (what an alerting bot posts).",
        reads=("invoices", "contacts"),
        key=("invoice_id",),
        build=_build_overdue,
        money=("amount_due", "amount_due_base"),
        figures=overdue_figures,
    ),
    DatasetSpec(
        name="revenue_by_customer",
        description="Revenue per customer and month in base currency: sales invoice lines on revenue accounts less "
        "sales credit notes, ex tax.",
        reads=("invoices", "credit_notes", "accounts", "contacts"),
        key=("contact_id", "month"),
        build=_build_revenue,
        money=REVENUE_MONEY,
    ),
)
