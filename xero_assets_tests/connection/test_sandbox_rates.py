"""Done-when: a concurrent pull of one tenant's APIs under the sandbox's limits gets no 429 and runs within 10% of
the fastest rate the limits allow; a forced minute 429 is waited out; a forced day 429 stops the tenant.

The sandbox's minute window is 2 s for 20 calls (10 calls/s), so the pull takes seconds. The rate is measured from the
client's own request timestamps, as calls per second between the first and the last call, against that 10/s, or
against what the threads could have sent in the same run had the limiter never made them wait, when that is less:
on a loaded 2-core machine (the whole suite at once) a call's round trip and decode alone can take longer than eight
threads need to keep up 10/s, and then the limiter is not what held them back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from xero_assets import catalog
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.client import TenantClient, XeroClient
from xero_assets.xero.errors import DayLimitReached, RequestRejected
from xero_assets.xero.scopes import all_scopes
from xero_assets_tests.connection.conftest import SANDBOX_LIMITS, Sandbox

WORKERS = 8
NEEDS_A_CONTACT = {"aged_payables_by_contact", "aged_receivables_by_contact"}  # one call per contact: not a list


class TimedTransport(httpx.HTTPTransport):
    """Records when each data request leaves the client."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.sent.append(time.monotonic())
        return super().handle_request(request)


@pytest.fixture
def connected(sandbox: Sandbox, store_factory: Any, tmp_path: Any) -> Iterator[tuple[TokenStore, str]]:
    store: TokenStore = store_factory(f"sqlite:///{tmp_path / 'rates.db'}", scopes=tuple(all_scopes()))
    tenant = sandbox.tenant("AU")
    sandbox.connect(store, [tenant])
    yield store, tenant
    sandbox.clear_faults()


def _pull(client: TenantClient, api: catalog.XeroApi, country: str) -> str:
    endpoint = api.endpoint_for(country)
    assert endpoint is not None
    try:
        records = sum(len(page.records) for page in client.iter_pages(endpoint))
    except RequestRejected as exc:  # an API this organisation does not have still costs its call
        return f"{api.name}: rejected {exc.status}"
    return f"{api.name}: {records} records"


def test_a_concurrent_pull_of_every_api_gets_no_429_and_runs_near_the_limit(
    sandbox: Sandbox, connected: tuple[TokenStore, str]
) -> None:
    store, tenant = connected
    apis = [api for api in catalog.SYNCABLE if api.endpoint_for("AU") and api.name not in NEEDS_A_CONTACT]
    sandbox.control.delete("/_sandbox/limits").raise_for_status()  # start from fresh windows
    before = sandbox.stats()
    transport = TimedTransport()
    with XeroClient(sandbox.base_url, store, limits=SANDBOX_LIMITS, transport=transport) as xero:
        client = xero.for_tenant(tenant)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            outcomes = list(pool.map(lambda api: _pull(client, api, "AU"), apis))
    after = sandbox.stats()

    calls = len(transport.sent)
    span = transport.sent[-1] - transport.sent[0]
    achieved = (calls - 1) / span
    best = SANDBOX_LIMITS.best_rate
    # The threads' time in the pull less their time waiting for the limiter is what the calls themselves took; at most
    # `concurrent` of them are in flight at once.
    in_flight = min(WORKERS, SANDBOX_LIMITS.concurrent)
    unthrottled = in_flight * calls / (WORKERS * span - client.stats.waits_seconds)
    sandbox_429s = sum(after["rate_limited"].values()) - sum(before["rate_limited"].values())
    print(
        f"\n{len(apis)} APIs, {calls} calls in {span:.2f}s: {achieved:.2f} calls/s against a limit of {best:.2f}/s "
        f"({achieved / best:.0%}), {unthrottled:.1f}/s had the limiter never waited; "
        f"429s: client {client.stats.rate_limited_429s}, sandbox {sandbox_429s}; "
        f"retries {client.stats.retries}"
    )
    assert calls >= 30, outcomes  # enough calls to measure a rate over several windows
    assert client.stats.rate_limited_429s == 0 and sandbox_429s == 0
    assert achieved >= 0.9 * min(best, unthrottled)
    assert achieved <= best * 1.02  # never faster than the limit (a little slack for timer resolution)


def test_a_forced_minute_429_is_waited_out(sandbox: Sandbox, connected: tuple[TokenStore, str]) -> None:
    store, tenant = connected
    sandbox.add_fault(kind="429", problem="minute", retry_after=1, count=1, tenant=tenant, path="/Currencies$")
    with XeroClient(sandbox.base_url, store, limits=SANDBOX_LIMITS) as xero:
        client = xero.for_tenant(tenant)
        body = client.get_json("/api.xro/2.0/Currencies")
    assert body["Currencies"]
    assert client.stats.rate_limited_429s == 1 and client.stats.retries == 1
    assert client.stats.waits_seconds >= 0.9  # Retry-After: 1, honoured


def test_a_forced_day_429_stops_the_tenant_with_its_reset_time(
    sandbox: Sandbox, connected: tuple[TokenStore, str]
) -> None:
    store, tenant = connected
    sandbox.add_fault(kind="429", problem="day", retry_after=50_000, count=1, tenant=tenant, path="/Users$")
    with XeroClient(sandbox.base_url, store, limits=SANDBOX_LIMITS) as xero:
        client = xero.for_tenant(tenant)
        started = time.monotonic()
        with pytest.raises(DayLimitReached) as raised:
            client.get_json("/api.xro/2.0/Users")
        calls_before = sandbox.stats()["by_tenant"].get(tenant, 0)
        with pytest.raises(DayLimitReached):
            client.get_json("/api.xro/2.0/Accounts")  # stopped without asking Xero again
        assert sandbox.stats()["by_tenant"].get(tenant, 0) == calls_before
    remaining = (raised.value.reset_at - raised.value.reset_at.now(raised.value.reset_at.tzinfo)).total_seconds()
    assert 49_000 < remaining <= 50_000
    assert raised.value.reset_at.isoformat(timespec="seconds") in str(raised.value)
    assert time.monotonic() - started < 30  # it raised instead of sleeping for 14 hours
