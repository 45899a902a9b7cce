"""One way to open our database, so the token store and the warehouse agree on URLs and SQLite settings."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
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
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


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
