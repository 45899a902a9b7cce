"""Keep a sync's resident memory close to what it actually holds, where the C library lets us (glibc only).

Why: a tenant's sync runs its APIs in a thread pool, each with a prefetch thread, and glibc gives every thread that
allocates its own malloc arena (up to eight per core). Pages of records are allocated in one thread and freed in
another, so each arena keeps its own high-water mark of freed memory, and large buffers (a response body, a page's
JSON for PostgreSQL) sit in those arenas once glibc's adaptive mmap threshold has grown past their size. Measured
with `xero-assets sync --select <every raw API>` on the medium sandbox organisation (SQLite, peak RSS of the process
tree): 313 MB as glibc defaults, 261 MB with two arenas, 265 MB with a fixed 256 KiB mmap threshold, 255 MB with
both, for the same calls and time. `malloc_trim` hands the free pages inside the heaps back, so what follows a
sync in the same process (the dataset steps) starts from the memory in use, not from the sync's high-water mark.

Everything here is a no-op (returns False) where the C library is not glibc (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

# mallopt(3) parameters (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

# Two arenas: measured within 5 MB of one (264 against 268 MB on medium) with less lock contention between the
# pool's threads. Blocks from 256 KiB up (a 1,000-invoice page's body is 2.4 MB) are mapped on their own and
# returned to the system when freed; a fixed threshold also stops glibc from raising it after each such free.
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024

_applied = False
_lock = threading.Lock()


@functools.cache
def _glibc() -> Any | None:
    """The process's C library when it is glibc (it exports gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


def bound_heap(libc: Any | None = None) -> bool:
    """Cap malloc arenas at `ARENAS` and fix the mmap threshold, once per process; True when in effect.

    Call it before the sync's threads start: an arena cap applies to arenas created after it."""
    global _applied
    with _lock:
        if _applied:
            return True
        libc = libc if libc is not None else _glibc()
        if libc is None:
            return False
        arenas = libc.mallopt(M_ARENA_MAX, ARENAS)
        threshold = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _applied = bool(arenas) and bool(threshold)
        if not _applied:
            log.info("glibc refused mallopt (arena max %s, mmap threshold %s)", arenas, threshold)
        return _applied


def release_free_memory(libc: Any | None = None) -> bool:
    """Return the free memory inside malloc's heaps to the system (`malloc_trim(0)`); True when some was."""
    libc = libc if libc is not None else _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
