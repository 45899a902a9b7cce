"""Dataset tables: `ds_<name>` with a primary key on (tenant_id, *key) and NUMERIC money, one tenant replaced at a
time in one transaction (readers see the old rows until the new ones are all there), and the organisation's facts.

Tables are derived data: a table whose columns no longer match its spec (an older version of the dataset) is
dropped and created afresh, and every tenant's rows come back at its next build.

A build with no rows (a general ledger before the first journal) still leaves the table there, with its primary key,
so its checks and every reader find an empty table rather than a missing one. No row says what type the other
columns are, so they are text until rows come: the first rows written to a table that holds none retype it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets.money import money
from xero_assets.datasets.spec import DatasetSpec, Organisation
from xero_assets.store.warehouse import Warehouse

MONEY = sa.Numeric(19, 2)
TENANT = sa.String(64)
# Rows per INSERT batch: the driver's parameter tuples (money as text on SQLite) cost far more than the frame's own
# columns, so a frame of any size is handed over a bounded slice at a time.
WRITE_ROWS = 10_000


def table_name(spec: DatasetSpec) -> str:
    return f"ds_{spec.name}"


def _sql_type(values: pd.Series, is_key: bool) -> sa.types.TypeEngine[Any]:
    sample = next((v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))), None)
    if isinstance(sample, bool):
        return sa.Boolean()
    if isinstance(sample, int):
        return sa.BigInteger()
    if isinstance(sample, Decimal):
        return sa.Numeric(19, 4)
    if isinstance(sample, float):
        return sa.Float()
    if isinstance(sample, datetime):
        return sa.DateTime()
    if isinstance(sample, date):
        return sa.Date()
    return sa.String(255) if is_key else sa.Text()


def dataset_table(spec: DatasetSpec, sample: pd.DataFrame) -> sa.Table:
    """The table for `spec`, typed from its money columns and a sample frame of its rows."""
    columns = [sa.Column("tenant_id", TENANT, primary_key=True)]
    for name in sample.columns:
        is_key = name in spec.key
        kind = MONEY if name in spec.money else _sql_type(sample[name], is_key)
        columns.append(sa.Column(name, kind, primary_key=is_key, nullable=not is_key))
    return sa.Table(table_name(spec), sa.MetaData(), *columns)


def _ensure(conn: sa.Connection, table: sa.Table) -> None:
    """The table as `table` says, for rows about to be written: kept when its columns and key match, unless it holds
    no row and was typed without any (text where these rows say a number or a date); otherwise created afresh."""
    inspector = sa.inspect(conn)
    if inspector.has_table(table.name):
        existing = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
        keys = inspector.get_pk_constraint(table.name).get("constrained_columns") or []
        if list(existing) == [c.name for c in table.columns] and keys == [c.name for c in table.primary_key.columns]:
            untyped = any(isinstance(existing[c.name], sa.String) and not isinstance(c.type, sa.String)
                          for c in table.columns)  # fmt: skip
            if not untyped or conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return
        table.drop(conn)
    table.create(conn)


def _empty_sample(spec: DatasetSpec, frame: pd.DataFrame | None) -> pd.DataFrame:
    """The columns of a build with no rows: the builder's (when it returned an empty frame) and, whatever it
    returned, the key and money columns, so the table has its primary key and its exact money."""
    columns = list(frame.columns) if frame is not None else []
    return pd.DataFrame(columns=[*columns, *(c for c in (*spec.key, *spec.money) if c not in columns)])


def _converter(kind: sa.types.TypeEngine[Any], sqlite: bool) -> Any:
    """What one column's present cells need before the driver takes them, or None when nothing: on SQLite (no
    Decimal, no date adapters) Decimal goes as its exact text, which the NUMERIC column stores as a number, and dates
    as the ISO text SQLAlchemy itself writes; numpy scalars become Python ones."""
    if isinstance(kind, (sa.Date, sa.DateTime)):

        def to_date(v: Any) -> Any:
            if isinstance(v, pd.Timestamp):
                v = v.to_pydatetime() if isinstance(kind, sa.DateTime) else v.date()
            return str(v) if sqlite else v

        return to_date
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return str if sqlite else None
    if isinstance(kind, sa.Boolean):
        return bool
    if isinstance(kind, sa.Integer):
        return int
    return None


def _column(series: pd.Series, kind: sa.types.TypeEngine[Any], sqlite: bool) -> list[Any]:
    """One column's cells for the driver, missing values (None, NaN, NaT) as None, converted once per column."""
    values = series.astype(object).where(series.notna(), None).tolist()
    convert = _converter(kind, sqlite)
    return values if convert is None else [None if v is None else convert(v) for v in values]


def _insert(conn: sa.Connection, table: sa.Table, tenant_id: str, frame: pd.DataFrame) -> None:
    """`frame`'s rows into `table`, built column by column as plain tuples (SQLAlchemy's per-row parameter processing
    would cost more than the build), `WRITE_ROWS` rows at a time: streamed with COPY on psycopg 3, which PostgreSQL
    takes about five times faster than an executemany of INSERTs (a large general ledger's 1.3M rows: about 40 s
    against 200 s), and as an executemany elsewhere."""
    names = [c.name for c in table.columns]
    sqlite = conn.dialect.name == "sqlite"
    quoted = ", ".join(f'"{name}"' for name in names)
    copy_sql = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    copying = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    marker = "?" if sqlite else "%s"
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join([marker] * len(names))})'
    for start in range(0, len(frame), WRITE_ROWS):
        part = frame.iloc[start : start + WRITE_ROWS]
        columns = [_column(part[name], table.c[name].type, sqlite) for name in names[1:]]
        rows = zip([tenant_id] * len(part), *columns, strict=True)
        if copying:
            with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.exec_driver_sql(sql, list(rows))


