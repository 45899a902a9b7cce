"""Keeping inside Xero's rate limits proactively, so a sync never burns its minute or day on 429s.

Xero allows, per tenant, 5 calls in flight, 60 a minute and 5,000 a day, and 10,000 a minute per app, counted in
fixed windows whose reset time differs per tenant (https://developer.xero.com/documentation/guides/oauth2/limits/).
We cannot see those windows, so
each tenant's calls are spaced evenly at `minute_seconds / (per_minute - 1)`: any window of `minute_seconds` then
holds at most `per_minute - 1` of our calls, and the spare one absorbs network jitter. The remaining counts Xero
sends on every response catch what pacing cannot see (another process using the same tenant), and a 429's
Retry-After pauses every thread of that tenant, not just the one that got it.

All waiting goes through an injected `clock`/`sleep` pair so unit tests run on a fake clock.

Given a `SharedPacing` (the database-backed one is `xero_assets.store.rate_limits.SharedRateLimits`), the same pacing,
pauses, concurrency and day allowance are agreed with every other process and run using that database, so any
number of them stay under one tenant's and one app's limits together.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RateLimits:
    """Xero's limits; tests and the sandbox shrink `minute_seconds` and the counts to run in seconds."""

    concurrent: int = 5
    per_minute: int = 60
    minute_seconds: float = 60.0
    per_day: int = 5000
    app_per_minute: int = 10000
    day_seconds: float = 86400.0

    def __post_init__(self) -> None:
        if min(self.concurrent, self.per_minute, self.per_day, self.app_per_minute) < 1 or self.minute_seconds <= 0:
            raise ValueError(f"rate limits must be positive: {self}")

    @property
    def interval(self) -> float:
        """Seconds between the starts of two calls to one tenant (one call per window kept spare for jitter)."""
        return self.minute_seconds / max(self.per_minute - 1, 1)

    @property
    def app_interval(self) -> float:
        """Seconds between the starts of two calls of the whole app, when the app limit is shared."""
        return self.minute_seconds / max(self.app_per_minute - 1, 1)

    @property
    def best_rate(self) -> float:
        """The fastest sustained rate Xero allows one tenant, calls per second (what pacing is measured against)."""
        return self.per_minute / self.minute_seconds


def backoff_delay(attempt: int, base: float, cap: float = 30.0) -> float:
    """Exponential backoff with jitter (half to full delay), so retrying workers do not stampede together."""
    delay = min(cap, base * (2**attempt))
    return delay * random.uniform(0.5, 1.0)


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """An integer header, or None when absent or not a number."""
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class DayAllowanceSpent(Exception):
    """Every call the tenant may make today is spent (known from the shared state); `reset_in` seconds until more."""

    def __init__(self, reset_in: float) -> None:
        super().__init__(f"the day's calls are spent; they reset in {reset_in:.0f}s")
        self.reset_in = reset_in


class SharedPacing(Protocol):
    """What the limiters need from limits shared across processes (see the module docstring). `reserve` (the app's
    pacing) returns the seconds to wait for the reserved start; `call` holds a tenant's in-flight place, yields the
    wait for its reserved start, and raises DayAllowanceSpent when `day_floor` of the day's calls or fewer are left."""

    def reserve(self, key: str, interval: float) -> float: ...

    def call(
        self, key: str, concurrent: int, interval: float, day_floor: int, day_seconds: float
    ) -> AbstractContextManager[float]: ...

    def pause(self, key: str, seconds: float) -> None: ...

    def observe_day(self, key: str, left: int, limit: int, day_seconds: float) -> None: ...

    def day_spent(self, key: str, reset_in_seconds: float) -> None: ...


def jitter_margin(limits: RateLimits) -> float:
    """How far our clock and Xero's view of when a call arrived may disagree."""
    return limits.minute_seconds * 0.02


class _Timer(Protocol):
    _clock: Clock
    _sleep: Sleep


