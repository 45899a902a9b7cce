"""Test doubles for the connection layer: a clock tests move by hand, and a token source that counts refreshes."""

from __future__ import annotations

import threading


class FakeClock:
    """`clock()` reads the fake time; `sleep(s)` moves it on at once, so pacing tests take no wall time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(seconds, 0.0)


class FakeTokens:
    """A TokenSource whose token changes on every forced refresh."""

    def __init__(self) -> None:
        self.version = 0
        self.forced = 0

    def access_token(self, tenant_id: str, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self.version += 1
        return f"token-{self.version}"
