"""The Dagster resource: wired with dg.EnvVar, it hands out a ready client for a connected tenant."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from xero_assets.defs.resources import XeroResource
from xero_assets.store.crypto import cipher_from_keys
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.client import TenantClient
from xero_assets.xero.oauth import XeroOAuth
from xero_assets_tests.connection.conftest import SANDBOX_LIMITS, Sandbox


def test_the_resource_configured_from_env_vars_reads_a_connected_tenant(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite:///{tmp_path / 'resource.db'}"
    key = Fernet.generate_key().decode()
    store = TokenStore(make_engine(database_url), cipher_from_keys(key), XeroOAuth(sandbox.app_config()))
    tenant = sandbox.tenant("NZ")
    sandbox.connect(store, [tenant])
    store.close()
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