def start_on_time(wait: float, reserve_again: Callable[[], float], interval: float, timer: _Timer) -> float:
    """Sleep `wait` seconds to a start reserved in the shared pacing; returns the seconds slept.

    A thread woken late (a busy machine oversleeps) must not start then: the calls reserved after it may start on
    time, and two starts closer than the pacing interval can put one call too many in Xero's window. Starts are
    kept within half an interval of their reservation, so any window of `per_minute - 1` intervals holds at most
    `per_minute` of them; a late thread gives up its place and reserves a new one.
    """
    slept = 0.0
    while True:
        due = timer._clock() + wait
        if wait > 0:
            timer._sleep(wait)
            slept += wait
        late = timer._clock() - due
        if late <= interval / 2:
            return slept
        wait = reserve_again()


class WindowEstimate:
    """When Xero's current fixed minute window (a tenant's, or the app's) ends at the latest, from the remaining
    counts seen so far. Not thread-safe: its owner calls it under its lock."""

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._last_seen: tuple[float, int] | None = None  # (start, remaining) of the latest-started call seen
        self._opened: float | None = None

    def track(self, sent: float, remaining: int) -> float:
        """The latest end of the window that counted a call started at `sent` leaving `remaining` calls.

        A window opens on its first call; we see that as the remaining count going *up* between two calls in send
        order, so the window opened no later than the later call's start.
        """
        window = self._limits.minute_seconds
        last = self._last_seen
        if last is None or (sent >= last[0] and remaining > last[1]):
            self._opened = sent
        if last is None or sent >= last[0]:
            self._last_seen = (sent, remaining)
        opened = self._opened
        # A call counted in the current window started less than one window after it opened (give or take network
        # jitter); if our estimate is older than that, someone else opened the window since, no later than this call.
        if opened is None or opened + window + jitter_margin(self._limits) < sent:
            opened = self._opened = sent
        return opened + window


