"""Invoice and bill line items with their header, contact name, account and tracking: the grain a BI tool slices
sales and spend by (customer, account, region/department option), in document and base currency."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets import money
from xero_assets.datasets.spec import DatasetInputs, DatasetSpec
from xero_assets.store import typed

INVOICE_COLUMNS = (
    "id", "type", "invoicenumber", "reference", "status", "date", "duedate", "lineamounttypes", "currencycode",
    "currencyrate", "contactid", "subtotal", "totaltax", "total",
)  # fmt: skip
LINE_COLUMNS = (
    "parent_id", "line_no", "lineitemid", "description", "quantity", "unitamount", "itemcode", "accountcode",
    "taxtype", "taxamount", "lineamount", "tracking1category", "tracking1option", "tracking2category",
    "tracking2option",
)  # fmt: skip
LINE_MONEY = ("unit_amount", "line_amount", "tax_amount", "net_amount", "gross_amount", "net_amount_base")
LINE_KEY = ("invoice_id", "line_no")


def is_inclusive(line_amount_types: pd.Series) -> pd.Series:
    """Xero's LineAmountTypes: on "Inclusive" documents LineAmount already contains the tax."""
    return line_amount_types.fillna("").str.lower().eq("inclusive")


def contact_names(contacts: pd.DataFrame) -> pd.DataFrame:
    """contact id -> name, the two columns every document dataset shows side by side."""
    return contacts[["id", "name"]].rename(columns={"id": "contact_id", "name": "contact_name"})


def invoice_lines(
    invoices: pd.DataFrame, lines: pd.DataFrame, contacts: pd.DataFrame, accounts: pd.DataFrame, base_currency: str
) -> pd.DataFrame:
    """One row per invoice/bill line (DELETED documents left out: Xero no longer shows them; VOIDED kept with their
    status so a report can choose). Net is ex tax whatever the document's LineAmountTypes; `net_amount_base` is the
    net in the organisation's `base_currency` (CurrencyRate is document units per base unit)."""
    docs = invoices[invoices["status"] != "DELETED"]
    frame = lines.merge(docs, left_on="parent_id", right_on="id", how="inner")
    frame = frame.merge(contact_names(contacts), left_on="contactid", right_on="contact_id", how="left")
    account_names = accounts[["code", "name"]].rename(columns={"code": "accountcode", "name": "account_name"})
    frame = frame.merge(account_names.drop_duplicates("accountcode"), on="accountcode", how="left")
    line_cents, tax_cents = money.cents(frame["lineamount"]), money.cents(frame["taxamount"])
    net = line_cents.where(~is_inclusive(frame["lineamounttypes"]), line_cents - tax_cents)
    out = pd.DataFrame(
        {
            "invoice_id": frame["parent_id"],
            "line_no": frame["line_no"].astype("int64"),
            "invoice_number": frame["invoicenumber"],
            "invoice_type": frame["type"],
            "status": frame["status"],
            "date": frame["date"],
            "due_date": frame["duedate"],
            "reference": frame["reference"],
            "contact_id": frame["contactid"],
            "contact_name": frame["contact_name"],
            "line_item_id": frame["lineitemid"],
            "description": frame["description"],
            "item_code": frame["itemcode"],
            "quantity": money.decimals(frame["quantity"]),
            "unit_amount": money.cents(frame["unitamount"]),
            "account_code": frame["accountcode"],
            "account_name": frame["account_name"],
            "tax_type": frame["taxtype"],
            "line_amount": line_cents,
            "tax_amount": tax_cents,
            "net_amount": net,
            "gross_amount": net + tax_cents,
            "currency_code": frame["currencycode"].fillna(base_currency),
            "currency_rate": money.decimals(frame["currencyrate"], default="1"),
            "net_amount_base": money.to_base(net, frame["currencyrate"]),
            "base_currency": base_currency,
            "tracking1_category": frame["tracking1category"],
            "tracking1_option": frame["tracking1option"],
            "tracking2_category": frame["tracking2category"],
            "tracking2_option": frame["tracking2option"],
        }
    )
    out = out.sort_values(["date", "invoice_number", "line_no"], ignore_index=True, na_position="last")
    return money.money_columns(out, LINE_MONEY)


CHUNK_INVOICES = 1_000  # invoices per chunk (~2.5k lines, some 10 MB in pandas): 500k lines never at once


def invoice_id_ranges(inputs: DatasetInputs, size: int | None = None) -> Iterator[tuple[str, str]]:
    """(first, last) invoice id of each run of `size` invoices in id order: ranges the line table's primary key
    (tenant_id, parent_id, line_no) answers directly. Paged by id, so only one run's ids are ever held."""
    table = typed.TABLES["xero_invoices"]
    size = size or CHUNK_INVOICES
    after: str | None = None
    while True:
        query = sa.select(table.c.id).where(table.c.tenant_id == inputs.tenant_id)
        if after is not None:
            query = query.where(table.c.id > after)
        with inputs.engine.connect() as conn:
            ids = list(conn.execute(query.order_by(table.c.id).limit(size)).scalars())
        if not ids:
            return
        yield ids[0], ids[-1]
        after = ids[-1]


def read_range(inputs: DatasetInputs, table_name: str, columns: tuple[str, ...], id_column: str,
                first: str, last: str) -> pd.DataFrame:  # fmt: skip
    """The `columns` of one tenant's rows of `table_name` whose `id_column` is within [first, last]."""
    table = typed.TABLES[table_name]
    query = sa.select(*(table.c[name] for name in columns)).where(
        table.c.tenant_id == inputs.tenant_id, table.c[id_column] >= first, table.c[id_column] <= last
    )
    with inputs.engine.connect() as conn:
        return pd.read_sql(query, conn)


def _build_invoice_lines(inputs: DatasetInputs, _: Mapping[str, pd.DataFrame]) -> Iterator[pd.DataFrame]:
    contacts = inputs.typed("xero_contacts", ("id", "name"))
    accounts = inputs.typed("xero_accounts", ("code", "name"))
    for first, last in invoice_id_ranges(inputs):
        yield invoice_lines(
            read_range(inputs, "xero_invoices", INVOICE_COLUMNS, "id", first, last),
            read_range(inputs, "xero_invoice_line_items", LINE_COLUMNS, "parent_id", first, last),
            contacts,
            accounts,
            inputs.organisation.base_currency,
        )


DATASETS = (
    DatasetSpec(
        name="invoice_lines",
        description="Invoice and bill line items with header, contact name, account and tracking options; net, tax "
        "and gross in the document's currency and net in the base currency.",
        reads=("invoices", "contacts", "accounts"),
        key=LINE_KEY,
        build=_build_invoice_lines,
        money=LINE_MONEY,
    ),
)
