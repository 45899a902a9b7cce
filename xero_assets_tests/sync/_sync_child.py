"""A sync in a child process, so a test can kill it with SIGKILL mid-way (no cleanup, no flush, like a lost node).

Usage: python -m xero_assets_tests.sync._sync_child BASE_URL DATABASE_URL SECRET_KEY TENANT_ID [write-behind]
"""

from __future__ import annotations

import sys

from xero_assets import sandbox_connect
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import sync_tenant
from xero_assets.xero.client import XeroClient
from xero_assets_tests.sync.conftest import fast_limits


def main(base_url: str, database_url: str, secret_key: str, tenant_id: str, write_behind: bool) -> None:
    info = {"base_url": base_url, "client_id": "-", "client_secret": "-", "redirect_uri": "http://localhost/cb"}
    store = sandbox_connect.open_token_store(sandbox_connect.sandbox_app_config(info), database_url, secret_key)
    connection = store.get_connection(tenant_id)
    assert connection is not None
    client = XeroClient(base_url, store, limits=fast_limits())
    sync_tenant(
        client.for_tenant(tenant_id),
        Warehouse(make_engine(database_url)),
        granted_scopes=connection.scopes,
        write_behind=write_behind,
    )


if __name__ == "__main__":
    main(*sys.argv[1:5], write_behind=sys.argv[5:] == ["write-behind"])
