"""The shared limits' atomic updates on SQLite and PostgreSQL: two instances (two processes' worth) on one database
agree on pacing, pauses, the day's allowance and the in-flight places, and a dead holder's place frees itself."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from xero_assets.store.db import make_engine
from xero_assets.store.rate_limits import SharedRateLimits
from xero_assets.xero.limiter import DayAllowanceSpent

KEY = "tenant:t1"


def _pair(database_url: str) -> tuple[SharedRateLimits, SharedRateLimits]:
    return SharedRateLimits(make_engine(database_url)), SharedRateLimits(make_engine(database_url))


def test_two_instances_interleave_their_starts_one_interval_apart(database_url: str) -> None:
    first, second = _pair(database_url)
    waits = [limits.reserve(KEY, 10.0) for limits in (first, second, first, second)]
    assert [round(wait / 10.0) for wait in waits] == [0, 1, 2, 3]  # one interval after another, whoever asks


def test_a_pause_in_one_holds_the_other(database_url: str) -> None:
    first, second = _pair(database_url)
    first.pause(KEY, 30.0)
    assert 25.0 < second.reserve(KEY, 0.1) <= 30.0  # less the time the answer took to arrive


def test_the_day_stops_while_the_calls_in_flight_could_still_spend_it(database_url: str) -> None:
    first, second = _pair(database_url)
    with first.call(KEY, 5, 0.0, 4, 86400.0):
        pass
    first.observe_day(KEY, 6, 5000, 86400.0)  # Xero: 6 calls left today
    for _ in range(2):
        with second.call(KEY, 5, 0.0, 4, 86400.0):
            pass
    # 4 left: as many as may be in flight unseen
    with pytest.raises(DayAllowanceSpent) as spent, first.call(KEY, 5, 0.0, 4, 86400.0):
        pass
    assert 86000 < spent.value.reset_in <= 86400  # Xero gave no reset: a day from now at the latest


def test_a_day_429_in_one_process_stops_every_process_until_xeros_reset(database_url: str) -> None:
    first, second = _pair(database_url)
    first.day_spent(KEY, 1200.0)
    with pytest.raises(DayAllowanceSpent) as spent, second.call(KEY, 5, 0.0, 4, 86400.0):
        pass
    assert 1190 < spent.value.reset_in <= 1200
    first.day_spent(KEY, 0.0)  # the reset time passes: calls go again, counted from Xero's next answer
    with second.call(KEY, 5, 0.0, 4, 86400.0) as wait:
        assert wait >= 0


def test_in_flight_places_are_shared_and_a_dead_holders_place_expires(database_url: str) -> None:
    first, second = _pair(database_url)
    second._poll = 0.01
    entered = threading.Event()
    with first.call(KEY, 1, 0.0, 0, 86400.0):  # the only place
        waiter = threading.Thread(target=lambda: (second.call(KEY, 1, 0.0, 0, 86400.0).__enter__(), entered.set()))
        waiter.start()
        assert not entered.wait(0.3)  # the other instance waits for it
    assert entered.wait(5)
    waiter.join()
    # the second holder "died" holding the place; once its lease is over, a third caller gets it
    with first.engine.begin() as conn:
        conn.execute(sa.text("UPDATE rate_limit_slots SET expires_at = 0"))
    with first.call(KEY, 1, 0.0, 0, 86400.0):
        pass
