"""Done-when: 16 threads in 4 processes ask for one tenant's expired token at once; the sandbox sees one refresh.

Each process builds its own engine and TokenStore (as Dagster run processes do) and its threads wait on one
cross-process barrier, so all 16 callers find the token expired together. The sandbox rotates refresh tokens, so a
second refresh with the old token would show up as a second grant (and, after the grace period, invalid_grant).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore, xero_tokens
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.oauth import XeroOAuth
from xero_assets_tests.connection.conftest import Sandbox

PROCESSES = 4
THREADS = 4


def _ask_for_the_token(
    database_url: str, key: bytes, config: XeroAppConfig, tenant_id: str, barrier: Any, results: Any
) -> None:
    """One process: its own engine and store; THREADS threads that ask for the token at the same moment."""
    store = TokenStore(make_engine(database_url), Fernet(key), XeroOAuth(config), create_tables=False, owns_engine=True)

    def ask() -> None:
        try:
            barrier.wait(timeout=60)
            token = store.access_token(tenant_id)
            # A valid token is one Xero accepts: /connections answers 200 with it.
            status = httpx.get(config.connections_url, headers={"Authorization": f"Bearer {token}"}).status_code
            results.put((hashlib.sha256(token.encode()).hexdigest(), status, None))
        except Exception as exc:  # reported to the parent, which fails the test with it
            results.put((None, None, f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()


def test_sixteen_callers_in_four_processes_refresh_an_expired_token_exactly_once(
    database_url: str, sandbox: Sandbox, store_factory: Any
) -> None:
    key = Fernet.generate_key()
    store: TokenStore = store_factory(database_url, key)
    tenant = sandbox.tenant("NZ")
    sandbox.connect(store, [tenant])
    before = sandbox.stats()
    # Half an hour passes: Xero's access token is expired, and ours says so too.
    sandbox.advance_clock(1801)
    with store.engine.begin() as conn:
        conn.execute(sa.update(xero_tokens).values(expires_at=datetime(2000, 1, 1)))

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES * THREADS)
    results = context.Queue()
    config = store.oauth.config
    processes = [
        context.Process(target=_ask_for_the_token, args=(database_url, key, config, tenant, barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in range(PROCESSES * THREADS)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    after = sandbox.stats()
    refreshes = after["token_grants"].get("refresh_token", 0) - before["token_grants"].get("refresh_token", 0)
    invalid_grants = after["token_errors"].get("invalid_grant", 0) - before["token_errors"].get("invalid_grant", 0)
    backend = database_url.split(":")[0]
    print(f"\n{backend}: {len(answers)} callers, {refreshes} refresh grant(s), {invalid_grants} invalid_grant")
    assert [error for _, _, error in answers if error] == []
    assert refreshes == 1
    assert invalid_grants == 0
    assert {status for _, status, _ in answers} == {200}
    assert len({digest for digest, _, _ in answers}) == 1  # everyone got the one new token
    assert store.get_connection(tenant).last_refresh_at is not None  # type: ignore[union-attr]
