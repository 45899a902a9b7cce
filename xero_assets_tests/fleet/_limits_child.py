"""One process of the shared-limits test: phases of several "runs" (each its own XeroClient, as each Dagster run
is), each run pulling from one tenant through limits kept in the shared database.

Usage: python -m xero_assets_tests.fleet._limits_child CONFIG_JSON. It prints "ready" once set up; then, for each
phase in the config, it waits for "go" on stdin, runs the phase and prints one JSON line: when each call was sent
(wall clock) and the 429s its clients saw.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from xero_assets import sandbox_connect
from xero_assets.store.db import make_engine
from xero_assets.store.rate_limits import SharedRateLimits
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.client import TenantClient, XeroClient
from xero_assets.xero.limiter import RateLimits


class SendTimes(httpx.HTTPTransport):
    """Records when each request leaves this process (after the limiter let it go)."""

    def __init__(self, sent: list[float], lock: threading.Lock) -> None:
        super().__init__()
        self._sent, self._lock = sent, lock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._sent.append(time.time())
        return super().handle_request(request)


def run_phase(config: dict[str, Any], store: TokenStore, phase: dict[str, Any]) -> dict[str, Any]:
    limits = RateLimits(**config["limits"])
    sent: list[float] = []
    lock = threading.Lock()
    clients: list[TenantClient] = []
    for tenant in phase["run_tenants"]:  # one XeroClient per run: nothing shared in memory between runs
        shared = SharedRateLimits(make_engine(config["database_url"]))
        xero = XeroClient(config["base_url"], store, limits=limits, transport=SendTimes(sent, lock), shared=shared)
        clients.append(xero.for_tenant(tenant))
        store.access_token(tenant)  # token refreshes happen before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()

    def pull(client: TenantClient) -> None:
        for _ in range(phase["calls_per_thread"]):
            client.get_json("/api.xro/2.0/Currencies")

    jobs = [client for client in clients for _ in range(phase["threads_per_run"])]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(pull, jobs))
    return {"sent": sent, "429s": sum(c.stats.rate_limited_429s for c in clients)}


def main(config: dict[str, Any]) -> None:
    info = {"base_url": config["base_url"], "client_id": "-", "client_secret": "-", "redirect_uri": "http://x/cb"}
    app = sandbox_connect.sandbox_app_config(info)
    store = sandbox_connect.open_token_store(app, config["database_url"], config["secret_key"])
    for phase in config["phases"]:
        print(json.dumps(run_phase(config, store, phase)), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
