"""Dagster resources: the thin layer that hands assets what `xero/` and `store/` build.

Wire them in definitions.py with `dg.EnvVar` so secrets never sit in code or run config, e.g.::

    XeroResource(
        client_id=dg.EnvVar("XERO_CLIENT_ID"),
        client_secret=dg.EnvVar("XERO_CLIENT_SECRET"),
        api_url=dg.EnvVar("XERO_API_URL"),            # only where it is set (the sandbox); defaults to Xero
        identity_url=dg.EnvVar("XERO_IDENTITY_URL"),
    )

Each Dagster run is its own process, so the pooled HTTP client and the rate limiter live for one run; tokens live in
the database, where the store's row lock keeps concurrent runs from racing the refresh-token rotation.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

if TYPE_CHECKING:
    import sqlalchemy as sa

    from xero_assets.store.tokens import TokenStore
    from xero_assets.xero.client import TenantClient, XeroClient
    from xero_assets.xero.config import XeroAppConfig
    from xero_assets.xero.limiter import RateLimits


class XeroResource(dg.ConfigurableResource):
    """A ready, rate-limited, read-only Xero client per tenant, backed by the encrypted token store.

    Empty `database_url` / `secret_key` fall back to XERO_ASSETS_DATABASE_URL / XERO_ASSETS_SECRET_KEY (or the
    demo's key file), so the demo and tests need not repeat them. The rate-limit fields exist so tests and the
    sandbox can shrink Xero's windows; leave them at Xero's values in production. With `shared_limits` (the
    default) the limits live in the database (`xero_assets.store.rate_limits`), so every run, process and machine
    using it stays under one tenant's and one app's limits together.
    """

    client_id: str
    client_secret: str = ""
    redirect_uri: str = ""
    login_url: str = "https://login.xero.com"
    identity_url: str = "https://identity.xero.com"
    api_url: str = "https://api.xero.com"
    database_url: str = ""
    secret_key: str = ""
    concurrent: int = 5
    per_minute: int = 60
    minute_seconds: float = 60.0
    per_day: int = 5000
    app_per_minute: int = 10000
    max_retries: int = 5
    shared_limits: bool = True  # keep the limits in the database, so every run and process shares them

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _client: XeroClient | None = PrivateAttr(default=None)
    _store: TokenStore | None = PrivateAttr(default=None)
    _limits_engine: sa.Engine | None = PrivateAttr(default=None)  # the limits' own file (SQLite), closed with us

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._build()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def app_config(self) -> XeroAppConfig:
        from xero_assets.xero.config import DEFAULT_REDIRECT_URI, XeroAppConfig

        return XeroAppConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri or DEFAULT_REDIRECT_URI,
            login_url=self.login_url.rstrip("/"),
            identity_url=self.identity_url.rstrip("/"),
            api_url=self.api_url.rstrip("/"),
        )

    def rate_limits(self) -> RateLimits:
        from xero_assets.xero.limiter import RateLimits

        return RateLimits(
            concurrent=self.concurrent,
            per_minute=self.per_minute,
            minute_seconds=self.minute_seconds,
            per_day=self.per_day,
            app_per_minute=self.app_per_minute,
        )

    def token_store(self) -> TokenStore:
        """The token store (connections, status, scopes, rotation-safe refresh)."""
        return self._build()[1]

    def client_for(self, tenant_id: str) -> TenantClient:
        """A client for one tenant, sharing the run's pooled connection and that tenant's rate limiter."""
        return self._build()[0].for_tenant(tenant_id)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._store is not None:
                self._store.close()
            if self._limits_engine is not None:
                self._limits_engine.dispose()
            self._client = None
            self._store = None
            self._limits_engine = None

    def _build(self) -> tuple[XeroClient, TokenStore]:
        with self._lock:
            if self._client is None or self._store is None:
                from xero_assets.store.crypto import cipher_from_env, cipher_from_keys
                from xero_assets.store.db import database_url_from_env, limits_database_url, make_engine
                from xero_assets.store.rate_limits import SharedRateLimits
                from xero_assets.store.tokens import TokenStore, stored_token_count
                from xero_assets.xero.client import XeroClient
                from xero_assets.xero.oauth import XeroOAuth

                config = self.app_config()
                url = self.database_url or database_url_from_env()
                engine = make_engine(url)
                cipher = (
                    cipher_from_keys(self.secret_key)
                    if self.secret_key
                    else cipher_from_env(stored_tokens=lambda: stored_token_count(engine))
                )
                self._store = TokenStore(engine, cipher, XeroOAuth(config), owns_engine=True)
                shared = None
                if self.shared_limits:
                    limits_url = limits_database_url(url)
                    if limits_url != url:  # SQLite: a file of its own; PostgreSQL shares the store's pool
                        self._limits_engine = make_engine(limits_url)
                    shared = SharedRateLimits(self._limits_engine or engine)
                self._client = XeroClient(
                    config.api_url,
                    self._store,
                    limits=self.rate_limits(),
                    max_retries=self.max_retries,
                    shared=shared,
                    app_key=self.client_id,
                )
            return self._client, self._store


if TYPE_CHECKING:
    from xero_assets.store.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database the sync writes and the datasets read (SQLite file by default, PostgreSQL by URL).

    Empty `database_url` falls back to XERO_ASSETS_DATABASE_URL, then to ./.xero_assets/warehouse.db, the same
    database the token store uses, so one setting moves both.
    """

    database_url: str = ""

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.warehouse()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.engine.dispose()
            self._warehouse = None

    def warehouse(self) -> Warehouse:
        """The warehouse, its tables created on first use."""
        if self._warehouse is None:
            from xero_assets.store.db import database_url_from_env, make_engine
            from xero_assets.store.warehouse import Warehouse

            self._warehouse = Warehouse(make_engine(self.database_url or database_url_from_env()))
            self._warehouse.create()
        return self._warehouse
