"""A large sync's warehouse writes in a child process, so reading Xero and writing the warehouse use two cores.

Why: a sync runs its APIs in threads of one Python process, and Python runs one thread's bytecode at a time. Turning
a page into rows (JSON text, hashes, typed rows, SQL parameters) costs about twice as much CPU as reading it, so
the large sandbox organisation's first sync kept one core busy while the other idled: 182 s in-process against 112 s
to merely download the same pages, with the journals (4,200 pages read one after another, each asking for the
next) waiting behind the invoices' and payments' writes. Here the sync's threads hand each page to one writer
process and go on reading; the writer applies the pages in the order they were handed over, each with its sync
state in one transaction as before, so a crash of either process loses nothing that was committed and the next
sync resumes where the last committed page left it. Measured on that organisation, SQLite, 2 cores: 159 s in
process; `xero-assets sync` 162 s against a 114 s download (1.42x, was 1.80x), the writer the busier process.

One writer process, not one per API: SQLite takes one writer at a time whatever we do, and a single queue keeps
every write in the order the sync issued it, so a state saved after a page can never overtake it.

SQLite only (`worth_it`): PostgreSQL already does its share of a write in a server process of its own, and there
a writer process measured no faster beyond run-to-run noise (the large sync 1.44x, 1.54x and 1.55x its download
through it, 1.49x and 1.62x in process; threads in the writer applying several APIs at once did not change that),
while it added about 70 MB of peak RSS.

Starting the writer costs a third of a second and its own memory (80 MB at its peak on the large organisation),
so only syncs planned at `MIN_CALLS` calls or more use it (`xero_assets.plan`); routine syncs write in process as
before. Where no process can be started, the sync writes in process and says so in the log.
"""

from __future__ import annotations

import logging
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, wait
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import orjson
import sqlalchemy as sa

from xero_assets import memory
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import SyncState, Warehouse, WriteCounts

log = logging.getLogger(__name__)

# A sync planned at this many calls or more writes through a child process. The medium sandbox organisation's first
# sync (about 500 calls) spends about 10 CPU-seconds writing: the second's start-up is then worth it; a routine
# sync's few dozen calls are not.
MIN_CALLS = 400

# Pages handed over and not yet written, at most: each is its JSON text (a 1,000-invoice page is about 2.4 MB), so
# this bounds the memory a fast reader can pile up in front of a slower writer.
MAX_QUEUED = 4

# After writing a page this large, the writer hands its heap's free memory back to the system (`malloc_trim`): a
# 1,000-invoice page leaves tens of MB free in the heap; trimming after each of the journals' 200 KB pages as well
# would cost CPU for nothing.
TRIM_AFTER_BYTES = 2**20

_STOP = None


def worth_it(warehouse: Warehouse, planned_calls: int) -> bool:
    """Whether a sync planned at `planned_calls` should write through a writer process: a large one, on SQLite."""
    return planned_calls >= MIN_CALLS and warehouse.engine.dialect.name == "sqlite"


class WriterGone(RuntimeError):
    """The writer process ended before finishing the writes handed to it."""