def write_dataset(engine: sa.Engine, spec: DatasetSpec, tenant_id: str, frames: Iterable[pd.DataFrame]) -> int:
    """Replace one tenant's rows of `ds_<name>` with `frames` (chunks, written as they come); returns the row count.
    The table is typed from the first chunk with rows. An empty build clears the tenant's old rows and creates the
    table when it is missing, never touching one that other tenants' rows typed."""
    chunks: Iterator[pd.DataFrame] = iter(frames)
    first, empty = None, None
    for chunk in chunks:  # empty chunks before the first row say nothing of the columns' types
        if len(chunk):
            first = chunk
            break
        empty = chunk
    table = dataset_table(spec, first if first is not None else _empty_sample(spec, empty))
    rows = 0
    with engine.begin() as conn:
        if first is not None:
            _ensure(conn, table)
        elif not sa.inspect(conn).has_table(table.name):
            table.create(conn)
        conn.execute(sa.text(f'DELETE FROM "{table.name}" WHERE tenant_id = :t'), {"t": tenant_id})
        if first is not None:
            for chunk in _chain(first, chunks):
                if len(chunk):
                    _insert(conn, table, tenant_id, chunk)
                    rows += len(chunk)
    return rows


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def read_dataset(engine: sa.Engine, spec: DatasetSpec, tenant_id: str) -> pd.DataFrame:
    """One tenant's stored rows of a dataset (tests and checks), without tenant_id, money as Decimal to the cent
    (SQLite hands NUMERIC back as float)."""
    with engine.connect() as conn:
        query = sa.text(f'SELECT * FROM "{table_name(spec)}" WHERE tenant_id = :t')
        frame = pd.read_sql(query, conn, params={"t": tenant_id}).drop(columns=["tenant_id"])
    for column in spec.money:
        frame[column] = [None if v is None or v != v else money(v) for v in frame[column].astype(object)]
    return frame


def organisation(warehouse: Warehouse, tenant_id: str) -> Organisation:
    """The organisation's name, currency, country and financial year from its synced /Organisation record (a
    tenant whose organisation was never synced gets a clear error, not a calendar year guessed for it)."""
    records = warehouse.records(tenant_id, "organisation", limit=1)
    if not records:
        raise LookupError(
            f"tenant {tenant_id} has no synced Organisation record: materialize xero/organisation for it first "
            "(the datasets need its name, base currency and financial year end)"
        )
    org = records[0]
    return Organisation(
        tenant_id=tenant_id,
        name=str(org.get("Name") or tenant_id),
        base_currency=str(org.get("BaseCurrency") or ""),
        country=str(org.get("CountryCode") or ""),
        financial_year_end_day=int(org.get("FinancialYearEndDay") or 31),
        financial_year_end_month=int(org.get("FinancialYearEndMonth") or 12),
        timezone=XERO_TIMEZONES.get(str(org.get("Timezone") or "").upper(), "UTC"),
    )


# Xero's Organisation.Timezone (Windows zone ids, upper-cased) for the countries Xero serves, as IANA names.
XERO_TIMEZONES = {
    "AUSEASTERNSTANDARDTIME": "Australia/Sydney", "EAUSTRALIASTANDARDTIME": "Australia/Brisbane",
    "CENAUSTRALIASTANDARDTIME": "Australia/Adelaide", "AUSCENTRALSTANDARDTIME": "Australia/Darwin",
    "WAUSTRALIASTANDARDTIME": "Australia/Perth", "TASMANIASTANDARDTIME": "Australia/Hobart",
    "NEWZEALANDSTANDARDTIME": "Pacific/Auckland", "GMTSTANDARDTIME": "Europe/London",
    "EASTERNSTANDARDTIME": "America/New_York", "CENTRALSTANDARDTIME": "America/Chicago",
    "MOUNTAINSTANDARDTIME": "America/Denver", "USMOUNTAINSTANDARDTIME": "America/Phoenix",
    "PACIFICSTANDARDTIME": "America/Los_Angeles", "ALASKANSTANDARDTIME": "America/Anchorage",
    "HAWAIIANSTANDARDTIME": "Pacific/Honolulu", "SINGAPORESTANDARDTIME": "Asia/Singapore",
    "SOUTHAFRICASTANDARDTIME": "Africa/Johannesburg", "UTC": "UTC",
}  # fmt: skip


def organisation_time(org: Organisation, moment: datetime) -> datetime:
    """`moment` (naive values are UTC, the warehouse's convention) on the organisation's clock (UTC when the zone is
    unknown here or has no tz database)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(ZoneInfo(org.timezone))
    except ZoneInfoNotFoundError:
        return moment.astimezone(UTC)


def organisation_today(org: Organisation, now: datetime | None = None) -> date:
    """Today in the organisation's own time zone."""
    return organisation_time(org, now or datetime.now(UTC)).date()
