"""What keeps a sync's memory bounded by a page, not by the organisation: how far prefetch reads ahead, that a
page's records are freed chunk by chunk as they are written, and the malloc settings of `xero_assets.memory`."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner

from xero_assets import catalog, cli, memory
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import WRITE_CHUNK, Warehouse, drain, now_utc
from xero_assets.sync import prefetch, sync_tenant


class Page:
    """A stand-in for a page of records that can be watched with a weak reference."""

    def __init__(self, number: int) -> None:
        self.number = number


class Record(dict[str, Any]):
    """A record (a dict, as orjson decodes one) that can be watched with a weak reference."""


def _alive(refs: list[weakref.ref[Any]]) -> int:
    return sum(ref() is not None for ref in refs)


def test_prefetch_reads_one_page_ahead_and_keeps_no_page_the_consumer_is_done_with() -> None:
    refs: list[weakref.ref[Page]] = []
    alive_when_reading: list[int] = []

    def pages() -> Iterator[Page]:
        for number in range(12):
            alive_when_reading.append(_alive(refs))  # pages alive as the next one starts downloading
            page = Page(number)
            refs.append(weakref.ref(page))
            yield page
            del page

    consumed = []
    for page in prefetch(pages()):
        consumed.append(page.number)
        del page  # as the sync's loops do, so the page can be freed while the next is awaited
    assert consumed == list(range(12))
    # Reading page k starts once page k - 1 was taken for writing, and page k - 2 is gone by then: one page being
    # written and one being read, whatever the number of pages (a queue of one would hold three).
    assert max(alive_when_reading) <= 1


def test_prefetch_hands_the_producers_error_to_the_consumer_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        raise RuntimeError("connection dropped")

    seen = []
    with pytest.raises(RuntimeError, match="connection dropped"):
        for page in prefetch(pages()):
            seen.append(page)
    assert seen == [1]


def test_prefetch_stops_reading_when_the_consumer_stops() -> None:
    read = []

    def pages() -> Iterator[int]:
        for number in range(100):
            read.append(number)
            yield number

    iterator = prefetch(pages())
    assert next(iterator) == 0
    iterator.close()
    producers = [t for t in threading.enumerate() if t.name == "xero-prefetch"]
    for thread in producers:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in producers)
    assert len(read) <= 2


@pytest.fixture
def warehouse(database_url: str) -> Warehouse:
    wh = Warehouse(make_engine(database_url))
    wh.create()
    return wh


def test_a_drained_page_is_written_whole_and_freed_chunk_by_chunk(warehouse: Warehouse) -> None:
    count = 3 * WRITE_CHUNK + 7
    records = [
        Record(QuoteID=f"q-{n}", Status="DRAFT", UpdatedDateUTC="/Date(1700000000000+0000)/") for n in range(count)
    ]
    refs = [weakref.ref(record) for record in records]
    alive_when_taken: list[int] = []

    def watched(source: Iterator[Record]) -> Iterator[Record]:
        for number, record in enumerate(source):
            alive_when_taken.append(_alive(refs[:number]))  # earlier records still alive as this one is taken
            yield record
            del record

    counts = warehouse.write_records(
        "t1", "quotes", watched(drain(records)), id_field="QuoteID", updated_field="UpdatedDateUTC", seen_at=now_utc()
    )
    assert counts.inserted == count and warehouse.count("t1", "quotes") == count
    assert records == []  # drained: the page no longer holds what was written
    # At most the chunk being gathered (and the last record of the one before) is alive: a page's records are
    # freed as each chunk is written, not when the whole page is.
    assert max(alive_when_taken) <= WRITE_CHUNK + 1


def test_a_page_written_in_chunks_stays_one_transaction_with_its_cursor(warehouse: Warehouse) -> None:
    from xero_assets.store.warehouse import SyncState

    good = [Record(QuoteID=f"q-{n}", UpdatedDateUTC="/Date(1700000000000+0000)/") for n in range(WRITE_CHUNK + 5)]
    bad = Record(QuoteID="q-bad", UpdatedDateUTC="not a date")  # in the second chunk
    with pytest.raises(ValueError):
        warehouse.write_records(
            "t1", "quotes", drain([*good, bad]), id_field="QuoteID", updated_field="UpdatedDateUTC",
            seen_at=now_utc(), state=SyncState(scan_page=2),
        )  # fmt: skip
    assert warehouse.count("t1", "quotes") == 0  # the first chunk rolled back with the second
    assert warehouse.state("t1", "quotes").scan_page is None


@dataclass
class FakeLibc:
    """Records what `xero_assets.memory` asks of glibc."""

    calls: list[tuple[str, tuple[int, ...]]]

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", (param, value)))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", (pad,)))
        return 1


@pytest.fixture
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_applied", False)


def test_bound_heap_caps_the_arenas_and_fixes_the_mmap_threshold_once_per_process(fresh_memory: None) -> None:
    libc = FakeLibc([])
    assert memory.bound_heap(libc) and memory.bound_heap(libc)
    assert libc.calls == [
        ("mallopt", (memory.M_ARENA_MAX, memory.ARENAS)),
        ("mallopt", (memory.M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD)),
    ]


def test_bound_heap_is_in_effect_where_the_c_library_is_glibc(fresh_memory: None) -> None:
    if memory._glibc() is None:
        pytest.skip("not glibc: bound_heap is a no-op here")
    assert memory.bound_heap()


def test_without_glibc_the_memory_settings_do_nothing(fresh_memory: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert not memory.bound_heap()
    assert not memory.release_free_memory()


def test_the_cli_bounds_the_heap_before_any_command_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(memory, "bound_heap", lambda: calls.append("bound") or True)
    result = CliRunner().invoke(cli.main, ["sync"])  # refused as bad usage, after the group's setup
    assert result.exit_code == 2 and calls == ["bound"]


class _NoCalls:
    """A client for a tenant that granted nothing: every API is skipped before any call."""

    tenant_id = "t1"
    stats = None

    def get_json(self, full_path: str, params: Any = None, *, modified_since: datetime | None = None) -> Any:
        raise AssertionError("no call expected")

    def iter_pages(self, endpoint: catalog.Endpoint, **kwargs: Any) -> Iterator[Any]:
        raise AssertionError("no call expected")


def test_sync_tenant_bounds_the_heap_before_its_threads_and_trims_after_each_api(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []

    def bound() -> bool:
        events.append("bound" if not any(t.name.startswith("sync-") for t in threading.enumerate()) else "late")
        return True

    monkeypatch.setattr(memory, "bound_heap", bound)
    monkeypatch.setattr(memory, "release_free_memory", lambda: events.append("trim") or True)
    apis = [catalog.get(name) for name in ("organisation", "invoices", "journals", "profit_and_loss")]
    results = sync_tenant(_NoCalls(), warehouse, apis, granted_scopes=())
    assert [r.status.split(":")[0] for r in results] == ["skipped"] * 4
    assert events == ["bound"] + ["trim"] * 4


def test_a_large_bodys_records_kept_as_text_are_written_through_drain(warehouse: Warehouse) -> None:
    import orjson

    from xero_assets.xero import lazy_json

    records = [{"QuoteID": f"q-{n}", "UpdatedDateUTC": "/Date(1700000000000+0000)/"} for n in range(WRITE_CHUNK + 3)]
    lazy = lazy_json.loads(orjson.dumps({"Quotes": records}), "Quotes")["Quotes"]
    counts = warehouse.write_records(
        "t1", "quotes", drain(lazy), id_field="QuoteID", updated_field="UpdatedDateUTC", seen_at=now_utc()
    )
    assert counts.inserted == len(records)
    assert sorted(warehouse.record_versions("t1", "quotes")) == sorted(r["QuoteID"] for r in records)


def test_an_api_keeps_at_most_the_malformed_fields_it_reports(warehouse: Warehouse) -> None:
    from xero_assets.store.warehouse import BAD_FIELDS_KEPT, WriteCounts

    total = WriteCounts()
    for page in range(3):
        invoices = [{"InvoiceID": f"inv-{page}-{n}", "Total": "not-a-number"} for n in range(BAD_FIELDS_KEPT // 2 + 1)]
        total += warehouse.write_records(
            "t1", "invoices", invoices, id_field="InvoiceID", updated_field="UpdatedDateUTC", seen_at=now_utc()
        )
    assert total.inserted == 3 * (BAD_FIELDS_KEPT // 2 + 1)
    assert len(total.bad_fields) == BAD_FIELDS_KEPT and total.bad_fields[0].record_id == "inv-0-0"


def test_changed_documents_are_read_no_further_than_the_caller_needs(warehouse: Warehouse) -> None:
    from xero_assets.store import changes

    invoices = [
        {"InvoiceID": f"inv-{n}", "Type": "ACCREC", "UpdatedDateUTC": "/Date(1700000000000+0000)/"} for n in range(7)
    ]
    warehouse.write_records(
        "t1", "invoices", invoices, id_field="InvoiceID", updated_field="UpdatedDateUTC", seen_at=now_utc()
    )
    since = datetime(2020, 1, 1)
    assert len(changes.documents_updated_since(warehouse, "t1", since)) == 7
    assert changes.documents_updated_since(warehouse, "t1", since, limit=3) == [
        (f"inv-{n}", "ACCREC") for n in range(3)
    ]
