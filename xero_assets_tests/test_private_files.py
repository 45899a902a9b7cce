"""Files holding customer data are created readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import sqlalchemy as sa

from xero_assets.store.crypto import load_or_create_key
from xero_assets.store.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_warehouse_and_its_wal_files_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
        with engine.begin() as conn:
            conn.execute(sa.text("create table books (amount numeric)"))
            conn.execute(sa.text("insert into books values (1)"))
        files = sorted(tmp_path.glob("warehouse.db*"))
        assert [f.name for f in files] == ["warehouse.db", "warehouse.db-shm", "warehouse.db-wal"]
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_database_file_keeps_the_mode_its_admin_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o640)
    make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o640


def test_the_key_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    load_or_create_key(path)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
