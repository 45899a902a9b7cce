"""Xero's rate limits shared by every process and run that uses one database (SQLite file or PostgreSQL).

The in-process limiter (`xero_assets.xero.limiter`) paces one process; two Dagster runs of one tenant, or many
tenants' runs against the app-wide limit, would otherwise only find each other through Xero's 429s. This module keeps
the few numbers they must agree on in two small tables, changed only by single atomic UPDATEs, so no lock is held
across a call and a crashed process leaves nothing stuck:

- `rate_limit_pacing`, one row per key (`tenant:<id>`, `app:<name>`): the earliest start of the key's next call.
  Reserving a call moves it on by one interval (`max(next_start, now) + interval`, the generic cell rate algorithm),
  so the starts of every process interleave at the pace the in-process limiter keeps alone: any window of a minute,
  however Xero's fixed windows fall, holds at most `per_minute - 1` calls. A 429's Retry-After moves it to the end of
  the wait for everyone. For a tenant, the row also holds what Xero last said is left of its day (`day_left`): each
  reservation takes one, and none is granted once only the calls that may be in flight are left, so the day limit is
  never hit; a day 429 anywhere stores Xero's reset time for every process.
- `rate_limit_slots`, `concurrent` rows per tenant: a call holds one (with a lease, so a killed process's slot frees
  itself) for as long as it is in flight.

Times are the database's clock (epoch seconds), so every process and machine agrees on them whatever its own clock
says; callers only ever see "seconds from now".
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from xero_assets.store.db import create_missing_tables, metadata
from xero_assets.xero.limiter import DayAllowanceSpent

SLOT_LEASE_SECONDS = 180.0  # longer than any call may take (client timeout 60 s, plus retries' waits)

pacing = sa.Table(
    "rate_limit_pacing",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("next_start", sa.Float, nullable=False, server_default="0"),
    sa.Column("day_left", sa.Integer, nullable=True),  # what Xero last said is left today; NULL: not known yet
    sa.Column("day_reset_at", sa.Float, nullable=True),  # when Xero said the day resets (from a day 429)
)

slots = sa.Table(
    "rate_limit_slots",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("holder", sa.String(40), nullable=True),
    sa.Column("expires_at", sa.Float, nullable=False, server_default="0"),
)

# The database's clock, read when the statement runs (after any wait for the row's lock), so a process that waited
# for the lock never reserves a start in the past; every time in these tables is on this one clock.
_DB_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


class _Statements:
    """The statements, on one database's clock."""

    def __init__(self, dialect: str) -> None:
        if dialect not in _DB_NOW:
            raise ValueError(f"shared rate limits need SQLite or PostgreSQL, not {dialect}")
        now = _DB_NOW[dialect]
        # `next_start` moves to max(next_start, now) + interval; CASE keeps it portable (SQLite has no GREATEST).
        self.reserve = sa.text(
            f"""
            UPDATE rate_limit_pacing
            SET next_start = (CASE WHEN next_start > {now} THEN next_start ELSE {now} END) + :interval,
                day_left = CASE WHEN day_reset_at <= {now} OR day_left IS NULL THEN NULL ELSE day_left - :spend END,
                day_reset_at = CASE WHEN day_reset_at <= {now} THEN NULL ELSE day_reset_at END
            WHERE key = :key AND (:spend = 0 OR day_left IS NULL OR day_left > :floor OR day_reset_at <= {now})
            RETURNING next_start - :interval - {now}
            """
        )
        # Refused without a reset time from Xero: the day ends one day from now at the latest.
        self.day_end_at_the_latest = sa.text(
            f"UPDATE rate_limit_pacing SET day_reset_at = {now} + :day_seconds "
            "WHERE key = :key AND day_reset_at IS NULL"
        )
        self.day_reset_in = sa.text(f"SELECT day_reset_at - {now} FROM rate_limit_pacing WHERE key = :key")
        self.pause = sa.text(
            f"UPDATE rate_limit_pacing SET next_start = CASE WHEN next_start > {now} + :seconds THEN next_start "
            f"ELSE {now} + :seconds END WHERE key = :key"
        )
        # A count of limit - 1 left means our call opened Xero's day window: it resets one day later.
        self.observe_day = sa.text(
            "UPDATE rate_limit_pacing SET day_left = :left, "
            f"day_reset_at = CASE WHEN :left >= :limit - 1 THEN {now} + :day_seconds ELSE day_reset_at END "
            "WHERE key = :key"
        )
        self.day_spent = sa.text(
            f"UPDATE rate_limit_pacing SET day_left = 0, day_reset_at = {now} + :seconds WHERE key = :key"
        )
        self.take_slot = sa.text(
            f"""
            UPDATE rate_limit_slots SET holder = :holder, expires_at = {now} + :lease
            WHERE key = :key AND slot = (
                SELECT slot FROM rate_limit_slots
                WHERE key = :key AND slot < :concurrent AND (holder IS NULL OR expires_at < {now})
                ORDER BY slot LIMIT 1
            ) AND (holder IS NULL OR expires_at < {now})
            """
        )
        self.free_slot = sa.text("UPDATE rate_limit_slots SET holder = NULL WHERE key = :key AND holder = :holder")


