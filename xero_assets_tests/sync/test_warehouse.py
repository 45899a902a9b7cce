"""The warehouse on both backends: lossless raw rows, typed tables, counts, cursors in the same transaction."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from xero_assets.store import typed
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import (
    SyncState,
    Warehouse,
    flatten_report,
    now_utc,
    raw_records,
    sqlite_parameters,
)


def _invoice(n: int, status: str = "AUTHORISED", updated_ms: int = 1_700_000_000_000, lines: int = 2) -> dict:
    return {
        "InvoiceID": f"inv-{n}",
        "Type": "ACCREC",
        "Status": status,
        "Contact": {"ContactID": f"c-{n % 3}", "Name": "Acme"},
        "Date": "/Date(1700000000000+0000)/",
        "AmountDue": 10.5,
        "Total": 21.0,
        "UpdatedDateUTC": f"/Date({updated_ms}+0000)/",
        "LineItems": [{"LineItemID": f"l-{n}-{i}", "LineAmount": 10.5, "Description": "x"} for i in range(lines)],
        "Unmodelled": {"kept": [1, 2, 3]},
    }


@pytest.fixture
def warehouse(database_url: str) -> Warehouse:
    wh = Warehouse(make_engine(database_url))
    wh.create()
    return wh


def _write(wh: Warehouse, records: list[dict], **kwargs) -> object:
    return wh.write_records(
        "t1", "invoices", records, id_field="InvoiceID", updated_field="UpdatedDateUTC", seen_at=now_utc(), **kwargs
    )


def test_upsert_counts_inserted_updated_unchanged_and_keeps_json_losslessly(warehouse: Warehouse) -> None:
    first = _write(warehouse, [_invoice(n) for n in range(5)])
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    voided = _invoice(0, status="VOIDED", updated_ms=1_800_000_000_000)
    second = _write(warehouse, [voided] + [_invoice(n) for n in range(1, 6)])
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 4)
    stored = {r["InvoiceID"]: r for r in warehouse.records("t1", "invoices")}
    assert stored["inv-0"]["Status"] == "VOIDED"
    assert stored["inv-3"] == _invoice(3)  # every field, including ones no typed table has
    with warehouse.engine.connect() as conn:
        status = conn.execute(sa.select(raw_records.c.status).where(raw_records.c.record_id == "inv-0")).scalar()
    assert status == "VOIDED"


def test_typed_tables_and_children_follow_the_latest_version(warehouse: Warehouse) -> None:
    _write(warehouse, [_invoice(1, lines=3)])
    _write(warehouse, [_invoice(1, lines=1, updated_ms=1_800_000_000_000)])
    inv = typed.TABLES["xero_invoices"]
    lines = typed.TABLES["xero_invoice_line_items"]
    with warehouse.engine.connect() as conn:
        row = conn.execute(sa.select(inv)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(lines)).scalar() == 1
    assert row["contactid"] == "c-1" and row["amountdue"] == 10.5 and str(row["date"]) == "2023-11-14"


def test_cursor_is_saved_with_the_page_and_rolls_back_with_it(warehouse: Warehouse) -> None:
    state = SyncState(journal_offset=100, scan_page=3)
    _write(warehouse, [_invoice(1)], state=state)
    assert warehouse.state("t1", "invoices") == state
    bad = {"InvoiceID": "x", "UpdatedDateUTC": "not a date"}
    with pytest.raises(ValueError):
        _write(warehouse, [_invoice(2), bad], state=SyncState(journal_offset=200))
    assert warehouse.state("t1", "invoices").journal_offset == 100
    assert set(warehouse.record_versions("t1", "invoices")) == {"inv-1"}


def test_full_scan_marks_records_xero_no_longer_returns(warehouse: Warehouse) -> None:
    _write(warehouse, [_invoice(n) for n in range(4)])
    started = now_utc()
    warehouse.write_records(
        "t1",
        "invoices",
        [_invoice(n) for n in range(3)],
        id_field="InvoiceID",
        updated_field="UpdatedDateUTC",
        seen_at=started,
        touch_unchanged=True,
    )
    assert warehouse.mark_missing_deleted("t1", "invoices", started) == 1
    assert set(warehouse.record_versions("t1", "invoices")) == {"inv-0", "inv-1", "inv-2"}
    assert "inv-3" in warehouse.record_versions("t1", "invoices", include_deleted=True)


def test_tenants_are_isolated(warehouse: Warehouse) -> None:
    _write(warehouse, [_invoice(1)])
    warehouse.write_records("t2", "invoices", [_invoice(1, status="PAID")], id_field="InvoiceID",
                            updated_field="UpdatedDateUTC", seen_at=now_utc())  # fmt: skip
    assert warehouse.records("t1", "invoices")[0]["Status"] == "AUTHORISED"
    assert warehouse.records("t2", "invoices")[0]["Status"] == "PAID"
    assert warehouse.outstanding_contacts("t1", "ACCREC") == ["c-1"]


REPORT = {
    "Reports": [{
        "ReportID": "ProfitAndLoss", "ReportName": "Profit and Loss",
        "Rows": [
            {"RowType": "Header", "Cells": [{"Value": ""}, {"Value": "30 Nov 2026"}, {"Value": "31 Oct 2026"}]},
            {"RowType": "Section", "Title": "Income", "Rows": [
                {"RowType": "Row", "Cells": [
                    {"Value": "Sales", "Attributes": [{"Id": "account", "Value": "acc-1"}]},
                    {"Value": "1,200.50"}, {"Value": "900.00"}]},
                {"RowType": "SummaryRow",
                 "Cells": [{"Value": "Total Income"}, {"Value": "1200.50"}, {"Value": "900.00"}]},
            ]},
        ],
    }]
}  # fmt: skip


def test_reports_are_stored_raw_and_flattened(warehouse: Warehouse) -> None:
    cells = flatten_report(REPORT)
    assert cells[0]["section"] == "Income" and cells[0]["column_label"] == "30 Nov 2026"
    assert cells[0]["amount"] == 1200.5 and cells[0]["account_id"] == "acc-1"
    first = warehouse.write_report("t1", "profit_and_loss", "2026-11", REPORT, now_utc())
    again = warehouse.write_report("t1", "profit_and_loss", "2026-11", json.loads(json.dumps(REPORT)), now_utc())
    assert (first.inserted, again.unchanged) == (1, 1)
    with warehouse.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from xero_report_cells")).scalar() == 4


def test_runs_starting_at_once_on_a_fresh_warehouse_all_create_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`sync --all` starts each tenant's first run in a thread, and each creates the warehouse's tables: two of them
    checking for `xero_invoices` at once both tried to create it, and one run failed on "table already exists"."""
    import threading

    def create(url: str, start: threading.Barrier, errors: list[BaseException]) -> None:
        warehouse = Warehouse(make_engine(url))
        start.wait()
        try:
            warehouse.create()
        except BaseException as exc:
            errors.append(exc)
        finally:
            warehouse.engine.dispose()

    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"
        errors: list[BaseException] = []
        start = threading.Barrier(6)
        threads = [threading.Thread(target=create, args=(url, start, errors)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with make_engine(url).connect() as conn:
            assert sa.inspect(conn).has_table("xero_invoices")


def test_a_syncs_threads_take_turns_writing_a_sqlite_warehouse(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A sync writes each API's pages from its own thread. SQLite's own wait for its write lock sleeps between
    tries, so they take turns on a lock of ours instead: with SQLite's wait off (timeout 0), none is ever refused."""
    import threading

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    Warehouse(make_engine(url)).create()  # WAL, as every warehouse connection sets it
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def sync_api(thread: int) -> None:
        warehouse = Warehouse(sa.create_engine(url, connect_args={"timeout": 0}))  # no waiting inside SQLite
        start.wait()
        try:
            for page in range(25):
                records = [_invoice(thread * 10_000 + page * 20 + n) for n in range(20)]
                _write(warehouse, records, state=SyncState(scan_page=page))
        except BaseException as exc:
            errors.append(exc)
        finally:
            warehouse.engine.dispose()

    threads = [threading.Thread(target=sync_api, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Warehouse(make_engine(url)).count("t1", "invoices") == 4 * 25 * 20


def test_sqlite_connections_checkpoint_the_wal_every_64_mb(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """At SQLite's default (4 MB) a sync spent a quarter of its write time copying the WAL back and syncing it."""
    from xero_assets.store.db import SQLITE_CHECKPOINT_PAGES

    engine = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar()
    assert pages == SQLITE_CHECKPOINT_PAGES and pages * page_size == 64 * 2**20
    engine.dispose()


def test_rows_given_to_sqlite_directly_are_stored_as_sqlalchemy_stores_them(tmp_path) -> None:
    """The sync hands SQLite its parameter tuples itself (`sqlite_parameters`) for speed; what lands in the file must
    be what SQLAlchemy's own insert writes, or SQLAlchemy would read dates back wrong. A row lacking a column stores
    NULL there."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    columns = lambda: [  # noqa: E731
        sa.Column("id", sa.String(16), primary_key=True), sa.Column("day", sa.Date), sa.Column("at", sa.DateTime),
        sa.Column("flag", sa.Boolean), sa.Column("amount", sa.Numeric(19, 4)), sa.Column("count", sa.Integer),
    ]  # fmt: skip
    meta = sa.MetaData()
    by_sqlalchemy, by_us = sa.Table("by_sqlalchemy", meta, *columns()), sa.Table("by_us", meta, *columns())
    meta.create_all(engine)
    rows = [
        {"id": "a", "day": date(2026, 2, 28), "at": datetime(2026, 2, 28, 13, 5, 9), "flag": True, "amount": 1.5,
         "count": 3},
        {"id": "b", "day": None, "at": datetime(2026, 3, 1, 0, 0, 0, 250), "flag": False, "amount": None, "count": 0},
        {"id": "c", "day": date(1999, 12, 31)},  # the other columns absent
    ]  # fmt: skip
    with engine.begin() as conn:
        for row in rows:
            conn.execute(by_sqlalchemy.insert(), {"flag": None, "at": None, "amount": None, "count": None, **row})
        conn.exec_driver_sql("INSERT INTO by_us VALUES (?, ?, ?, ?, ?, ?)", sqlite_parameters(by_us, rows))
        stored = [
            conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY id").all() for name in ("by_sqlalchemy", "by_us")
        ]
        read_back = conn.execute(sa.select(by_us).order_by(by_us.c.id)).all()
    assert stored[0] == stored[1]
    assert read_back[0].at == datetime(2026, 2, 28, 13, 5, 9) and read_back[1].at.microsecond == 250
    assert read_back[2].day == date(1999, 12, 31) and read_back[2].at is None
    engine.dispose()
