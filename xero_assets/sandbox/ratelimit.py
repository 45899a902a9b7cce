"""Xero's rate limits: per tenant 5 in flight, 60 a minute, 5,000 a day (1,000 on Starter); 10,000 a minute per app.

Windows are FIXED and each tenant's starts with its own first call: Xero's limits page says the reset time differs per
tenant and that a 429 carries `Retry-After` (https://developer.xero.com/documentation/guides/oauth2/limits/), so a
client must read Retry-After instead of assuming minute boundaries. Windows run on the sandbox clock and their lengths
are settable, so a test reaches the minute limit in seconds or resets a day window by advancing the clock. A refused
call does not count against any window.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from xero_assets.sandbox.clock import Clock

# X-Rate-Limit-Problem values: Xero's observed ones plus "appminute" for the app-wide limit (value unverified).
CONCURRENT, MINUTE, DAY, APP_MINUTE = "concurrent", "minute", "day", "appminute"


@dataclass(frozen=True)
class Limits:
    """The limits in force; SandboxConfig.limits() builds them, and SandboxConfig holds Xero's default numbers."""

    concurrent: int
    minute: int
    day: int
    app_minute: int
    minute_window_s: float
    day_window_s: float
    enforce: bool  # False ("--rate-limits off"): count and report, never refuse


@dataclass
class _Window:
    """A fixed window that opens on the first call after the previous one closed."""

    length: timedelta
    start: datetime | None = None
    count: int = 0

    def roll(self, now: datetime) -> None:
        if self.start is None or now >= self.start + self.length:
            self.start, self.count = now, 0

    def seconds_left(self, now: datetime) -> int:
        if self.start is None:
            return 0
        return max(1, math.ceil((self.start + self.length - now).total_seconds()))


@dataclass
class _TenantState:
    minute: _Window
    day: _Window
    in_flight: int = 0


@dataclass(frozen=True)
class Decision:
    """The outcome of one call's admission: headers go on the response either way."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    retry_after: int = 0


class RateLimiter:
    """Admits or refuses calls; every admitted call must be `release`d (it holds one of the tenant's 5 slots)."""

    def __init__(self, clock: Clock, limits: Limits, day_limit_for: Callable[[str], int] | None = None) -> None:
        self.clock = clock
        self.limits = limits
        self._day_limit_for = day_limit_for or (lambda _tenant: limits.day)
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantState] = {}
        self._apps: dict[str, _Window] = {}

    def acquire(self, tenant_id: str, app_id: str) -> Decision:
        now = self.clock.now()
        limits = self.limits
        day_limit = self._day_limit_for(tenant_id)
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                tenant = _TenantState(
                    _Window(timedelta(seconds=limits.minute_window_s)), _Window(timedelta(seconds=limits.day_window_s))
                )
                self._tenants[tenant_id] = tenant
            app = self._apps.setdefault(app_id, _Window(timedelta(seconds=limits.minute_window_s)))
            for window in (tenant.minute, tenant.day, app):
                window.roll(now)
            problem, retry_after = None, 0
            if tenant.in_flight >= limits.concurrent:
                problem, retry_after = CONCURRENT, 1
            elif tenant.day.count >= day_limit:
                problem, retry_after = DAY, tenant.day.seconds_left(now)
            elif tenant.minute.count >= limits.minute:
                problem, retry_after = MINUTE, tenant.minute.seconds_left(now)
            elif app.count >= limits.app_minute:
                problem, retry_after = APP_MINUTE, app.seconds_left(now)
            allowed = problem is None or not limits.enforce
            if allowed:
                tenant.in_flight += 1
                tenant.minute.count += 1
                tenant.day.count += 1
                app.count += 1
            headers = {
                "X-DayLimit-Remaining": str(max(0, day_limit - tenant.day.count)),
                "X-MinLimit-Remaining": str(max(0, limits.minute - tenant.minute.count)),
                "X-AppMinLimit-Remaining": str(max(0, limits.app_minute - app.count)),
            }
        if allowed:
            return Decision(True, headers)
        return Decision(False, headers, problem, retry_after)

    def release(self, tenant_id: str) -> None:
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is not None and tenant.in_flight > 0:
                tenant.in_flight -= 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Per tenant: calls in flight and counted in the current minute and day windows (for /_sandbox/stats)."""
        with self._lock:
            return {
                tenant_id: {"in_flight": s.in_flight, "minute": s.minute.count, "day": s.day.count}
                for tenant_id, s in self._tenants.items()
            }

    def reset(self) -> None:
        """Forget every window (calls in flight keep their slots)."""
        with self._lock:
            for state in self._tenants.values():
                state.minute.start = state.day.start = None
                state.minute.count = state.day.count = 0
            self._apps.clear()
