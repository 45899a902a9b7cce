"""The per-tenant and app-wide limiters, on a fake clock: pacing is even and never fills a window."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from xero_assets.xero.limiter import AppLimiter, RateLimits, TenantLimiter, backoff_delay
from xero_assets_tests.connection.fakes import FakeClock


def _limiter(limits: RateLimits, clock: FakeClock) -> TenantLimiter:
    return TenantLimiter(limits, AppLimiter(limits, clock, clock.sleep), clock, clock.sleep)


def test_calls_start_evenly_and_no_window_holds_the_whole_minute_limit() -> None:
    clock = FakeClock()
    limits = RateLimits(per_minute=60, minute_seconds=60.0)
    limiter = _limiter(limits, clock)
    starts = []
    for _ in range(200):
        with limiter.slot():
            starts.append(clock())
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(starts)}
    assert gaps == {round(60.0 / 59, 9)}
    # any window of one minute, wherever Xero's fixed window starts, holds at most the 60 allowed, even when the
    # calls reach Xero up to half a gap out of step (network jitter): the spare call per window absorbs it
    slack = limits.interval / 2
    assert max(sum(1 for s in starts if t <= s < t + 60.0 + slack) for t in starts) == 60
    # ...and the sustained rate is within 2% of the 60 a minute Xero allows
    assert (len(starts) - 1) / (starts[-1] - starts[0]) >= 0.98 * limits.best_rate


def test_an_idle_tenant_starts_at_once_but_a_burst_is_spread_out() -> None:
    clock = FakeClock()
    limiter = _limiter(RateLimits(per_minute=11, minute_seconds=10.0), clock)
    with limiter.slot() as waited:
        assert waited == 0
    clock.now += 100  # idle for a long time
    with limiter.slot() as waited:
        assert waited == 0
    with limiter.slot() as waited:
        assert waited == pytest.approx(1.0)


def test_a_pause_holds_every_later_call_of_the_tenant() -> None:
    clock = FakeClock()
    limiter = _limiter(RateLimits(per_minute=1000, minute_seconds=60.0), clock)
    limiter.pause(7.5)
    before = clock()
    with limiter.slot() as waited:
        assert clock() - before == pytest.approx(7.5)
        assert waited == pytest.approx(7.5)


def test_a_spent_minute_with_no_history_holds_the_tenant_for_a_window() -> None:
    clock = FakeClock()
    limiter = _limiter(RateLimits(per_minute=1000, minute_seconds=4.0), clock)
    day, minute = limiter.observe({"X-MinLimit-Remaining": "0", "X-DayLimit-Remaining": "4000"})
    assert (day, minute) == (4000, 0)
    before = clock()
    with limiter.slot():
        assert clock() - before == pytest.approx(4.0 * 1.02)  # one window, plus a 2% margin


def _paced_calls(limiter: TenantLimiter, clock: FakeClock, remaining: list[int]) -> list[float]:
    """Start one call per remaining count, answering each with it; returns the start times."""
    starts = []
    for left in remaining:
        with limiter.slot():
            starts.append(clock())
        limiter.observe({"X-MinLimit-Remaining": str(left)}, starts[-1])
    return starts


def test_a_window_spent_by_our_own_pacing_costs_no_extra_wait() -> None:
    # 5 a window of 4 s: calls 1 s apart. Jitter put the 5th call (at 4.0) into the first window, so it reads 0.
    clock = FakeClock(start=0.0)
    limiter = _limiter(RateLimits(per_minute=5, minute_seconds=4.0), clock)
    starts = _paced_calls(limiter, clock, [4, 3, 2, 1, 0, 4])
    assert starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # the window had reset by our next turn: no stall


def test_a_window_spent_by_someone_else_holds_calls_until_it_resets() -> None:
    clock = FakeClock(start=0.0)
    limiter = _limiter(RateLimits(per_minute=5, minute_seconds=4.0), clock)
    starts = _paced_calls(limiter, clock, [4, 0, 4])  # another process took the rest of the first window
    assert starts[:2] == [0.0, 1.0]
    assert starts[2] == pytest.approx(4.0 * 1.02)  # the window opened at 0 resets by 4 (plus margin), not at 2


def test_the_app_limit_is_shared_across_tenants() -> None:
    clock = FakeClock()
    limits = RateLimits(per_minute=1000, minute_seconds=10.0, app_per_minute=3)
    app = AppLimiter(limits, clock, clock.sleep)
    tenants = [TenantLimiter(limits, app, clock, clock.sleep) for _ in range(4)]
    start = clock()
    for tenant in tenants[:3]:
        with tenant.slot():
            pass
    with tenants[3].slot():
        assert clock() - start == pytest.approx(10.0)  # the fourth call waits for the window to slide


def test_no_more_than_the_concurrent_limit_are_in_flight() -> None:
    limiter = TenantLimiter(RateLimits(concurrent=3, per_minute=100_000), AppLimiter(RateLimits(per_minute=100_000)))
    in_flight = peak = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal in_flight, peak
        with limiter.slot():
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.01)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3


def test_backoff_grows_and_is_jittered_within_its_cap() -> None:
    delays = [backoff_delay(attempt, base=0.5, cap=4.0) for attempt in range(6)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 4.0 for d in delays)
    assert 2.0 <= delays[5] <= 4.0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimits(per_minute=0)
