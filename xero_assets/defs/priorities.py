"""Run priorities in Dagster's run queue (the `dagster/priority` tag: higher leaves the queue first).

With the queued run coordinator's limit of one run per tenant and a cap on runs at once, a thousand tenants' runs
wait in one queue; these numbers decide who goes first when a slot frees: someone pressing Sync Data is waiting for
the answer, a webhook's few changed records come next, and background work (initial syncs, catch-up across the
day limit, schedules) fills the rest.
"""

from __future__ import annotations

PRIORITY_TAG = "dagster/priority"
SYNC_DATA = 10  # a person pressed Sync Data
WEBHOOK = 5  # Xero said records changed
BACKGROUND = 0  # initial syncs, catch-up after a day limit, scheduled refreshes


def priority_tags(priority: int) -> dict[str, str]:
    return {PRIORITY_TAG: str(priority)}
