"""Running many tenants at once: `sync --all` works through the tenants up to N at a time instead of one by one.

Each tenant is still one run with its own client, so each stays under its own limits (5 in flight, 60 a minute);
the app-wide 10,000 a minute and every tenant's limits are shared with other runs and processes through the
database (`xero_assets.store.rate_limits`), so running more tenants at once can only use the app's allowance, never
exceed it. N comes from XERO_ASSETS_MAX_PARALLEL_TENANTS (default 4): enough to overlap the seconds each tenant spends
waiting for its own pacing, few enough for one machine's cores and database connections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from xero_assets.settings import whole_number

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_PARALLEL_TENANTS = 4
MAX_PARALLEL_ENV = "XERO_ASSETS_MAX_PARALLEL_TENANTS"


def max_parallel_tenants() -> int:
    """How many tenants to sync at once (XERO_ASSETS_MAX_PARALLEL_TENANTS), with a clear error for a bad value."""
    return whole_number(MAX_PARALLEL_ENV, DEFAULT_MAX_PARALLEL_TENANTS, minimum=1)


def for_each_tenant(
    tenants: Sequence[T],
    work: Callable[[T], R],
    *,
    max_parallel: int | None = None,
    on_done: Callable[[T, R], None] | None = None,
) -> list[R]:
    """`work(tenant)` for every tenant, at most `max_parallel` at once; results in the tenants' order.

    `on_done` runs in the calling thread as each tenant finishes (so printing needs no lock). One tenant's
    exception does not stop the others; the first one is raised once all have finished.
    """
    limit = max_parallel or max_parallel_tenants()
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(tenants))), thread_name_prefix="tenant") as pool:
        running: dict[Future[R], int] = {pool.submit(work, tenant): index for index, tenant in enumerate(tenants)}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                try:
                    results[index] = future.result()
                except BaseException as exc:  # re-raised below, once the other tenants finish
                    errors.append(exc)
                    continue
                if on_done is not None:
                    on_done(tenants[index], results[index])
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(tenants))]
