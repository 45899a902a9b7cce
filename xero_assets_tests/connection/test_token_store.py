"""The token store's database rules on both backends, with a stand-in token endpoint (no sandbox needed).

The cross-process refresh race against the real sandbox is proven in test_sandbox_refresh.py.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from xero_assets.store.db import make_engine
from xero_assets.store.tokens import ConnectionStatus, TokenStore, xero_tokens
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.errors import ReauthorizationRequired, TenantNotConnected
from xero_assets.xero.oauth import TokenSet, XeroConnection, XeroOAuth


class TokenEndpoint:
    """A token endpoint that rotates like Xero's and can be told to refuse with invalid_grant."""

    def __init__(self) -> None:
        self.refreshes: list[str] = []
        self.refuse: set[str] = set()
        self._numbers = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        old = form["refresh_token"]
        self.refreshes.append(old)
        if old in self.refuse:
            return httpx.Response(400, json={"error": "invalid_grant"})
        time.sleep(0.02)  # long enough for racing refreshers to overlap if the lock did not hold them
        n = next(self._numbers)
        body = {"access_token": f"{old}-access-{n}", "refresh_token": f"{old}-r{n}", "expires_in": 1800, "scope": "a"}
        return httpx.Response(200, json=body)


def _store(database_url: str, endpoint: TokenEndpoint) -> TokenStore:
    oauth = XeroOAuth(XeroAppConfig(client_id="c", client_secret="s"), transport=httpx.MockTransport(endpoint))
    return TokenStore(make_engine(database_url), Fernet(Fernet.generate_key()), oauth, owns_engine=True)


def _consent(store: TokenStore, refresh: str, tenants: list[str], expires_in: float = 1800) -> None:
    tokens = TokenSet(
        f"{refresh}-access-0", refresh, datetime.now(UTC) + timedelta(seconds=expires_in), ("offline_access", "a")
    )
    event = f"event-{tenants[0]}"
    orgs = [XeroConnection(f"c-{t}", t, f"Org {t}", "ORGANISATION", event, None, None) for t in tenants]
    store.save_consent(tokens, orgs)


def test_a_fresh_token_is_served_without_refreshing(database_url: str) -> None:
    endpoint = TokenEndpoint()
    store = _store(database_url, endpoint)
    _consent(store, "R", ["t1"])
    assert store.access_token("t1") == "R-access-0"
    assert endpoint.refreshes == []
    [connection] = store.list_connections()
    assert connection.status is ConnectionStatus.ACTIVE and connection.status.label == "Success"
    assert connection.scopes == ("offline_access", "a") and connection.last_refresh_at is None
    store.close()


def test_racing_threads_refresh_an_expiring_token_once_and_keep_the_rotated_refresh_token(database_url: str) -> None:
    endpoint = TokenEndpoint()
    store = _store(database_url, endpoint)
    _consent(store, "R", ["t1", "t2"], expires_in=60)  # inside the 2-minute margin: due for refresh
    results: list[str] = []
    threads = [threading.Thread(target=lambda t=t: results.append(store.access_token(t))) for t in ["t1", "t2"] * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert endpoint.refreshes == ["R"]
    assert set(results) == {"R-access-1"}
    assert store.get_connection("t2").last_refresh_at is not None  # type: ignore[union-attr]
    _consent_expired(store)
    assert store.access_token("t1") == "R-r1-access-2"  # the next refresh used the rotated token
    store.close()


def _consent_expired(store: TokenStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(xero_tokens.update().values(expires_at=datetime(2000, 1, 1)))


def test_workers_that_saw_the_same_401_refresh_once(database_url: str) -> None:
    endpoint = TokenEndpoint()
    store = _store(database_url, endpoint)
    _consent(store, "R", ["t1"])
    barrier = threading.Barrier(4)
    results: list[str] = []

    def worker() -> None:
        assert store.access_token("t1") == "R-access-0"  # used, and (say) answered 401 TokenExpired
        barrier.wait()
        results.append(store.access_token("t1", force_refresh=True))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["R-access-1"] * 4
    assert endpoint.refreshes == ["R"]
    # A thread reporting the new token rejected too (revoked, or clocks apart) gets another refresh.
    assert store.access_token("t1") == "R-access-1"
    assert store.access_token("t1", force_refresh=True) == "R-r1-access-2"
    store.close()


def test_invalid_grant_marks_that_consent_for_reauthorization_and_leaves_others_alone(database_url: str) -> None:
    endpoint = TokenEndpoint()
    store = _store(database_url, endpoint)
    _consent(store, "DEAD", ["t1", "t2"], expires_in=0)
    _consent(store, "LIVE", ["t3"], expires_in=0)
    endpoint.refuse.add("DEAD")
    with pytest.raises(ReauthorizationRequired, match="xero-assets connect") as raised:
        store.access_token("t1")
    assert set(raised.value.tenant_ids) == {"t1", "t2"}
    statuses = {c.tenant_id: c.status for c in store.list_connections()}
    assert statuses == {
        "t1": ConnectionStatus.NEEDS_REAUTHORIZATION,
        "t2": ConnectionStatus.NEEDS_REAUTHORIZATION,
        "t3": ConnectionStatus.ACTIVE,
    }
    assert store.get_connection("t1").status.label == "Needs re-authorization"  # type: ignore[union-attr]
    with pytest.raises(ReauthorizationRequired):
        store.access_token("t2")  # fails fast: no second refresh attempt with a dead token
    assert endpoint.refreshes == ["DEAD"]
    assert store.access_token("t3") == "LIVE-access-1"
    _consent(store, "NEW", ["t1"])  # re-connecting reactivates
    assert store.get_connection("t1").status is ConnectionStatus.ACTIVE  # type: ignore[union-attr]
    store.close()


def test_removed_and_unknown_tenants_are_not_connected(database_url: str) -> None:
    store = _store(database_url, TokenEndpoint())
    _consent(store, "R", ["t1"])
    store.mark_removed("t1")
    with pytest.raises(TenantNotConnected, match="disconnected"):
        store.access_token("t1")
    with pytest.raises(TenantNotConnected, match="never connected"):
        store.access_token("nobody")
    assert store.list_connections() == []
    assert [c.status for c in store.list_connections(include_removed=True)] == [ConnectionStatus.REMOVED]
    store.close()


def test_tokens_are_encrypted_at_rest(database_url: str) -> None:
    store = _store(database_url, TokenEndpoint())
    _consent(store, "PLAINREFRESH", ["t1"])
    with store.engine.connect() as conn:
        dump = " ".join(str(value) for table in ("xero_tokens", "xero_connections")
                        for row in conn.execute(sa.text(f"select * from {table}")) for value in row)  # fmt: skip
    assert "PLAINREFRESH" not in dump
    store.close()


def test_a_user_s_other_connections_block_revocation(database_url: str) -> None:
    store = _store(database_url, TokenEndpoint())
    _consent(store, "R1", ["t1"])
    _consent(store, "R2", ["t2"])
    token_1 = store.get_connection("t1").token_id  # type: ignore[union-attr]
    store.mark_removed("t1")
    assert not store.user_has_other_connections(token_1)  # type: ignore[arg-type]  # no user id in these tokens
    assert store.user_has_other_connections(store.get_connection("t2").token_id)  # type: ignore[arg-type,union-attr]
    store.close()
