"""The day-limit planner: a first sync larger than a day's allowance is planned across days before it starts, each
day spends at most the allowance less Sync Data's headroom (never a 429), it completes across simulated days (the
sandbox clock) with the ETA it gave right within 10%, the stored plan is what `xero-assets connections` shows, and
the routine sync afterwards stays a small share of the day.

The sandbox's day limit is shrunk (and the planner told the same) so a small organisation needs several days.
"""

from __future__ import annotations

from datetime import datetime

from xero_assets import catalog, plan
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import WINDOW_S, assert_matches_truth, connect, fast_config

DAY = 110  # the first sync needs about 1.5 days of it: the day count is not on a knife edge


def test_a_first_sync_larger_than_a_day_completes_across_days_by_its_eta(sqlite_url: str) -> None:
    with running_sandbox(fast_config(tenants=1, size="small", day_limit=DAY)) as handle:
        synced = connect(handle, sqlite_url, per_day=DAY)
        tenant = next(iter(synced.connections))
        scopes = synced.connections[tenant].scopes
        pace = WINDOW_S / 60  # the sandbox's minute is one second

        def sync() -> plan.DayPlan:
            client = synced.tenant(tenant)
            _, day = plan.planned_sync(
                client, synced.warehouse, granted_scopes=scopes, allowance=DAY, seconds_per_call=pace
            )
            return day

        def sandbox_now() -> datetime:
            return datetime.fromisoformat(synced.control("GET", "clock")["now"])

        started = sandbox_now()
        first = sync()
        assert first.days >= 2, first.label()
        assert "journals at 100 a call are the floor" in first.why
        assert first.used <= DAY - plan.HEADROOM_SHARE * DAY
        assert not first.complete and "first sync in progress" in plan.eta_label(synced.warehouse, tenant)
        days = 1
        day_plans = [first]
        while not day_plans[-1].complete:
            assert days < first.days + 3, [p.label() for p in day_plans]
            synced.control("POST", "clock", json={"advance_seconds": 86_400})
            day_plans.append(sync())
            days += 1
            assert day_plans[-1].used <= DAY - plan.HEADROOM_SHARE * DAY
        actual = (sandbox_now() - started).total_seconds()  # simulated: the clock jumped a day between syncs
        predicted = (first.eta - first.started).total_seconds()
        assert abs(predicted - actual) <= 0.10 * actual, (predicted, actual, [p.label() for p in day_plans])
        assert_matches_truth(synced, tenant)
        assert plan.eta_label(synced.warehouse, tenant).startswith("up to date")

        synced.control("POST", "clock", json={"advance_seconds": 86_400})
        routine = sync()
        apis = len([a for a in catalog.SYNCABLE if a.endpoint_for(synced.country(tenant)) is not None])
        assert routine.complete and routine.used <= apis + 10, routine.metadata()
        synced.close()
