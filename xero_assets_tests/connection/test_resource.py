"""The Dagster resource: wired with dg.EnvVar, it hands out a ready client for a connected tenant."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from xero_assets.defs.resources import XeroResource
from xero_assets.store.crypto import cipher_from_keys
from xero_assets.store.db import limits_database_url, make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.client import TenantClient
from xero_assets.xero.oauth import XeroOAuth
from xero_assets_tests.connection.conftest import SANDBOX_LIMITS, Sandbox


def _connect_nz(sandbox: Sandbox, database_url: str) -> tuple[str, str]:
    """The sandbox's NZ organisation connected in a fresh token store at `database_url`: (its secret key, tenant)."""
    key = Fernet.generate_key().decode()
    store = TokenStore(make_engine(database_url), cipher_from_keys(key), XeroOAuth(sandbox.app_config()))
    tenant = sandbox.tenant("NZ")
    sandbox.connect(store, [tenant])
    store.close()
    return key, tenant


def test_the_resource_configured_from_env_vars_reads_a_connected_tenant(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite:///{tmp_path / 'resource.db'}"
    key, tenant = _connect_nz(sandbox, database_url)
    monkeypatch.setenv("XERO_CLIENT_ID", sandbox.info["client_id"])
    monkeypatch.setenv("XERO_CLIENT_SECRET", sandbox.info["client_secret"])
    monkeypatch.setenv("XERO_ASSETS_DATABASE_URL", database_url)
    monkeypatch.setenv("XERO_ASSETS_SECRET_KEY", key)
    resource = XeroResource(
        client_id=dg.EnvVar("XERO_CLIENT_ID"),
        client_secret=dg.EnvVar("XERO_CLIENT_SECRET"),
        database_url=dg.EnvVar("XERO_ASSETS_DATABASE_URL"),
        secret_key=dg.EnvVar("XERO_ASSETS_SECRET_KEY"),
        login_url=sandbox.base_url,
        identity_url=sandbox.base_url,
        api_url=sandbox.base_url,
        per_minute=SANDBOX_LIMITS.per_minute,
        minute_seconds=SANDBOX_LIMITS.minute_seconds,
    )
    with dg.build_resources({"xero": resource}) as resources:
        client = resources.xero.client_for(tenant)
        assert isinstance(client, TenantClient) and client is resources.xero.client_for(tenant)
        assert client.get_json("/api.xro/2.0/Organisation")["Organisations"][0]["CountryCode"] == "NZ"
        [connection] = resources.xero.token_store().list_connections()
        assert connection.tenant_id == tenant and connection.status.label == "Success"


def test_a_call_is_not_held_up_by_a_page_the_sync_is_writing_to_a_sqlite_warehouse(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The shared rate limits take SQLite's write lock on every call; kept in the warehouse's file, a call waited for
    the page being written (up to the 60 s busy timeout) and fetching stopped overlapping writing."""
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    key, tenant = _connect_nz(sandbox, database_url)
    resource = XeroResource(
        client_id=sandbox.info["client_id"],
        client_secret=sandbox.info["client_secret"],
        database_url=database_url,
        secret_key=key,
        login_url=sandbox.base_url,
        identity_url=sandbox.base_url,
        api_url=sandbox.base_url,
        per_minute=SANDBOX_LIMITS.per_minute,
        minute_seconds=SANDBOX_LIMITS.minute_seconds,
    )
    called = threading.Event()
    released_after_the_call: list[bool] = []

    def write_a_page() -> None:  # holds the warehouse's write lock until the call is done (or 30 s have passed)
        engine = make_engine(database_url)
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            locked.set()
            released_after_the_call.append(called.wait(timeout=30))
            conn.exec_driver_sql("ROLLBACK")
        engine.dispose()

    locked = threading.Event()
    writer = threading.Thread(target=write_a_page)
    with dg.build_resources({"xero": resource}) as resources:
        client = resources.xero.client_for(tenant)
        writer.start()
        assert locked.wait(timeout=30)
        assert client.get_json("/api.xro/2.0/Organisation")["Organisations"][0]["CountryCode"] == "NZ"
        called.set()
        writer.join()
    assert released_after_the_call == [True]
    limits_file = tmp_path / "warehouse.limits.db"
    assert limits_file.exists()
    open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
    assert str(limits_file.resolve()) not in open_files  # the resource's teardown closed the limits' connections


@pytest.mark.parametrize(
    ("url", "limits"),
    [
        ("sqlite:////srv/xero/warehouse.db", "sqlite:////srv/xero/warehouse.limits.db"),
        ("sqlite:///data.v2/books", "sqlite:///data.v2/books.limits"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://postgres@db:5432/xero", "postgresql+psycopg://postgres@db:5432/xero"),
    ],
)
def test_the_shared_limits_live_beside_a_sqlite_file_and_in_a_postgresql_database_itself(url: str, limits: str) -> None:
    assert limits_database_url(url) == limits
