"""One sandbox for every connection test, with short rate-limit windows, and the session-end read-only check.

The sandbox runs on loopback in this process. Its minute window is shrunk to 2 s with 20 calls, so the pacing test
measures a full rate in seconds; the same limits are handed to our client (`SANDBOX_LIMITS`). Tests never reset the
request stats: they compare before/after snapshots, so the session-end check sees every request this suite made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets.catalog import ApiBase
from xero_assets.sandbox.server import SandboxConfig, running_sandbox
from xero_assets.sandbox_connect import consent, sandbox_app_config
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.limiter import RateLimits
from xero_assets.xero.oauth import XeroOAuth

SANDBOX_CONFIG = SandboxConfig(tenants=3, seed=4, minute_window_s=2.0, minute_limit=20)
SANDBOX_LIMITS = RateLimits(concurrent=5, per_minute=20, minute_seconds=2.0)
DATA_PREFIXES = tuple(f"{base.value}/" for base in ApiBase)


@dataclass
class Sandbox:
    """The running sandbox, its default app and a control-API client."""

    base_url: str
    info: dict[str, Any]
    control: httpx.Client

    @property
    def tenant_ids(self) -> list[str]:
        return [t["tenant_id"] for t in self.info["tenants"]]

    def tenant(self, country: str) -> str:
        return next(t["tenant_id"] for t in self.info["tenants"] if t["country"] == country)

    def app_config(self, scopes: tuple[str, ...] | None = None) -> XeroAppConfig:
        """The sandbox's default app (every scope unless told), all base URLs at the sandbox."""
        return sandbox_app_config(self.info, scopes)

    def stats(self) -> dict[str, Any]:
        return self.control.get("/_sandbox/stats").json()

    def advance_clock(self, seconds: float) -> None:
        self.control.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()

    def add_fault(self, **rule: Any) -> None:
        self.control.post("/_sandbox/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        self.control.delete("/_sandbox/faults").raise_for_status()

    def connect(self, store: TokenStore, tenant_ids: list[str]) -> None:
        """The whole consent flow into `store`: consent (no browser), code exchange, /connections, save."""
        consent(store, tenant_ids)


def data_writes(stats: dict[str, Any]) -> dict[str, int]:
    """Requests to the data APIs with any verb but GET (the sandbox labels routes "METHOD /path")."""
    out = {}
    for route, count in stats["by_route"].items():
        method, _, path = route.partition(" ")
        if path.startswith(DATA_PREFIXES) and method != "GET":
            out[route] = count
    return out


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The session's sandbox. At the end: the data APIs saw nothing but GET from this whole suite."""
    with running_sandbox(SANDBOX_CONFIG) as handle, httpx.Client(base_url=handle.base_url, timeout=30) as control:
        box = Sandbox(handle.base_url, handle.info, control)
        yield box
        final = box.stats()
        data_calls = {r: n for r, n in final["by_route"].items() if r.partition(" ")[2].startswith(DATA_PREFIXES)}
        print(f"\nsandbox requests to data APIs this session: {sum(data_calls.values())}, writes: {final['writes']}")
        writes = data_writes(final)
        assert final["writes"] == 0 and writes == {}, f"non-GET requests reached the data APIs: {writes}"


@pytest.fixture
def store_factory(sandbox: Sandbox) -> Iterator[Any]:
    """Builds token stores on a database URL against the sandbox app, closing them after the test."""
    made: list[TokenStore] = []

    def make(database_url: str, key: str | None = None, scopes: tuple[str, ...] | None = None) -> TokenStore:
        oauth = XeroOAuth(sandbox.app_config(scopes))
        store = TokenStore(make_engine(database_url), Fernet(key or Fernet.generate_key()), oauth, owns_engine=True)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
