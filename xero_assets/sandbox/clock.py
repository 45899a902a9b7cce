"""The sandbox's clock: real UTC time plus an offset a test can move.

Everything in the sandbox that depends on time reads this clock, never `datetime.now()`: token and code expiry,
refresh-token grace and 60-day expiry, rate-limit windows, envelope timestamps and the books' UpdatedDateUTC. So a
test can jump 31 minutes to expire an access token, or a day to reset a day limit, without waiting. The clock keeps
running between jumps, as Xero's does.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """`now()` is always an aware UTC datetime; `advance` and `set` move every later `now()` by the same offset."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> datetime:
        """Jump forward (or back, when negative) by `seconds`; returns the new now."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime) -> datetime:
        """Make `now()` read `moment` (naive values are UTC); the clock keeps running from there."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            self._offset = moment.astimezone(UTC) - datetime.now(UTC)
        return self.now()
