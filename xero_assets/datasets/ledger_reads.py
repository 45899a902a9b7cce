"""What the ledger datasets read from the warehouse, with the work pushed into SQL.

Journal lines are the one table that grows without bound, so they are only ever read aggregated (per account and
month, a few thousand rows whatever the organisation's size) or streamed in chunks for the general ledger. Both
work on SQLite and PostgreSQL: the month is cut from the date column with each dialect's own function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from xero_assets.datasets.spec import DatasetInputs
from xero_assets.store import typed
from xero_assets.store.warehouse import raw_records, report_cells

CHUNK_JOURNALS = 500  # journals per chunk of the general ledger (about 5 lines each: some 10 MB in pandas)


def month_of(engine: sa.Engine, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """'YYYY-MM' of a DATE column in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.substr(column, 1, 7)  # SQLite stores dates as ISO text


def one_of(engine: sa.Engine, column: sa.ColumnElement[Any], values: list[str]) -> sa.ColumnElement[bool]:
    """`column IN values` with the values as ONE parameter (a JSON list on SQLite, an array on PostgreSQL), so the
    statement's text is the same whatever their number: an expanded IN of a batch's 2,000 ids is a new statement
    every batch, and SQLite's driver caches up to 128 prepared statements per connection, tens of MB at that size."""
    if engine.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String)))
    listed = sa.func.json_each(sa.bindparam(None, orjson.dumps(values).decode(), type_=sa.String)).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def rows_with_ids(inputs: DatasetInputs, table_name: str, columns: list[str], ids: list[str]) -> list[tuple]:
    """The `columns` of the tenant's rows of `table_name` whose id is one of `ids` (primary-key look-ups)."""
    if not ids:
        return []
    table = typed.TABLES[table_name]
    query = sa.select(*(table.c[name] for name in columns)).where(
        table.c.tenant_id == inputs.tenant_id, one_of(inputs.engine, table.c.id, ids)
    )
    with inputs.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def account_movements(inputs: DatasetInputs) -> pd.DataFrame:
    """Net and debits per account and month, summed in the database over the tenant's journal lines, with what the
    lines say about each account (code, name, type) for accounts the chart does not have."""
    lines, journals = typed.TABLES["xero_journal_lines"], typed.TABLES["xero_journals"]
    month = month_of(inputs.engine, journals.c.journaldate).label("month")
    debit = sa.case((lines.c.netamount > 0, lines.c.netamount), else_=0)
    query = (
        sa.select(
            lines.c.accountid.label("account_id"),
            month,
            sa.func.sum(lines.c.netamount).label("net"),
            sa.func.sum(debit).label("debits"),
            sa.func.max(lines.c.accountcode).label("account_code"),
            sa.func.max(lines.c.accountname).label("account_name"),
            sa.func.max(lines.c.accounttype).label("account_type"),
        )
        .join(journals, sa.and_(journals.c.tenant_id == lines.c.tenant_id, journals.c.id == lines.c.parent_id))
        .where(lines.c.tenant_id == inputs.tenant_id, lines.c.accountid.is_not(None))
        .group_by(lines.c.accountid, month)
        .order_by(month)
    )
    with inputs.engine.connect() as conn:
        return pd.read_sql(query, conn)


def chart_of_accounts(inputs: DatasetInputs) -> pd.DataFrame:
    """The tenant's accounts in the statements' column names (ACCOUNT_COLUMNS)."""
    frame = inputs.typed("xero_accounts", ["id", "code", "name", "type", "class", "systemaccount"])
    return frame.rename(
        columns={"id": "account_id", "code": "account_code", "name": "account_name", "type": "account_type",
                 "class": "account_class", "systemaccount": "system_account"}
    )  # fmt: skip


def stored_report(inputs: DatasetInputs, report: str) -> pd.DataFrame:
    """Every stored cell of one report API with when its request was last read (to pick the newest per month)."""
    c, r = report_cells.c, raw_records.c
    query = (
        sa.select(c.period, c.row_no, c.col_no, c.section, c.row_type, c.row_label, c.column_label, c.value,
                  c.account_id, r.last_seen)
        .join(raw_records, sa.and_(r.tenant_id == c.tenant_id, r.api == c.report, r.record_id == c.period))
        .where(c.tenant_id == inputs.tenant_id, c.report == report)
        .order_by(c.period, c.row_no, c.col_no)
    )  # fmt: skip
    with inputs.engine.connect() as conn:
        return pd.read_sql(query, conn)


def journal_batches(inputs: DatasetInputs, size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The tenant's journals as Xero sent them (with tracking, which no typed table keeps), `size` at a time in
    record-id order, so the general ledger is built without holding every journal at once."""
    r = raw_records.c
    size = size or CHUNK_JOURNALS
    after = ""
    while True:
        query = (
            sa.select(r.record_id, r.data)
            .where(r.tenant_id == inputs.tenant_id, r.api == "journals", r.record_id > after,
                   r.deleted_in_xero.is_(False))
            .order_by(r.record_id)
            .limit(size)
        )  # fmt: skip
        with inputs.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        after = rows[-1][0]
        yield [orjson.loads(data) for _, data in rows]
