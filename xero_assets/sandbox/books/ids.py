"""Deterministic identifiers and timestamps drawn from one seeded random stream per organisation."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta


class Ids:
    """UUID4-shaped strings from a seeded generator: the same seed always yields the same ids in the same order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> str:
        n = self.rng.getrandbits(128)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[n & 3]}{h[17:20]}-{h[20:]}"


def uuid_for(seed: str) -> str:
    """A stable UUID for a name (tenant ids, organisation ids) independent of everything else generated."""
    return Ids(random.Random(seed))()


def stamp(day: date, rng: random.Random, now: datetime, earliest_hour: int = 8, hours: int = 10) -> datetime:
    """A moment during `day`'s working hours with millisecond precision, never later than a minute before now.

    Always the same two draws from `rng`, whatever the time of day: a world built at 07:00 and one built at 17:00 on
    the same day hold the same records with the same ids (only today's timestamps are squeezed into the part of the
    day that has passed).
    """
    offset = rng.randrange(hours * 3600)
    millis = rng.randrange(1000)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = midnight + timedelta(seconds=earliest_hour * 3600 + offset, milliseconds=millis)
    latest = now - timedelta(minutes=1)
    if moment <= latest:
        return moment
    squeezed = midnight + max(latest - midnight, timedelta(0)) * (offset / (hours * 3600))
    return squeezed.replace(microsecond=squeezed.microsecond // 1000 * 1000)


def add_months(day: date, months: int) -> date:
    """The same day-of-month `months` later, clamped to the month's last day."""
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))
