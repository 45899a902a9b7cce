"""One way to open our database, so the token store and the warehouse agree on URLs and SQLite settings."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa

DEFAULT_DATA_DIR = Path(".xero_assets")


def database_url_from_env() -> str:
    """XERO_ASSETS_DATABASE_URL, or a SQLite file under ./.xero_assets (the embedded default for the demo)."""
    url = os.environ.get("XERO_ASSETS_DATABASE_URL")
    if url:
        return url
    DEFAULT_DATA_DIR.mkdir(mode=0o700, exist_ok=True)
    return f"sqlite:///{(DEFAULT_DATA_DIR / 'warehouse.db').resolve()}"


def create_private_file(path: str | None) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite creates it with the umask's mode: it
    holds the organisations' books. SQLite gives its -wal and -shm files the database file's mode."""
    if not path or path == ":memory:" or path.startswith("file:") or not os.path.isdir(os.path.dirname(path) or "."):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# Pages the SQLite WAL may hold before a commit copies them into the database (SQLite's default: 1,000, 4 MB).
# A sync commits a page of records at a time, and every checkpoint syncs the WAL and the database to disk: at the
# default, checkpoints were a quarter of the time of writing 100-journal pages (12.8 s against 17.5 s for 800 pages,
# measured side by side). 16,384 pages (64 MB) checkpoint 16x less often; the WAL file is reused, not grown further.
SQLITE_CHECKPOINT_PAGES = 16_384


def limits_database_url(url: str) -> str:
    """Where the rate limits shared by every process live, for a database at `url`.

    SQLite has one writer at a time: in the warehouse's own file, each call's three short updates (take a slot and
    reserve a start, record the day's count, free the slot) queued behind the page a sync was writing, and the next
    page's request waited for the previous page's write. A file beside it (`warehouse.db` ->
    `warehouse.limits.db`) is shared by the same processes and locked on its own. PostgreSQL locks rows: one
    database serves both."""
    parsed = sa.engine.make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return url
    stem, dot, suffix = database.rpartition(".")
    limits = f"{stem}.limits.{suffix}" if dot and "/" not in suffix else f"{database}.limits"
    return parsed.set(database=limits).render_as_string(hide_password=False)


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`. SQLite gets WAL and a busy timeout so several processes (Dagster runs, the CLI) can
    share one file: writers queue for the lock instead of failing with "database is locked"."""
    if url.startswith("sqlite"):
        create_private_file(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_LOCK = threading.Lock()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """`engine.begin()`, one at a time per SQLite file in this process.

    SQLite lets one connection write at a time, and one waiting for the lock polls it, sleeping up to 100 ms between
    tries: a sync's threads (one per API) queued that way, and the journals, 100 a page and read one page after
    another, waited about as long for the lock as they took to write (32 ms of a 68 ms page, measured). Waiting
    on a lock of our own hands the file over the moment the writer before commits. PostgreSQL locks rows and
    writes in parallel: nothing to wait for. (A write begun inside another on the same thread still waits for the
    outer one's SQLite lock and fails after the busy timeout, never hangs: the lock is re-entrant.)
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _WRITERS_LOCK:
        lock = _WRITERS.setdefault(str(engine.url.database), threading.RLock())
    with lock, engine.begin() as conn:
        yield conn


# Every table of ours (token store and warehouse) attaches to this one MetaData, so `create_all` builds the lot.
metadata = sa.MetaData()

_CREATING = threading.Lock()
_CREATE_ATTEMPTS = 3


def create_missing_tables(engine: sa.Engine, tables: Sequence[sa.Table] | None = None) -> None:
    """Create the missing tables among `tables` (default: all of ours): idempotent, and safe when runs start at once.

    create_all checks for each table, then creates it: two tenants' first runs on a fresh database (`sync --all`'s
    threads) both saw `xero_invoices`, or `rate_limit_pacing`, missing and one run failed on "table already
    exists". Creations in one process go one after another; a table another process made between the check and the
    CREATE is checked for again."""
    with _CREATING:
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                metadata.create_all(engine, tables=tables)
                return
            except sa.exc.DBAPIError as exc:
                if attempt + 1 == _CREATE_ATTEMPTS or not _made_meanwhile(exc):
                    raise


def _made_meanwhile(exc: sa.exc.DBAPIError) -> bool:
    """The CREATE lost a race to another process: SQLite's "already exists", PostgreSQL's duplicate type or table."""
    text = str(exc.orig).lower()
    return "already exists" in text or "pg_type_typname_nsp_index" in text
