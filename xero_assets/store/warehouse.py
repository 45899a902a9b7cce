"""The warehouse: every Xero record kept losslessly, typed tables beside it, reports flattened, and sync cursors.

Why it looks like this:
- `xero_raw_records` keeps each record's JSON exactly as Xero sent it, keyed by (tenant, api, record id), so nothing a
  typed table leaves out is ever lost, and a record whose status becomes VOIDED, DELETED or ARCHIVED is updated, not
  dropped. A hash of the JSON tells inserted / updated / unchanged apart without comparing documents.
- One page of records is written in ONE transaction together with the cursor that covers it (`xero_sync_state`), so a
  sync killed at any moment resumes from a cursor that never claims rows it did not store, and memory is bounded by a
  page, not by the organisation.
- Writes are batched by chunks of a page (`WRITE_CHUNK` records, all in the page's one transaction): one SELECT of
  the chunk's existing hashes, then executemany upserts (ON CONFLICT on SQLite and PostgreSQL alike), never a round
  trip per row, and never more than a chunk's JSON text and typed rows alive at once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from xero_assets.store import typed
from xero_assets.store.db import create_missing_tables, metadata, write_transaction
from xero_assets.store.tokens import ConnectionStatus
from xero_assets.xero import dates

STATUS_FIELDS = ("Status", "ContactStatus", "status")

T = TypeVar("T")

raw_records = sa.Table(
    "xero_raw_records",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("api", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.String(255), primary_key=True),
    sa.Column("updated_utc", sa.DateTime),
    sa.Column("status", sa.String(64)),
    sa.Column("data", sa.Text, nullable=False),  # the record's JSON exactly as received
    sa.Column("hash", sa.String(32), nullable=False),
    sa.Column("first_seen", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("deleted_in_xero", sa.Boolean, nullable=False, default=False),
)

sync_state = sa.Table(
    "xero_sync_state",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("api", sa.String(64), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),  # SyncState as JSON: one shape for every paging kind
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

report_cells = sa.Table(
    "xero_report_cells",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("report", sa.String(64), primary_key=True),
    sa.Column("period", sa.String(128), primary_key=True),  # the request it came from, e.g. "2026-11" or a contact
    sa.Column("row_no", sa.Integer, primary_key=True),
    sa.Column("col_no", sa.Integer, primary_key=True),
    sa.Column("section", sa.String(255)),
    sa.Column("row_type", sa.String(32)),
    sa.Column("row_label", sa.String(255)),
    sa.Column("column_label", sa.String(255)),
    sa.Column("value", sa.String(255)),
    sa.Column("amount", sa.Numeric(19, 4, asdecimal=False)),
    sa.Column("account_id", sa.String(64)),
)

tenants = sa.Table(
    "xero_tenants",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("tenant_name", sa.String(255)),
    sa.Column("status", sa.String(32), nullable=False),  # the connection's: active / needs_reauthorization / removed
    sa.Column("active", sa.Boolean, nullable=False),  # False once removed: data kept, no longer synced
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sa.Index("ix_report_cells_account", report_cells.c.tenant_id, report_cells.c.account_id)


def now_utc() -> datetime:
    """Naive UTC, the one timestamp convention of every warehouse column (SQLite has no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class SyncState:
    """Where the sync of one (tenant, API) stands. Saved in the same transaction as the rows it covers.

    `updated_cursor` is the newest UpdatedDateUTC stored by a COMPLETED scan (the next If-Modified-Since).
    `journal_offset` is the last JournalNumber stored (Journals resume after it, page by page).
    `scan_*` describe a scan in progress: the next page to read, the If-Modified-Since it runs with, when it started
    (for finding records a full refresh no longer sees) and the newest timestamp seen so far. A killed scan resumes
    at `scan_page` with the same `scan_ims`, so nothing between the old cursor and the kill is skipped.
    `last_full_read` is when everything of the API was last re-read whatever the cursors said (reports and
    LinkedTransactions re-read only what changed in between; see xero_assets.reports).
    """

    updated_cursor: datetime | None = None
    journal_offset: int | None = None
    scan_page: int | None = None
    scan_ims: datetime | None = None
    scan_started: datetime | None = None
    scan_full: bool = False
    scan_max_updated: datetime | None = None
    paused_until: datetime | None = None
    last_completed: datetime | None = None
    unavailable_until: datetime | None = None  # Xero answered 404 (the organisation lacks it): not asked before then
    last_full_read: datetime | None = None

    def to_json(self) -> str:
        return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> SyncState:
        raw = json.loads(text)
        kinds = {"journal_offset", "scan_page", "scan_full"}
        return cls(**{k: (v if k in kinds else _dt(v)) for k, v in raw.items() if k in cls.__dataclass_fields__})

    @property
    def cursor_label(self) -> str:
        """The cursor as a person reads it in Dagster's metadata."""
        parts = []
        if self.updated_cursor:
            parts.append(f"modified since {self.updated_cursor.isoformat()}Z")
        if self.journal_offset is not None:
            parts.append(f"after JournalNumber {self.journal_offset}")
        if self.scan_page is not None:
            parts.append(f"scan resumes at page {self.scan_page}")
        return "; ".join(parts) or "none (full read)"


# Malformed fields an API's sync keeps to report (its metadata lists up to this many): a field malformed in every
# record of a large API would otherwise keep one entry per record for the whole sync.
BAD_FIELDS_KEPT = 100


@dataclass
class WriteCounts:
    """What one write did; added up over the pages of a sync."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted_in_xero: int = 0
    bad_fields: list[typed.FieldProblem] = field(default_factory=list)  # stored raw, NULL in the typed table

    def __iadd__(self, other: WriteCounts) -> WriteCounts:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted_in_xero += other.deleted_in_xero
        self.bad_fields += other.bad_fields[: max(0, BAD_FIELDS_KEPT - len(self.bad_fields))]
        return self

    @property
    def seen(self) -> int:
        return self.inserted + self.updated + self.unchanged


# Records per statement batch of a write (see `Warehouse.write_records`): a quarter of a 1,000-record page.
WRITE_CHUNK = 250


def _chunks(records: Iterable[T], size: int) -> Iterator[list[T]]:
    """`records` in lists of at most `size`, taken from the iterable as each list is needed."""
    iterator = iter(records)
    while True:
        chunk = list(itertools.islice(iterator, size))
        if not chunk:
            return
        yield chunk
        del chunk  # not kept while the caller writes it and the next one is taken


def drain(records: Sequence[T]) -> Iterator[T]:
    """Yield a page's records first to last, removing each from the page (a list) as it goes.

    The warehouse writes a page in chunks (`Warehouse.write_records`); handed a drained page, each chunk's records
    are freed once written instead of living until the whole page is done (a 1,000-invoice page is about 10 MB of
    dicts). Everything that reads the records (counts, cursors) reads them before the write. A large body's
    `LazyRecords` holds no decoded record to free: it is read through, one record decoded at a time."""
    if not isinstance(records, list):
        yield from records
        return
    records.reverse()
    while records:
        yield records.pop()


@dataclass
class _RawRow:
    record_id: str
    data: str
    hash: str
    updated_utc: datetime | None
    status: str | None
    record: Mapping[str, Any] = field(repr=False)


def _dumps(record: Any) -> bytes:
    """Compact UTF-8 JSON, keys in Xero's order. orjson: the sync serialises every record it stores, and the
    standard library's encoder was the largest single cost of a write (measured on 1,000-invoice pages)."""
    return orjson.dumps(record)


def _raw_row(record_id: str, record: Mapping[str, Any], updated_field: str | None) -> _RawRow:
    encoded = _dumps(record)
    updated = record.get(updated_field) if updated_field else record.get("UpdatedDateUTC")
    moment = dates.parse(updated) if isinstance(updated, str) else None
    status = next((str(record[f]) for f in STATUS_FIELDS if record.get(f) is not None), None)
    return _RawRow(
        record_id=record_id,
        data=encoded.decode(),
        hash=hashlib.blake2b(encoded, digest_size=16).hexdigest(),
        updated_utc=moment.replace(tzinfo=None) if moment else None,
        status=status,
        record=record,
    )


def insert_rows(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], update: Sequence[str] | None = None
) -> None:
    """INSERT many rows in one round trip; with `update`, ON CONFLICT (primary key) DO UPDATE those columns.

    PostgreSQL gets ONE statement per batch whose rows arrive as one JSON document, expanded server-side by
    `json_to_recordset`: Python's C JSON encoder and PostgreSQL's C parser do the work. Measured on a 100-journal
    page (100 raw rows, 440 lines): executemany ran one statement per row; arrays per column (`unnest`) spent most
    of their time in psycopg's per-element text escaping; this is the fastest of the three. SQLite's executemany is
    already an in-process loop.
    """
    if not rows:
        return
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    if conn.dialect.name == "postgresql":
        columns = ", ".join(names)
        types = ", ".join(f"{n} {table.c[n].type.compile(conn.dialect)}" for n in names)
        source = f"json_to_recordset(%(rows)s::json) AS x({types})"
        sql = f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM {source}'
        if update is not None:
            sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in update)
            sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
        conn.exec_driver_sql(sql, {"rows": orjson.dumps(list(rows)).decode()})
        return
    sql = f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    if update is not None:
        sets = ", ".join(f"{n} = excluded.{n}" for n in update)
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    conn.exec_driver_sql(sql, sqlite_parameters(table, rows))


