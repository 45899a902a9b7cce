"""One sandbox's configuration and live state, shared by its routes.

`SandboxConfig` is what `xero-assets sandbox` and tests choose; `SandboxState` holds the clock, the books (from
`xero_assets.sandbox.books`), identity, rate limiter, faults, stats and webhooks that every route reads. The books are
seen through the `World`/`TenantBooks` protocols below, which are the whole contract between the server and the data
half.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from xero_assets.catalog import Endpoint, XeroApi
from xero_assets.sandbox.clock import Clock
from xero_assets.sandbox.faults import Faults
from xero_assets.sandbox.identity import (
    DEFAULT_USER_EMAIL,
    DEFAULT_USER_PASSWORD,
    App,
    Identity,
    User,
    default_apps,
)
from xero_assets.sandbox.ratelimit import Limits, RateLimiter
from xero_assets.sandbox.stats import Stats
from xero_assets.sandbox.webhooks import Webhooks


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox is started with. Window lengths and limits are settable so tests reach them quickly."""

    tenants: int = 3
    size: str = "small"
    seed: int = 1
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    rate_limits: Literal["on", "off", "starter"] = "on"
    minute_window_s: float = 60.0
    day_window_s: float = 86_400.0
    concurrent_limit: int = 5
    minute_limit: int = 60
    day_limit: int = 5000
    starter_day_limit: int = 1000
    app_minute_limit: int = 10_000
    redirect_uris: tuple[str, ...] = ()  # registered on the default apps besides the built-in localhost ones
    shapes: int = 0  # generate this many books and share them across tenants, read-only (0: each tenant its own)

    def limits(self) -> Limits:
        return Limits(
            concurrent=self.concurrent_limit,
            minute=self.minute_limit,
            day=self.day_limit,
            app_minute=self.app_minute_limit,
            minute_window_s=self.minute_window_s,
            day_window_s=self.day_window_s,
            enforce=self.rate_limits != "off",
        )


class TenantBooks(Protocol):
    """One organisation's data, as the books module serves it (see xero_assets/sandbox/books)."""

    tenant_id: str
    name: str
    country: str
    size: str
    tier: str
    short_code: str

    def list(self, api: XeroApi, endpoint: Endpoint, query: Any) -> Any: ...
    def get(self, api: XeroApi, endpoint: Endpoint, record_id: str) -> dict[str, Any] | None: ...
    def report(self, api: XeroApi, params: Mapping[str, str], report_id: str | None) -> Any: ...
    def truth(self) -> dict[str, Any]: ...
    def mutate(self, spec: dict[str, Any]) -> dict[str, Any]: ...


class World(Protocol):
    tenants: Mapping[str, TenantBooks]


class ReadWriteLock:
    """Many readers or one writer: responses read a tenant's books in worker threads while a mutation changes them,
    and the books themselves take no locks. A waiting writer blocks new readers, so mutations are not starved."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def build_world(config: SandboxConfig, clock: Clock) -> World:
    """The books for `config` (imported here so the server modules load without building data)."""
    from xero_assets.sandbox.books import build_world as build

    return build(seed=config.seed, tenants=config.tenants, size=config.size, clock=clock, shapes=config.shapes)


@dataclass
class SandboxState:
    config: SandboxConfig
    clock: Clock
    world: World
    identity: Identity
    limiter: RateLimiter
    faults: Faults
    stats: Stats
    web_app: App
    pkce_app: App
    custom_app: App | None
    user: User
    base_url: str = ""
    books_locks: dict[str, ReadWriteLock] = field(default_factory=dict)
    webhooks: Webhooks = field(init=False)

    def __post_init__(self) -> None:
        self.books_locks = {tenant_id: ReadWriteLock() for tenant_id in self.world.tenants}
        self.webhooks = Webhooks(self.clock, self.identity.app_connected, lambda: self.base_url)

    def tenant(self, tenant_id: str | None) -> TenantBooks | None:
        return self.world.tenants.get(tenant_id or "")

    def day_limit(self, tenant_id: str) -> int:
        """5,000 a day, or 1,000 for a Starter-tier organisation (or every one under --rate-limits starter)."""
        books = self.tenant(tenant_id)
        starter = self.config.rate_limits == "starter" or (books is not None and books.tier == "starter")
        return min(self.config.day_limit, self.config.starter_day_limit) if starter else self.config.day_limit

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity.issuer = self.base_url

    def info(self) -> dict[str, Any]:
        """The line `xero-assets sandbox` prints: where the sandbox is and how to log in to it."""
        base = self.base_url
        out: dict[str, Any] = {
            "base_url": base,
            "client_id": self.web_app.client_id,
            "client_secret": self.web_app.client_secret,
            "redirect_uri": self.web_app.redirect_uris[0],
            "redirect_uris": list(self.web_app.redirect_uris),
            "pkce_client_id": self.pkce_app.client_id,
            "authorize_url": f"{base}/identity/connect/authorize",
            "token_url": f"{base}/connect/token",
            "revocation_url": f"{base}/connect/revocation",
            "connections_url": f"{base}/connections",
            "api_url": base,
            "user_email": self.user.email,
            "user_password": self.user.password,
            "tenants": [
                {"tenant_id": b.tenant_id, "name": b.name, "country": b.country, "tier": b.tier}
                for b in self.world.tenants.values()
            ],
        }
        if self.custom_app is not None:
            out["custom_connection"] = {
                "client_id": self.custom_app.client_id,
                "client_secret": self.custom_app.client_secret,
                "tenant_id": self.custom_app.custom_connection_tenant_id,
            }
        return out


def build_state(config: SandboxConfig, world: World | None = None, clock: Clock | None = None) -> SandboxState:
    """A ready sandbox: books built, default apps and user registered, limits and faults configured."""
    clock = clock or Clock()
    world = world if world is not None else build_world(config, clock)
    identity = Identity(clock, {tid: books.name for tid, books in world.tenants.items()})
    first_tenant = next(iter(world.tenants), None)
    apps = default_apps(config.seed, first_tenant)
    for app in apps:
        if app.redirect_uris:
            app.redirect_uris = tuple(dict.fromkeys((*app.redirect_uris, *config.redirect_uris)))
        identity.register_app(app)
    user = identity.add_user(User("3b8e2a0c-5d5e-4c6a-9f0e-000000000001", DEFAULT_USER_EMAIL, DEFAULT_USER_PASSWORD))
    state = SandboxState(
        config=config,
        clock=clock,
        world=world,
        identity=identity,
        limiter=RateLimiter(clock, config.limits()),
        faults=Faults(config.seed, config.fault_rate),
        stats=Stats(),
        web_app=apps[0],
        pkce_app=apps[1],
        custom_app=apps[2] if len(apps) > 2 else None,
        user=user,
    )
    state.limiter = RateLimiter(clock, config.limits(), state.day_limit)
    return state
