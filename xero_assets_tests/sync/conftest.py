"""Fixtures for sync tests: a real sandbox over HTTP, tenants connected through the real OAuth flow, a real client
and a real warehouse (SQLite and PostgreSQL through the top-level `database_url` fixture).

Rate limits stay ON in the sandbox, with the minute window shrunk to one second (and the client told the same), so
the sync is paced exactly as against Xero, only 60 times faster. The day limit is raised except where a test is about
it, because a session of tests makes many full syncs of the same tenants.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets import catalog, sandbox_connect
from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import Connection, TokenStore
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import SyncResult, sync_tenant
from xero_assets.xero import dates
from xero_assets.xero.client import TenantClient, XeroClient
from xero_assets.xero.limiter import RateLimits

WINDOW_S = 1.0
DAY_LIMIT = 1_000_000


def fast_config(**overrides: Any) -> SandboxConfig:
    """Xero's limits with a one-second minute (and a day limit tests do not reach unless they set one)."""
    return SandboxConfig(**{"minute_window_s": WINDOW_S, "day_limit": DAY_LIMIT, **overrides})


def fast_limits(**overrides: Any) -> RateLimits:
    return RateLimits(**{"minute_seconds": WINDOW_S, "per_day": DAY_LIMIT, **overrides})


@dataclass
class Synced:
    """A connected sandbox and warehouse: what a sync test drives."""

    sandbox: SandboxHandle
    store: TokenStore
    client: XeroClient
    warehouse: Warehouse
    connections: dict[str, Connection] = field(default_factory=dict)
    secret_key: str = ""
    database_url: str = ""

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    def close(self) -> None:
        """Release the client's connections, the token store and the warehouse's pool (the sandbox is the caller's)."""
        self.client.close()
        self.store.close()
        self.warehouse.engine.dispose()

    def tenant(self, tenant_id: str) -> TenantClient:
        return self.client.for_tenant(tenant_id)

    def sync(self, tenant_id: str, apis: list[catalog.XeroApi] | None = None, **kwargs: Any) -> list[SyncResult]:
        """Sync a tenant with a fresh client (as a new run would), returning every API's result."""
        client = XeroClient(self.base_url, self.store, limits=self.client.limits, max_retries=8, backoff_base=0.05)
        try:
            scopes = kwargs.pop("granted_scopes", self.connections[tenant_id].scopes)
            return sync_tenant(client.for_tenant(tenant_id), self.warehouse, apis, granted_scopes=scopes, **kwargs)
        finally:
            client.close()

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base_url}/_sandbox/{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def truth(self, tenant_id: str) -> dict[str, Any]:
        return self.control("GET", f"truth/{tenant_id}")

    def country(self, tenant_id: str) -> str:
        return self.truth(tenant_id)["country"]


@pytest.fixture(scope="session")
def medium_sandbox() -> Iterator[SandboxHandle]:
    """One medium organisation per country (AU, NZ, GB, US); never mutated, so tests may share it."""
    with running_sandbox(fast_config(tenants=4, size="medium")) as handle:
        yield handle


def connect(handle: SandboxHandle, database_url: str, scopes: list[str] | None = None, **limits: Any) -> Synced:
    """Consent every sandbox organisation through the OAuth flow and open a warehouse on `database_url`."""
    key = Fernet.generate_key().decode()
    store = sandbox_connect.open_token_store(sandbox_connect.sandbox_app_config(handle.info), database_url, key)
    connections = {c.tenant_id: c for c in sandbox_connect.consent(store, scopes=scopes)}
    warehouse = Warehouse(make_engine(database_url))
    warehouse.create()
    client = XeroClient(handle.base_url, store, limits=fast_limits(**limits))
    return Synced(handle, store, client, warehouse, connections, key, database_url)


@contextmanager
def private_synced(database_url: str, **config: Any) -> Iterator[Synced]:
    """A sandbox of the test's own (`fast_config(**config)`), connected to a warehouse on `database_url`: for tests
    that mutate the books, slow Xero down or break the warehouse under a sync."""
    with running_sandbox(fast_config(**config)) as handle:
        synced = connect(handle, database_url)
        try:
            yield synced
        finally:
            synced.close()


@pytest.fixture
def medium(medium_sandbox: SandboxHandle, database_url: str) -> Iterator[Synced]:
    synced = connect(medium_sandbox, database_url)
    yield synced
    synced.close()


def truth_versions(truth: dict[str, Any], api: str) -> dict[str, datetime | None]:
    """The sandbox's {id: UpdatedDateUTC} for one API, in the warehouse's convention (naive UTC)."""
    out = {}
    for record_id, value in (truth["collections"].get(api) or {}).items():
        moment = dates.parse(value) if isinstance(value, str) else None
        out[record_id] = moment.replace(tzinfo=None) if moment else None
    return out


def assert_matches_truth(synced: Synced, tenant_id: str, apis: list[str] | None = None) -> None:
    """Every record API of the tenant: the same ids, each with the same UpdatedDateUTC, as the sandbox's books."""
    truth = synced.truth(tenant_id)
    names = apis or [a.name for a in catalog.SYNCABLE if a.kind is catalog.Kind.RECORDS]
    problems = []
    for name in names:
        if name not in truth["collections"]:
            continue
        expected = truth_versions(truth, name)
        stored = synced.warehouse.record_versions(tenant_id, name)
        if set(stored) != set(expected):
            missing, extra = set(expected) - set(stored), set(stored) - set(expected)
            problems.append(f"{name}: {len(missing)} missing, {len(extra)} extra")
            continue
        wrong = [rid for rid, moment in expected.items() if moment is not None and stored[rid] != moment]
        if wrong:
            problems.append(f"{name}: {len(wrong)} with another UpdatedDateUTC, e.g. {wrong[0]}")
    assert not problems, f"tenant {tenant_id} differs from the sandbox: " + "; ".join(problems)