def sqlite_parameters(table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """`rows` as the parameter tuples of an INSERT of every column of `table`, values as SQLAlchemy's SQLite types
    store them (so SQLAlchemy reads them back unchanged), without SQLAlchemy's per-row parameter processing, which
    cost more than SQLite's own work on large pages. Rows are picked whole by one `itemgetter` call and only the
    date and timestamp columns are converted (a value at a time for every column was a tenth of a write)."""
    names = [c.name for c in table.columns]
    pick = operator.itemgetter(*names)
    dated = [i for i, c in enumerate(table.columns) if isinstance(c.type, (sa.Date, sa.DateTime))]
    try:
        picked = [pick(row) for row in rows] if len(names) > 1 else [(pick(row),) for row in rows]
    except KeyError:  # a row without every column: the absent ones are NULL
        picked = [tuple(row.get(n) for n in names) for row in rows]
    if not dated:
        return picked
    out = []
    for values in picked:
        values = list(values)
        for i in dated:
            if values[i] is not None:
                values[i] = _sqlite_moment(values[i])
        out.append(tuple(values))
    return out


def _sqlite_moment(value: date | datetime) -> str:
    """A date or timestamp as SQLAlchemy's SQLite DATE and DATETIME store it."""
    if type(value) is datetime:
        return value.isoformat(" ", "microseconds")
    return value.isoformat()


def _among(conn: sa.Connection, column: sa.ColumnElement[Any], values: list[str]) -> sa.ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `= ANY(<one array>)`, one bind parameter instead of one per value."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String)))
    return column.in_(values)


def _upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keep: Iterable[str] = ()) -> None:
    """Upsert by primary key, updating every column except the key and `keep`."""
    skip = {c.name for c in table.primary_key.columns} | set(keep)
    insert_rows(conn, table, rows, update=[c.name for c in table.columns if c.name not in skip])


