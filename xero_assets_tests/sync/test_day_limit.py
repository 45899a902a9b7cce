"""A day limit pauses Journals (cursor kept, the materialization says until when) instead of failing the tenant;
the next day's sync resumes after the last JournalNumber stored."""

from __future__ import annotations

from dataclasses import replace

from xero_assets import catalog
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import assert_matches_truth, connect, fast_config


def test_day_limit_pauses_journals_and_the_next_day_resumes_from_the_cursor(sqlite_url: str) -> None:
    with running_sandbox(fast_config(tenants=1, size="small", day_limit=6)) as handle:
        synced = connect(handle, sqlite_url)
        tenant = next(iter(synced.connections))
        journals = catalog.get("journals")
        total = synced.truth(tenant)["counts"]["journals"]
        assert total > 600  # enough pages to run out of calls mid-way

        [first] = synced.sync(tenant, [journals])  # the organisation takes one call, journals the other five
        assert first.paused_until is not None and first.skipped is None
        assert first.status.startswith("paused until")
        offset = synced.warehouse.state(tenant, "journals").journal_offset
        assert offset == first.counts.inserted == 500

        [again] = synced.sync(tenant, [journals])
        assert (again.calls, again.paused_until) == (0, first.paused_until)

        synced.control("DELETE", "limits")  # the day window resets
        state = synced.warehouse.state(tenant, "journals")
        synced.warehouse.save_state(tenant, "journals", replace(state, paused_until=None))  # ... and the day passed
        [resumed] = synced.sync(tenant, [journals])
        assert resumed.paused_until is None
        assert resumed.counts.inserted == total - offset
        assert resumed.calls == (total - offset) // 100 + 1
        assert_matches_truth(synced, tenant, ["journals"])
        synced.close()