class WriteBehind(Warehouse):
    """A `Warehouse` whose writes run in a child process, in the order they were issued.

    `write_records_later` returns at once with a future of the page's counts; the other writes a sync makes
    (`write_records`, `save_state`, `write_report`, `mark_missing_deleted`) wait for theirs. Every other method
    first waits for the writes already issued (from any thread), then runs here as `Warehouse`'s does, so what a
    sync reads back (its state, missing records, outstanding contacts) is what it wrote. Use it as a context
    manager: leaving waits for the last write and stops the process.
    """

    def __init__(self, warehouse: Warehouse) -> None:
        super().__init__(warehouse.engine)
        # A plain child process (`python -m` this module) rather than multiprocessing's: its "spawn" re-runs the
        # parent's main script, which a script without a __main__ guard cannot survive, and "fork" copies a
        # process whose other threads may hold locks. The pipe is a socket pair the child inherits.
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        self._conn = Connection(ours.detach())
        # The URL goes down the pipe, not on the command line, where `ps` would show a password.
        self._conn.send_bytes(warehouse.engine.url.render_as_string(hide_password=False).encode())
        self._pending: dict[int, Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._sequence = 0
        self._outbox: queue.Queue[tuple[int, bytes, bytearray | None] | None] = queue.Queue(MAX_QUEUED)
        self._gone: WriterGone | None = None
        self._sender = threading.Thread(target=self._send_loop, name="xero-writer-send", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name="xero-writer-receive", daemon=True)
        self._sender.start()
        self._receiver.start()

    @classmethod
    def start_or_none(cls, warehouse: Warehouse) -> WriteBehind | None:
        """A writer for `warehouse`, or None (logged) where no process can be started: the sync then writes in
        process, as a small one does."""
        try:
            return cls(warehouse)
        except OSError:
            log.warning("writing in process: the warehouse writer process could not be started", exc_info=True)
            return None

    # ----- writes, run by the child ---------------------------------------------------------------------------

    def write_records_later(
        self, tenant_id: str, api: str, records: Iterable[Mapping[str, Any]], **options: Any
    ) -> Future[WriteCounts]:
        """Queue one batch of records (and its `state`) and return at once; the future gives its counts."""
        # The records as JSON lines (orjson writes no newline inside a record): cheaper to send than pickled dicts,
        # and decoded a record at a time on the other side, so a list Xero answers in one call whatever its size
        # (8,100 repeating invoices, 70 MB decoded) is never decoded whole in either process. Appended to one
        # growing buffer: joining a list of a page's small encodings left them scattered through malloc's heaps
        # (the sync's peak RSS 70 MB higher on the large organisation).
        lines = bytearray()
        for record in records:
            if lines:
                lines += b"\n"
            lines += orjson.dumps(record)
        return self._submit("write_records", (tenant_id, api), options, lines)

    def write_records(
        self, tenant_id: str, api: str, records: Iterable[Mapping[str, Any]], **options: Any
    ) -> WriteCounts:
        return self.write_records_later(tenant_id, api, records, **options).result()

    def save_state(self, tenant_id: str, api: str, state: SyncState, conn: sa.Connection | None = None) -> None:
        if conn is not None:  # part of a transaction of this process's: the child cannot join it
            raise TypeError("WriteBehind.save_state cannot take part in a transaction of this process")
        self._submit("save_state", (tenant_id, api, state), {}).result()

    def write_report(
        self, tenant_id: str, api: str, period: str, document: Mapping[str, Any], seen_at: datetime
    ) -> WriteCounts:
        return self._submit("write_report", (tenant_id, api, period, document, seen_at), {}).result()

    def mark_missing_deleted(
        self, tenant_id: str, api: str, seen_before: datetime, state: SyncState | None = None
    ) -> int:
        return self._submit("mark_missing_deleted", (tenant_id, api, seen_before, state), {}).result()

    # ----- the rest, here once the writes issued so far are done -------------------------------------------------

    def flush(self) -> None:
        """Wait until every write issued so far (by any thread) has been applied or has failed."""
        with self._pending_lock:
            issued = list(self._pending.values())
        wait(issued)

    def close(self) -> None:
        """Wait for the last write, then stop the writer process."""
        self.flush()
        if self._gone is None:
            self._outbox.put(_STOP)
            self._sender.join(timeout=60)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._conn.close()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- the pipe -------------------------------------------------------------------------------------------

    def _submit(
        self, method: str, args: tuple[Any, ...], options: Mapping[str, Any], records: bytearray | None = None
    ) -> Future:
        future: Future[Any] = Future()
        call = pickle.dumps((method, args, dict(options), records is not None), protocol=pickle.HIGHEST_PROTOCOL)
        with self._pending_lock:  # the receiver sets `_gone` under this lock: a write is failed by it or refused here
            if self._gone is not None:
                raise self._gone
            self._sequence += 1
            number = self._sequence
            self._pending[number] = future
        while True:  # waits while MAX_QUEUED are queued: the reader slows to the writer's pace
            try:
                self._outbox.put((number, call, records), timeout=1)
                return future
            except queue.Full:
                if self._gone is not None:
                    raise self._gone from None

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is _STOP:
                self._conn.send_bytes(b"")
                return
            number, call, records = item
            try:
                self._conn.send_bytes(number.to_bytes(8, "big") + call)
                if records is not None:  # sent as it is: a page's JSON is not copied into a message
                    self._conn.send_bytes(records)
            except OSError:  # the child is gone; the receiver fails what is pending
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                reply = self._conn.recv_bytes()
            except (EOFError, OSError):
                break
            number = int.from_bytes(reply[:8], "big")
            ok, value = pickle.loads(reply[8:])
            with self._pending_lock:
                future = self._pending.pop(number)
            if ok:
                future.set_result(value)
            else:
                error, note = value
                error.add_note(note)
                future.set_exception(error)
        try:
            code: int | None = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        gone = WriterGone(
            f"the warehouse writer process ended (exit code {code}) before finishing its writes; "
            "what it had committed is kept, and the next sync resumes from there: run the sync again"
        )
        with self._pending_lock:
            self._gone = gone
            left, self._pending = list(self._pending.values()), {}
        for future in left:
            future.set_exception(gone)


def _flushing(method: Callable[..., Any]) -> Callable[..., Any]:
    def flushed(self: WriteBehind, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return method(self, *args, **kwargs)

    flushed.__name__, flushed.__doc__ = method.__name__, method.__doc__
    return flushed


# Every other public method of Warehouse (its reads, and writes a sync never makes) waits for the queue first, so a
# method added to Warehouse later cannot read past a write still queued.
_CHILD_WRITES = frozenset(
    {"write_records", "write_records_later", "save_state", "write_report", "mark_missing_deleted"}
)
for _name, _method in list(vars(Warehouse).items()):
    if callable(_method) and not _name.startswith("_") and _name not in _CHILD_WRITES:
        setattr(WriteBehind, _name, _flushing(_method))


# ----- the child ------------------------------------------------------------------------------------------------


def _serve(conn: Connection) -> None:
    """The writer process: apply each message in order with a Warehouse of its own; an empty message, or the parent
    gone, ends it."""
    memory.bound_heap()  # as the sync's own process: large buffers mapped on their own, returned when freed
    engine = make_engine(conn.recv_bytes().decode())
    warehouse = Warehouse(engine)
    try:
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not message:
                return
            method, args, options, has_records = pickle.loads(message[8:])
            records = conn.recv_bytes() if has_records else None
            reply = message[:8] + _apply(warehouse, method, args, options, records)
            if records is not None and len(records) >= TRIM_AFTER_BYTES:
                del records  # freed, and the heap's free pages handed back, before the next page is awaited
                memory.release_free_memory()
            conn.send_bytes(reply)
    finally:
        engine.dispose()


def _apply(
    warehouse: Warehouse, method: str, args: tuple[Any, ...], options: dict[str, Any], records: bytes | None
) -> bytes:
    """Run one call; its pickled outcome: (True, value) or (False, the exception)."""
    try:
        if records is not None:
            value = warehouse.write_records(*args, _json_lines(records), **options)
        else:
            value = getattr(warehouse, method)(*args, **options)
        return pickle.dumps((True, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # handed back to the thread that issued the write
        return pickle.dumps((False, _portable(exc)), protocol=pickle.HIGHEST_PROTOCOL)


def _json_lines(buffer: bytes) -> Iterator[dict[str, Any]]:
    """Each line of `buffer` decoded, one at a time, without copying the lines out first."""
    view, start = memoryview(buffer), 0
    while start < len(buffer):
        end = buffer.find(b"\n", start)
        end = len(buffer) if end < 0 else end
        yield orjson.loads(view[start:end])
        start = end + 1


def _portable(exc: Exception) -> tuple[Exception, str]:
    """`exc` as it can cross the pipe, with the writer's traceback as text for a note (an exception's notes do not
    survive pickling). One that cannot be pickled becomes a RuntimeError that says what it was."""
    note = "in the warehouse writer process:\n" + "".join(traceback.format_exception(exc)).rstrip()
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc, note


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the parent stops the sync, and this process ends when
    # the pipe closes, after the write in hand is committed or rolled back whole.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(Connection(int(sys.argv[1])))