def _plan_every_statement(dbapi_connection: Any, _record: Any) -> None:
    """No server-side prepared statements on warehouse connections (psycopg prepares after 5 executions).

    A sync fills tables from empty; a prepared statement's generic plan, chosen while a table was empty, keeps
    scanning it whole as it grows (measured: a 100-journal page from 8 ms to 33 ms at 20,000 rows). Planning each
    statement against the table's current size keeps the primary-key index scans (11 ms at 20,000 rows).
    """
    dbapi_connection.prepare_threshold = None


class Warehouse:
    """Reads and writes the warehouse through one engine. Thread-safe: each call uses its own connection."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._growth_lock = threading.Lock()
        self._grown: dict[str, int] = {}
        self._analyze_at: dict[str, int] = {}
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            sa.event.listen(engine, "connect", _plan_every_statement)

    def create(self) -> None:
        """Create every table of ours that is missing (idempotent, and safe when several runs start at once)."""
        create_missing_tables(self.engine)

    # ----- sync state -------------------------------------------------------------------------------------------

    def state(self, tenant_id: str, api: str) -> SyncState:
        with self.engine.connect() as conn:
            text = conn.execute(
                sa.select(sync_state.c.state).where(sync_state.c.tenant_id == tenant_id, sync_state.c.api == api)
            ).scalar()
        return SyncState.from_json(text) if text else SyncState()

    def save_state(self, tenant_id: str, api: str, state: SyncState, conn: sa.Connection | None = None) -> None:
        """Persist `state`; pass `conn` to make it part of a larger transaction (the page it covers)."""
        row = {"tenant_id": tenant_id, "api": api, "state": state.to_json(), "updated_at": now_utc()}
        if conn is None:
            with write_transaction(self.engine) as own:
                _upsert(own, sync_state, [row])
        else:
            _upsert(conn, sync_state, [row])

    # ----- records ----------------------------------------------------------------------------------------------

    def write_records(
        self,
        tenant_id: str,
        api: str,
        records: Iterable[Mapping[str, Any]],
        *,
        id_field: str | None,
        updated_field: str | None,
        seen_at: datetime,
        state: SyncState | None = None,
        touch_unchanged: bool = False,
        typed_extra: Mapping[str, Any] | None = None,
    ) -> WriteCounts:
        """Upsert one batch of `api` records and, in the same transaction, `state`.

        The batch is written `WRITE_CHUNK` records at a time inside that one transaction, so what a write derives
        from its records (JSON text, typed rows, the statement's parameters) is bounded by a chunk whatever the
        batch's size, and records handed over as a draining iterator (`drain`) are freed chunk by
        chunk. `touch_unchanged` stamps `last_seen` on unchanged rows too: a full scan needs it to find records
        Xero no longer returns; an incremental one does not pay for it. `typed_extra` fills typed columns the
        record itself lacks (NZ/UK leave does not carry its employee's id).
        """
        counts = WriteCounts()
        changed = 0
        with write_transaction(self.engine) as conn:
            for chunk in _chunks(records, WRITE_CHUNK):
                by_id: dict[str, _RawRow] = {}
                for record in chunk:
                    record_id = str(record.get(id_field)) if id_field else "settings"
                    if id_field and record.get(id_field) is None:
                        continue
                    by_id[record_id] = _raw_row(record_id, record, updated_field)
                del chunk
                result = self._write_raw(conn, tenant_id, api, by_id, seen_at, touch_unchanged)
                typed_records = [row.record for row in by_id.values() if row.record_id in result.changed_ids]
                del by_id
                result.counts.bad_fields = self._write_typed(
                    conn, tenant_id, api, typed_records, result.replaced_ids, typed_extra
                )
                counts += result.counts
                changed += len(result.changed_ids)
                del typed_records, result
            if state is not None:
                self.save_state(tenant_id, api, state, conn)
        self._grew(api, changed)
        return counts

    def write_records_later(
        self, tenant_id: str, api: str, records: Iterable[Mapping[str, Any]], **options: Any
    ) -> Future[WriteCounts]:
        """`write_records`, as a future: done here before it returns. A sync hands its pages over this way so that
        `xero_assets.store.write_behind.WriteBehind` can write them in another process while the sync reads on."""
        future: Future[WriteCounts] = Future()
        future.set_result(self.write_records(tenant_id, api, records, **options))
        return future

    def _grew(self, api: str, rows: int) -> None:
        """On PostgreSQL, ANALYZE the tables a sync is filling each time this process has added 10x more rows to
        them (1,000, 10,000, ...), a handful of times per sync.

        A sync fills tables far faster than autovacuum's analyze notices, and a never-analyzed table is planned
        as if it had 10 pages: the look-up of a page's existing hashes then filtered (tenant, api) rows instead of
        seeking the primary key (measured: 1 s per page at 500,000 rows, against milliseconds after ANALYZE).
        """
        if self.engine.dialect.name != "postgresql" or rows == 0:
            return
        spec = typed.BY_API.get(api)
        names = [raw_records.name] + ([spec.table_name, *(c.table_name for c in spec.children)] if spec else [])
        due = []
        with self._growth_lock:
            for name in names:
                self._grown[name] = self._grown.get(name, 0) + rows
                if self._grown[name] >= self._analyze_at.get(name, 1000):
                    self._analyze_at[name] = self._grown[name] * 10
                    due.append(name)
        if due:
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE " + ", ".join(f'"{name}"' for name in due)
                )

    def _write_raw(
        self,
        conn: sa.Connection,
        tenant_id: str,
        api: str,
        by_id: Mapping[str, _RawRow],
        seen_at: datetime,
        touch_unchanged: bool,
    ) -> _RawResult:
        result = _RawResult()
        if not by_id:
            return result
        t = raw_records.c
        existing = {
            rid: (digest, deleted)
            for rid, digest, deleted in conn.execute(
                sa.select(t.record_id, t.hash, t.deleted_in_xero).where(
                    t.tenant_id == tenant_id, t.api == api, _among(conn, t.record_id, list(by_id))
                )
            )
        }
        upserts, unchanged = [], []
        for rid, row in by_id.items():
            before = existing.get(rid)
            if before is not None and before[0] == row.hash and not before[1]:
                unchanged.append(rid)
                continue
            if before is None:
                result.counts.inserted += 1
            else:
                result.counts.updated += 1
                result.replaced_ids.add(rid)
            result.changed_ids.add(rid)
            upserts.append(
                {
                    "tenant_id": tenant_id,
                    "api": api,
                    "record_id": rid,
                    "updated_utc": row.updated_utc,
                    "status": row.status,
                    "data": row.data,
                    "hash": row.hash,
                    "first_seen": seen_at,
                    "last_seen": seen_at,
                    "deleted_in_xero": False,
                }
            )
        result.counts.unchanged = len(unchanged)
        _upsert(conn, raw_records, upserts, keep=("first_seen",))
        if touch_unchanged and unchanged:
            conn.execute(
                raw_records.update()
                .where(t.tenant_id == tenant_id, t.api == api, _among(conn, t.record_id, unchanged))
                .values(last_seen=seen_at)
            )
        return result

    def _write_typed(
        self,
        conn: sa.Connection,
        tenant_id: str,
        api: str,
        records: Sequence[Mapping[str, Any]],
        replaced: set[str],
        extra: Mapping[str, Any] | None,
    ) -> list[typed.FieldProblem]:
        """Write the typed rows of `records`; returns the fields that could not be typed (NULL in their rows)."""
        spec = typed.BY_API.get(api)
        if spec is None or not records:
            return []
        rows = typed.typed_rows(spec, tenant_id, records)
        if extra:
            for row in rows.parent:
                for key, value in extra.items():
                    if row.get(key) is None:
                        row[key] = value
        self._delete_typed(conn, spec, tenant_id, [row["id"] for row in rows.parent if row["id"] in replaced])
        parent = typed.TABLES[spec.table_name]
        insert_rows(conn, parent, rows.parent)
        for table_name, child_rows in rows.children.items():
            table = typed.TABLES[table_name]
            insert_rows(conn, table, child_rows)
        return rows.problems

    @staticmethod
    def _delete_typed(conn: sa.Connection, spec: typed.TypedSpec, tenant_id: str, ids: list[str]) -> None:
        if not ids:
            return
        parent = typed.TABLES[spec.table_name]
        conn.execute(parent.delete().where(parent.c.tenant_id == tenant_id, _among(conn, parent.c.id, ids)))
        for child in spec.children:
            table = typed.TABLES[child.table_name]
            conn.execute(table.delete().where(table.c.tenant_id == tenant_id, _among(conn, table.c.parent_id, ids)))

    def count_missing(self, tenant_id: str, api: str, seen_before: datetime) -> int:
        """How many stored records `mark_missing_deleted` would flag (the sync checks it for a mass delete first)."""
        where = self._missing(tenant_id, api, seen_before)
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one())

    @staticmethod
    def _missing(tenant_id: str, api: str, seen_before: datetime) -> tuple[sa.ColumnElement[bool], ...]:
        """Records a complete scan started at `seen_before` did not see, not yet flagged."""
        t = raw_records.c
        return (t.tenant_id == tenant_id, t.api == api, t.last_seen < seen_before, t.deleted_in_xero.is_(False))

    def mark_missing_deleted(
        self, tenant_id: str, api: str, seen_before: datetime, state: SyncState | None = None
    ) -> int:
        """After a complete scan: flag records not seen since `seen_before` as deleted in Xero (their rows stay in
        the raw table for history; typed tables mirror what Xero still has, so theirs go)."""
        t = raw_records.c
        where = self._missing(tenant_id, api, seen_before)
        with write_transaction(self.engine) as conn:
            gone = list(conn.execute(sa.select(t.record_id).where(*where)).scalars())
            if gone:
                conn.execute(raw_records.update().where(*where).values(deleted_in_xero=True))
                spec = typed.BY_API.get(api)
                if spec is not None:
                    for start in range(0, len(gone), 1000):
                        self._delete_typed(conn, spec, tenant_id, gone[start : start + 1000])
            if state is not None:
                self.save_state(tenant_id, api, state, conn)
        return len(gone)

    # ----- reports ----------------------------------------------------------------------------------------------

    def write_report(
        self, tenant_id: str, api: str, period: str, document: Mapping[str, Any], seen_at: datetime
    ) -> WriteCounts:
        """Store one report response raw (record id = `period`) and, when it changed, flattened into cells."""
        row = _raw_row(period, document, None)
        with write_transaction(self.engine) as conn:
            result = self._write_raw(conn, tenant_id, api, {period: row}, seen_at, touch_unchanged=True)
            if result.changed_ids:
                c = report_cells.c
                conn.execute(report_cells.delete().where(c.tenant_id == tenant_id, c.report == api, c.period == period))
                cells = [
                    {"tenant_id": tenant_id, "report": api, "period": period, **cell}
                    for cell in flatten_report(document)
                ]
                insert_rows(conn, report_cells, cells)
        return result.counts

    # ----- reads ------------------------------------------------------------------------------------------------

    def record_versions(self, tenant_id: str, api: str, include_deleted: bool = False) -> dict[str, datetime | None]:
        """{record id: UpdatedDateUTC} for one tenant's API: what tests compare with the sandbox's ground truth."""
        t = raw_records.c
        query = sa.select(t.record_id, t.updated_utc).where(t.tenant_id == tenant_id, t.api == api)
        if not include_deleted:
            query = query.where(t.deleted_in_xero.is_(False))
        with self.engine.connect() as conn:
            return {rid: updated for rid, updated in conn.execute(query)}

    def count(self, tenant_id: str, api: str) -> int:
        t = raw_records.c
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(
                t.tenant_id == tenant_id, t.api == api, t.deleted_in_xero.is_(False)
            )
            return int(conn.execute(query).scalar() or 0)

    def records(self, tenant_id: str, api: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The stored records of one tenant's API, newest first (previews, and country/employee look-ups)."""
        t = raw_records.c
        query = (
            sa.select(t.data)
            .where(t.tenant_id == tenant_id, t.api == api, t.deleted_in_xero.is_(False))
            .order_by(t.updated_utc.desc(), t.record_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [json.loads(text) for text in conn.execute(query).scalars()]

    def states(self, tenant_id: str) -> dict[str, SyncState]:
        """Every API's sync state of one tenant in one query (the Integrations page shows them all at once)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sync_state.c.api, sync_state.c.state).where(sync_state.c.tenant_id == tenant_id)
            )
            return {api: SyncState.from_json(text) for api, text in rows}

    def counts(self, tenant_id: str) -> dict[str, int]:
        """{api: stored records not deleted in Xero} for one tenant, in one grouped query."""
        t = raw_records.c
        query = (
            sa.select(t.api, sa.func.count())
            .where(t.tenant_id == tenant_id, t.deleted_in_xero.is_(False))
            .group_by(t.api)
        )
        with self.engine.connect() as conn:
            return {api: int(n) for api, n in conn.execute(query)}

    def tenants(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(raw_records.c.tenant_id).distinct()).scalars())

    def outstanding_contacts(self, tenant_id: str, invoice_type: str) -> list[str]:
        """Contacts with an amount still due on an ACCREC or ACCPAY invoice: the only ones whose aged report has
        anything to say (one call per contact, so asking for the others would waste the tenant's day limit)."""
        inv = typed.TABLES["xero_invoices"].c
        query = (
            sa.select(inv.contactid)
            .where(
                inv.tenant_id == tenant_id,
                inv.type == invoice_type,
                inv.amountdue > 0,
                inv.status.in_(("AUTHORISED", "SUBMITTED")),
                inv.contactid.is_not(None),
            )
            .distinct()
            .order_by(inv.contactid)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def set_tenant_status(self, connections: Iterable[tuple[str, str, str]]) -> None:
        """Record each tenant's connection status (tenant id, name, status); removed tenants become inactive."""
        rows = [
            {
                "tenant_id": t,
                "tenant_name": n,
                "status": s,
                "active": s != ConnectionStatus.REMOVED,
                "updated_at": now_utc(),
            }
            for t, n, s in connections
        ]
        with write_transaction(self.engine) as conn:
            _upsert(conn, tenants, rows)

    def tenant_status(self) -> dict[str, tuple[str, bool]]:
        """{tenant id: (status, active)} as the sensor last recorded it."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tenants.c.tenant_id, tenants.c.status, tenants.c.active))
            return {t: (s, bool(a)) for t, s, a in rows}

    def purge_tenant(self, tenant_id: str) -> None:
        """Delete every warehouse row of one tenant (disconnect --purge)."""
        with write_transaction(self.engine) as conn:
            for table in (raw_records, sync_state, report_cells, tenants, *typed.TABLES.values()):
                conn.execute(table.delete().where(table.c.tenant_id == tenant_id))


@dataclass
class _RawResult:
    counts: WriteCounts = field(default_factory=WriteCounts)
    changed_ids: set[str] = field(default_factory=set)  # inserted or updated
    replaced_ids: set[str] = field(default_factory=set)  # updated: their typed rows must go first


def _cell_amount(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def flatten_report(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Reports/* document as cells: one row per (row, column) with its section, labels, value and account.

    Xero nests Header / Section / Row / SummaryRow rows; the header row names the columns (periods for
    multi-period reports), the first cell of a row is its label, and a cell's `account` attribute ties it to a
    ledger account. The published GST/BAS list has no Rows and flattens to nothing (its documents do).
    """
    cells: list[dict[str, Any]] = []
    header: list[str] = []
    row_no = 0

    def walk(rows: Iterable[Mapping[str, Any]], section: str | None) -> None:
        nonlocal header, row_no
        for row in rows:
            kind = row.get("RowType")
            if kind == "Header":
                header = [str(cell.get("Value") or "") for cell in row.get("Cells") or []]
                continue
            if kind == "Section":
                walk(row.get("Rows") or [], row.get("Title") or section)
                continue
            values = row.get("Cells") or []
            if not values:
                continue
            row_no += 1
            label = str(values[0].get("Value") or "")
            account = None
            for cell in values:
                for attribute in cell.get("Attributes") or []:
                    if attribute.get("Id") == "account":
                        account = attribute.get("Value")
            for col_no, cell in enumerate(values[1:], start=1):
                value = cell.get("Value")
                cells.append(
                    {
                        "row_no": row_no,
                        "col_no": col_no,
                        "section": (section or "")[:255],
                        "row_type": kind,
                        "row_label": label[:255],
                        "column_label": (header[col_no] if col_no < len(header) else "")[:255],
                        "value": None if value is None else str(value)[:255],
                        "amount": _cell_amount(value if isinstance(value, str) else None),
                        "account_id": account,
                    }
                )

    for report in document.get("Reports") or [document]:
        walk(report.get("Rows") or [], None)
    return cells
