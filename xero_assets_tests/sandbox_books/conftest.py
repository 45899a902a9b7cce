"""Worlds for the books tests: built once per module, on a fixed clock so every run sees the same books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xero_assets.sandbox.books import World, build_world

START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


class FixedClock:
    """A clock tests move by hand (the server's clock does the same through /_sandbox/clock)."""

    def __init__(self, moment: datetime = START) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture(scope="module")
def small_world() -> World:
    return build_world(seed=7, tenants=4, size="small", clock=FixedClock())


@pytest.fixture(scope="session")
def medium_world() -> World:
    """One medium organisation per country (AU, NZ, GB, US), shared by the read-only test modules."""
    return build_world(seed=11, tenants=4, size="medium", clock=FixedClock())


def by_country(world: World, country: str):  # type: ignore[no-untyped-def]
    return next(books for books in world.tenants.values() if books.country == country)