def _still_to_wait(wait: float, asked: float) -> float:
    """The wait the database gave, less the time since we asked (its answer and our commit took some): counting
    from the moment of asking can only start a call later than its reserved start, never earlier."""
    return max(0.0, wait - (time.monotonic() - asked))


class SharedRateLimits:
    """The shared pacing, day allowance and concurrency slots of Xero keys, in our database."""

    def __init__(self, engine: sa.Engine, *, poll_seconds: float = 0.05) -> None:
        self.engine = engine
        self._sql = _Statements(engine.dialect.name)
        self._poll = poll_seconds
        self._known: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        create_missing_tables(engine, [pacing, slots])

    def reserve(self, key: str, interval: float) -> float:
        """Reserve the key's next start (the app's pacing); returns the seconds to wait until it."""
        self._ensure(key, 0)
        asked = time.monotonic()
        with self.engine.begin() as conn:
            wait = conn.execute(self._sql.reserve, self._reserve_params(key, interval, None)).scalar_one()
        return _still_to_wait(wait, asked)

    @contextmanager
    def call(self, key: str, concurrent: int, interval: float, day_floor: int, day_seconds: float) -> Iterator[float]:
        """One call of a tenant: hold one of its `concurrent` places in flight across every process, reserve its
        start and spend one of its day's calls, in one transaction; yields the seconds to wait for that start.
        Raises DayAllowanceSpent when no more than `day_floor` of the day's calls are left (the calls that may be
        in flight unseen by Xero's last count), taking nothing."""
        for number in range(concurrent + 1):
            self._ensure(key, number)
        holder = uuid.uuid4().hex
        take = {"key": key, "holder": holder, "lease": SLOT_LEASE_SECONDS, "concurrent": concurrent}
        while True:
            asked = time.monotonic()
            with self.engine.begin() as conn:
                if conn.execute(self._sql.take_slot, take).rowcount == 1:
                    wait = conn.execute(self._sql.reserve, self._reserve_params(key, interval, day_floor)).scalar()
                    if wait is None:
                        conn.rollback()  # gives the slot back
                        self._refuse_for_the_day(key, day_seconds)
                    break
            time.sleep(self._poll)
        try:
            yield _still_to_wait(wait, asked)
        finally:
            with self.engine.begin() as conn:
                conn.execute(self._sql.free_slot, {"key": key, "holder": holder})

    @staticmethod
    def _reserve_params(key: str, interval: float, day_floor: int | None) -> dict[str, object]:
        spend = 0 if day_floor is None else 1
        return {"key": key, "interval": interval, "spend": spend, "floor": day_floor or 0}

    def _refuse_for_the_day(self, key: str, day_seconds: float) -> None:
        """Raise DayAllowanceSpent with Xero's reset when a day 429 told us, else one day from now at the latest."""
        with self.engine.begin() as conn:
            conn.execute(self._sql.day_end_at_the_latest, {"key": key, "day_seconds": day_seconds})
            reset_in = conn.execute(self._sql.day_reset_in, {"key": key}).scalar_one()
        raise DayAllowanceSpent(max(0.0, reset_in))

    def pause(self, key: str, seconds: float) -> None:
        """No call of this key starts, in any process, for `seconds`."""
        self._ensure(key, 0)
        with self.engine.begin() as conn:
            conn.execute(self._sql.pause, {"key": key, "seconds": seconds})

    def observe_day(self, key: str, left: int, limit: int, day_seconds: float) -> None:
        """Xero's X-DayLimit-Remaining: the truth about the day, whoever else spent it."""
        params = {"key": key, "left": left, "limit": limit, "day_seconds": day_seconds}
        with self.engine.begin() as conn:
            conn.execute(self._sql.observe_day, params)

    def day_spent(self, key: str, reset_in_seconds: float) -> None:
        """A day 429: no process calls this key again until Xero's reset."""
        self._ensure(key, 0)
        with self.engine.begin() as conn:
            conn.execute(self._sql.day_spent, {"key": key, "seconds": reset_in_seconds})

    def _ensure(self, key: str, slot_count: int) -> None:
        """Create the key's pacing row (slot_count 0) or its slot number `slot_count - 1`, once per process."""
        marker = (key, slot_count)
        with self._lock:
            if marker in self._known:
                return
        if slot_count == 0:
            statement = sa.text(
                "INSERT INTO rate_limit_pacing (key, next_start) VALUES (:key, 0) ON CONFLICT DO NOTHING"
            )
            params: dict[str, object] = {"key": key}
        else:
            statement = sa.text(
                "INSERT INTO rate_limit_slots (key, slot, expires_at) VALUES (:key, :slot, 0) ON CONFLICT DO NOTHING"
            )
            params = {"key": key, "slot": slot_count - 1}
        with self.engine.begin() as conn:
            conn.execute(statement, params)
        with self._lock:
            self._known.add(marker)