class AppLimiter:
    """The app-wide limit (10,000 a minute across every tenant) as a sliding window shared by all tenants."""

    def __init__(
        self,
        limits: RateLimits,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        shared: SharedPacing | None = None,
        app_key: str = "app",
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._window = WindowEstimate(limits)
        self.shared = shared
        self.key = f"app:{app_key}"

    def acquire(self) -> float:
        """Wait for a place in the app's window; returns the seconds waited."""
        waited = 0.0
        if self.shared is not None:  # every process of the app paces its starts through one row
            shared, key, interval = self.shared, self.key, self._limits.app_interval
            waited = start_on_time(shared.reserve(key, interval), lambda: shared.reserve(key, interval), interval, self)
        window = self._limits.minute_seconds
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - window:
                    self._starts.popleft()
                wait = self._paused_until - now
                if len(self._starts) >= self._limits.app_per_minute:
                    wait = max(wait, self._starts[0] + window - now)
                if wait <= 0:
                    self._starts.append(now)
                    return waited
            self._sleep(wait)
            waited += wait

    def observe(self, sent: float, remaining: int) -> None:
        """Xero's X-AppMinLimit-Remaining for a call started at `sent`: when none are left, no call of the app starts
        until the app's window resets (by its estimated end, not a whole window later)."""
        with self._lock:
            reset_by = self._window.track(sent, remaining)
        if remaining <= 0:
            log.info("Xero reports no app-wide calls left this minute; pausing every tenant until its window resets")
            self.pause(max(0.0, reset_by + jitter_margin(self._limits) - self._clock()))

    def pause(self, seconds: float) -> None:
        """No call from this app starts for `seconds` (an app-limit 429, or Xero saying none remain)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self.shared is not None:
            self.shared.pause(self.key, seconds)


class TenantLimiter:
    """One tenant's limits: at most `concurrent` in flight, starts paced evenly, pauses shared by all threads."""

    def __init__(
        self,
        limits: RateLimits,
        app: AppLimiter,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        tenant_id: str = "",
    ) -> None:
        self.limits = limits
        self.key = f"tenant:{tenant_id}"
        self._shared = app.shared
        self._app = app
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(limits.concurrent)
        self._next_start = 0.0
        self._paused_until = 0.0
        self._window = WindowEstimate(limits)
        self._day_warned = False
        self._day_shared = False  # Xero's day count was written to the shared limits by this limiter

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one of the tenant's concurrent places for one call; yields the seconds spent waiting to start."""
        started_waiting = self._clock()
        with self._in_flight:
            if self._shared is None:
                self._wait_for_turn()
                self._app.acquire()
                yield self._clock() - started_waiting
                return
            limits = self.limits
            # The in-flight calls of every process are the margin kept from the day's last count.
            with self._shared.call(
                self.key, limits.concurrent, limits.interval, limits.concurrent - 1, limits.day_seconds
            ) as wait:
                shared, key = self._shared, self.key
                start_on_time(wait, lambda: shared.reserve(key, limits.interval), limits.interval, self)
                self._app.acquire()
                yield self._clock() - started_waiting

    def _wait_for_turn(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start, self._paused_until)
            self._next_start = start + self.limits.interval
        if start > now:
            self._sleep(start - now)
        while True:  # a 429 may have paused the tenant while we slept towards our reserved start
            with self._lock:
                wait = self._paused_until - self._clock()
            if wait <= 0:
                return
            self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """No call to this tenant starts for `seconds` (Retry-After of a minute or concurrency 429)."""
        with self._lock:
            until = self._clock() + seconds
            self._paused_until = max(self._paused_until, until)
            self._next_start = max(self._next_start, until)
        if self._shared is not None:
            self._shared.pause(self.key, seconds)

    def day_spent(self, reset_in: float) -> None:
        """A day 429: tell every process sharing the limits, so none of them asks Xero again today."""
        if self._shared is not None:
            self._shared.day_spent(self.key, reset_in)

    def observe(self, headers: Mapping[str, str], sent_at: float | None = None) -> tuple[int | None, int | None]:
        """Read Xero's remaining counts from a response to a call started at `sent_at`; hold new calls while a
        window is spent. Returns (day, minute) calls left."""
        minute = header_int(headers, "X-MinLimit-Remaining")
        day = header_int(headers, "X-DayLimit-Remaining")
        app = header_int(headers, "X-AppMinLimit-Remaining")
        sent = self._clock() if sent_at is None else sent_at
        if minute is not None:
            with self._lock:
                reset_by = self._window.track(sent, minute)
            if minute <= 0:
                # Xero will refuse this tenant until its window resets, which happens by `reset_by`. In steady pacing
                # that is about when our next call starts anyway; when someone else spent the window, we wait.
                log.info("Xero reports no calls left this minute for the tenant; holding calls until its window resets")
                self.pause(max(0.0, reset_by + self._jitter_margin - self._clock()))
        if day is not None and self._shared is not None and self._day_worth_sharing(day):
            self._shared.observe_day(self.key, day, self.limits.per_day, self.limits.day_seconds)
        if app is not None:
            self._app.observe(sent, app)
        if day is not None and day * 10 < self.limits.per_day and not self._day_warned:
            self._day_warned = True  # once per client: a warning on every call would drown the run's log
            log.warning("only %d of the %d daily calls are left for this tenant", day, self.limits.per_day)
        return day, minute

    def _day_worth_sharing(self, day: int) -> bool:
        """Whether Xero's day count should overwrite the shared one. Every shared call already spends one, so the
        count is only needed to start from Xero's number, when a window opens, and near the end of the day; skipping
        the rest saves a database write per call."""
        with self._lock:
            first = not self._day_shared
            self._day_shared = True
        return first or day >= self.limits.per_day - 1 or day <= 4 * self.limits.concurrent

    @property
    def _jitter_margin(self) -> float:
        return jitter_margin(self.limits)
