"""Xero's rate limits: per-tenant fixed windows (concurrent, minute, day), the app-wide minute, headers, Retry-After.

Windows run on the sandbox clock, so every test moves the clock instead of waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from xero_assets.sandbox.server import SandboxHandle
from xero_assets_tests.sandbox.helpers import AU, GB, NZ, advance, call, connect, refresh, stats

INVOICES = "/api.xro/2.0/Invoices"


def _limited(start_sandbox: Callable[..., SandboxHandle], **limits: object) -> SandboxHandle:
    return start_sandbox(rate_limits="on", **limits)


def test_every_data_response_carries_the_three_remaining_headers(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox)
    access = connect(http, sb)["access_token"]
    first = call(http, sb, access, INVOICES)
    assert first.headers["X-DayLimit-Remaining"] == "4999"
    assert first.headers["X-MinLimit-Remaining"] == "59"
    assert first.headers["X-AppMinLimit-Remaining"] == "9999"
    not_found = call(http, sb, access, "/api.xro/2.0/Nothing")
    assert not_found.status_code == 404 and not_found.headers["X-MinLimit-Remaining"] == "58"


def test_minute_limit_refuses_with_429_minute_until_the_tenants_window_resets(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox, minute_limit=3)
    access = connect(http, sb)["access_token"]
    for _ in range(3):
        assert call(http, sb, access, INVOICES).status_code == 200
    refused = call(http, sb, access, INVOICES)
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.headers["X-MinLimit-Remaining"] == "0"
    assert call(http, sb, access, INVOICES, tenant=NZ).status_code == 200  # another tenant has its own window

    advance(http, sb, retry_after)
    assert call(http, sb, access, INVOICES).status_code == 200
    assert stats(http, sb)["rate_limited"] == {"minute": 1}


def test_short_windows_are_settable_so_a_test_reaches_the_minute_limit_in_seconds(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox, minute_limit=2, minute_window_s=2)
    access = connect(http, sb)["access_token"]
    statuses = [call(http, sb, access, INVOICES).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    advance(http, sb, 2)
    assert call(http, sb, access, INVOICES).status_code == 200


def test_windows_are_fixed_and_start_at_each_tenants_own_first_call(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox, minute_limit=1)
    access = connect(http, sb)["access_token"]
    call(http, sb, access, INVOICES, tenant=AU)
    advance(http, sb, 30)
    call(http, sb, access, INVOICES, tenant=NZ)
    au_wait = int(call(http, sb, access, INVOICES, tenant=AU).headers["Retry-After"])
    nz_wait = int(call(http, sb, access, INVOICES, tenant=NZ).headers["Retry-After"])
    assert au_wait <= 31 and nz_wait >= 58  # AU's window opened 30 s before NZ's

    advance(http, sb, 31)  # AU's window has reset, NZ's has not
    assert call(http, sb, access, INVOICES, tenant=AU).status_code == 200
    assert call(http, sb, access, INVOICES, tenant=NZ).status_code == 429


def test_a_window_resets_all_at_once_not_sliding(start_sandbox: Callable[..., SandboxHandle], http: httpx.Client):
    sb = _limited(start_sandbox, minute_limit=2)
    access = connect(http, sb)["access_token"]
    call(http, sb, access, INVOICES)  # opens the window
    advance(http, sb, 55)
    call(http, sb, access, INVOICES)  # fills it
    advance(http, sb, 6)
    # A sliding window would still count the call made 6 s ago and allow only one more.
    assert [call(http, sb, access, INVOICES).status_code for _ in range(3)] == [200, 200, 429]


def test_day_limit_refuses_with_429_day_and_a_long_retry_after(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox, day_limit=3)
    tokens = connect(http, sb)
    access = tokens["access_token"]
    for _ in range(3):
        call(http, sb, access, INVOICES)
    advance(http, sb, 61)  # a new minute does not help
    refused = call(http, sb, access, INVOICES)
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) > 80_000
    assert refused.headers["X-DayLimit-Remaining"] == "0"
    advance(http, sb, int(refused.headers["Retry-After"]))
    access = refresh(http, sb, tokens["refresh_token"]).json()["access_token"]  # a day later: a new access token
    assert call(http, sb, access, INVOICES).status_code == 200


def test_starter_tier_tenants_get_1000_calls_a_day(start_sandbox: Callable[..., SandboxHandle], http: httpx.Client):
    sb = _limited(start_sandbox)
    access = connect(http, sb)["access_token"]
    assert call(http, sb, access, INVOICES, tenant=GB).headers["X-DayLimit-Remaining"] == "999"  # GB is Starter
    assert call(http, sb, access, INVOICES, tenant=AU).headers["X-DayLimit-Remaining"] == "4999"

    everyone = start_sandbox(rate_limits="starter")
    access = connect(http, everyone)["access_token"]
    assert call(http, everyone, access, INVOICES, tenant=AU).headers["X-DayLimit-Remaining"] == "999"


def test_app_minute_limit_spans_tenants_with_429_appminute(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox, app_minute_limit=3)
    access = connect(http, sb)["access_token"]
    assert [call(http, sb, access, INVOICES, tenant=t).status_code for t in (AU, NZ, GB)] == [200, 200, 200]
    refused = call(http, sb, access, INVOICES, tenant=NZ)
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "appminute"
    assert refused.headers["X-AppMinLimit-Remaining"] == "0" and 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_sixth_concurrent_call_for_a_tenant_gets_429_concurrent(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = _limited(start_sandbox)
    access = connect(http, sb)["access_token"]
    http.post(f"{sb.base_url}/_sandbox/faults", json={"kind": "slow", "delay_ms": 30_000, "path": "Invoices$"})
    results: list[int] = []

    def slow_call() -> None:
        with httpx.Client(timeout=60) as own:
            results.append(call(own, sb, access, INVOICES).status_code)

    threads = [threading.Thread(target=slow_call) for _ in range(5)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while http.get(f"{sb.base_url}/_sandbox/limits").json()["tenants"].get(AU, {}).get("in_flight") != 5:
        assert time.monotonic() < deadline, "five slow calls never got in flight"
        time.sleep(0.02)

    sixth = call(http, sb, access, "/api.xro/2.0/Accounts")
    assert sixth.status_code == 429 and sixth.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert call(http, sb, access, "/api.xro/2.0/Accounts", tenant=NZ).status_code == 200  # per tenant

    http.delete(f"{sb.base_url}/_sandbox/faults")  # releases the slow calls at once
    for thread in threads:
        thread.join(timeout=30)
    assert results == [200] * 5
    assert call(http, sb, access, "/api.xro/2.0/Accounts").status_code == 200


def test_rate_limits_off_counts_calls_but_never_refuses(
    start_sandbox: Callable[..., SandboxHandle], http: httpx.Client
):
    sb = start_sandbox(rate_limits="off", minute_limit=2)
    access = connect(http, sb)["access_token"]
    responses = [call(http, sb, access, INVOICES) for _ in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    assert responses[-1].headers["X-MinLimit-Remaining"] == "0"
