"""End to end under `dagster dev`, with no one touching the UI: a new consent in the sandbox becomes a tenant
partition (the sensor) and a successful initial sync run (the daemon's queue and a launched run), and the warehouse
then equals the sandbox's books.

Headless `dagster dev` ignores SIGTERM for a long time, so it runs in its own process group and the whole group is
killed at the end (see ../shared/docs/dagster-notes.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.sandbox.server import running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import Warehouse
from xero_assets_tests.sync.conftest import WINDOW_S, Synced, assert_matches_truth, fast_config

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_new_consent_becomes_a_partition_and_a_successful_initial_sync_under_dagster_dev(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    key = Fernet.generate_key().decode()
    port = _free_port()
    with running_sandbox(fast_config(tenants=1, size="small")) as sandbox:
        env = {
            **os.environ,
            **sandbox_connect.sandbox_env(sandbox.info, database_url, key),
            "XERO_ASSETS_MINUTE_SECONDS": str(WINDOW_S),
            "DAGSTER_HOME": str(home),
        }
        dagster = Path(sys.executable).with_name("dagster")
        log = (tmp_path / "dagster_dev.log").open("w")
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-p", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait("dagster dev", lambda: _answers(f"http://127.0.0.1:{port}/server_info"), 120)
            store = sandbox_connect.open_token_store(
                sandbox_connect.sandbox_app_config(sandbox.info), database_url, key
            )
            [connection] = sandbox_connect.consent(store)
            tenant = connection.tenant_id
            instance = dg.DagsterInstance.from_config(str(home))
            _wait(
                "the sensor to add the partition",
                lambda: tenant in instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME),
                120,
            )
            runs_of_tenant = dg.RunsFilter(tags={"dagster/partition": tenant})
            done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
            _wait(
                "the initial sync run to finish",
                lambda: any(
                    r.status in done for r in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": tenant}))
                ),
                240,
            )
            [run] = instance.get_runs(runs_of_tenant)
            assert run.status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "dagster_dev.log").read_text()[-3000:]
            assert run.tags.get("xero_assets/initial_sync") == "true"
            warehouse = Warehouse(make_engine(database_url))
            synced = Synced(sandbox, store, None, warehouse)  # type: ignore[arg-type]
            assert_matches_truth(synced, tenant)
            store.close()
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
            log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


pytestmark = pytest.mark.timeout(600)
