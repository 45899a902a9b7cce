"""End to end under `dagster dev`, with no one touching the UI: a new consent in the sandbox becomes a tenant
partition (the sensor) and a successful initial sync run (the daemon's queue and a launched run), and the warehouse
then equals the sandbox's books; a run whose process is killed is failed by run monitoring and synced again.

Headless `dagster dev` (no terminal) ignores SIGTERM for a long time, so it runs in its own process group and the
whole group, runs and steps included, is killed at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.defs.run_launcher import process_alive, run_process_id, step_process_ids
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.store.warehouse import Warehouse
from xero_assets_tests.sync.conftest import WINDOW_S, Synced, assert_matches_truth, fast_config

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, check, timeout: float):  # type: ignore[no-untyped-def]
    """Poll `check` every half second until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on; [0] is the state, [1] the parent's pid."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[-1].split()


@dataclass
class DagsterDev:
    """`dagster dev` on a test instance (the project's dagster.yaml, monitoring polled every 2 s) over a sandbox whose
    two organisations were both consented to as it started, so their initial syncs run side by side."""

    sandbox: SandboxHandle
    home: Path
    database_url: str
    log: Path
    stores: dict[str, TokenStore]

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def runs_of(self, tenant: str) -> list[dg.DagsterRun]:
        return self.instance().get_runs(dg.RunsFilter(tags={"dagster/partition": tenant}))

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


# The test settings over the project's dagster.yaml: monitoring polls every 2 s, and a dead run's pool slot is given
# back 2 s after the run ended (instead of 60), so the tests see both within seconds.
TEST_SETTINGS = {"poll_interval_seconds: 60": "poll_interval_seconds: 2", "run_end_seconds: 60": "run_end_seconds: 2"}


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """The first organisation syncs as is; the second's Invoices call is held (slow) until the faults are cleared,
    so the killed-run test finds its run mid-sync, whenever it gets there."""
    tmp_path = tmp_path_factory.mktemp("dagster_dev")
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (ROOT / "dagster.yaml").read_text()
    for ours, theirs in TEST_SETTINGS.items():
        assert ours in config, f"dagster.yaml no longer says {ours!r}"
        config = config.replace(ours, theirs)
    (home / "dagster.yaml").write_text(config)
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    key = Fernet.generate_key().decode()
    port = _free_port()
    with running_sandbox(fast_config(tenants=2, size="small")) as sandbox:
        first, second = (t["tenant_id"] for t in sandbox.info["tenants"][:2])
        held = {"kind": "slow", "tenant": second, "path": "/Invoices", "delay_ms": 600_000}
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=held).raise_for_status()
        env = {
            **os.environ,
            **sandbox_connect.sandbox_env(sandbox.info, database_url, key),
            "XERO_ASSETS_MINUTE_SECONDS": str(WINDOW_S),
            "DAGSTER_HOME": str(home),
        }
        dagster = Path(sys.executable).with_name("dagster")
        log_path = tmp_path / "dagster_dev.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-p", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        stores: dict[str, TokenStore] = {}
        try:
            app = sandbox_connect.sandbox_app_config(sandbox.info)
            for tenant in (first, second):  # while dagster dev starts: its sensor has never seen either
                stores[tenant] = sandbox_connect.open_token_store(app, database_url, key)
                sandbox_connect.consent(stores[tenant], tenant_ids=[tenant])
            _wait("dagster dev", lambda: _answers(f"http://127.0.0.1:{port}/server_info"), 120)
            yield DagsterDev(sandbox, home, database_url, log_path, stores)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # the group holds every run and step process too
            process.wait(30)
            log.close()
            for store in stores.values():
                store.close()


DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def test_new_consent_becomes_a_partition_and_a_successful_initial_sync_under_dagster_dev(
    dagster_dev: DagsterDev,
) -> None:
    tenant = dagster_dev.sandbox.info["tenants"][0]["tenant_id"]
    instance = dagster_dev.instance()
    _wait(
        "the sensor to add the partition",
        lambda: tenant in instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME),
        120,
    )
    _wait("the initial sync run to finish", lambda: any(r.status in DONE for r in dagster_dev.runs_of(tenant)), 240)
    [run] = dagster_dev.runs_of(tenant)
    assert run.status == dg.DagsterRunStatus.SUCCESS, dagster_dev.tail()
    assert run.tags.get("xero_assets/initial_sync") == "true"
    warehouse = Warehouse(make_engine(dagster_dev.database_url))
    synced = Synced(dagster_dev.sandbox, dagster_dev.stores[tenant], None, warehouse)  # type: ignore[arg-type]
    assert_matches_truth(synced, tenant)


def test_a_killed_run_is_marked_failed_by_the_daemon_and_the_tenant_syncs_again(dagster_dev: DagsterDev) -> None:
    """The run's process is killed mid-sync (-9, as the OOM killer would): run monitoring marks it failed within a
    poll instead of leaving it STARTED for hours, stops the step process it left behind, which frees the tenant's
    queue and the run's pool slot, and run_retries syncs the tenant again.

    The code server that launched the run also notices the death of its own child, within half a second, and fails
    the run itself: run monitoring exists for the cases it cannot see (it restarted, crashed or hangs). To prove run
    monitoring and nothing else, the code server is paused (SIGSTOP) from just before the kill until the run is
    failed. Without the pause the two race, and whichever wins writes the failure: the cause of this test's flakes
    under load, when it asserted the last failure event was the daemon's.
    """
    sandbox = dagster_dev.sandbox
    tenant = sandbox.info["tenants"][1]["tenant_id"]
    faults = f"{sandbox.base_url}/_sandbox/faults"
    instance = dagster_dev.instance()

    def mid_sync() -> tuple[str, int, int] | None:
        """The run, its process and its sync step's process, once the step waits inside the held Invoices call."""
        if not any(rule["hits"] for rule in httpx.get(faults).json()["rules"]):
            return None
        for run in dagster_dev.runs_of(tenant):
            pid = run_process_id(instance, run.run_id)
            steps = list(step_process_ids(instance, run.run_id))
            if run.status == dg.DagsterRunStatus.STARTED and pid is not None and len(steps) == 1:
                return run.run_id, pid, steps[0]
        return None

    run_id, pid, step_pid = _wait("the initial sync to be held in its Invoices call", mid_sync, 240)
    code_server = int(_stat(pid)[1])
    os.kill(code_server, signal.SIGSTOP)
    try:
        _wait("the code server to pause", lambda: _stat(code_server)[0] == "T", 10)
        os.kill(pid, signal.SIGKILL)
        _wait(
            "run monitoring to fail the killed run",
            lambda: instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE,  # type: ignore[union-attr]
            25,  # inside the code server's heartbeat timeout (30 s by default), past which a paused one shuts down
        )
    finally:
        os.kill(code_server, signal.SIGCONT)
    failures = [
        e.dagster_event.message or ""
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.PIPELINE_FAILURE)
        if e.dagster_event is not None
    ]
    assert len(failures) == 1 and f"process {pid} is gone" in failures[0], (failures, dagster_dev.tail())
    assert f"stopped the step processes it left behind: {step_pid}" in failures[0], failures
    # killed with -9 before the run was failed, but a process in the middle of a disk write dies when it returns
    _wait(
        "the killed run's step process to be gone (not syncing beside the retry)",
        lambda: not process_alive(step_pid),
        10,
    )
    httpx.delete(faults).raise_for_status()
    _wait(
        "the retried run to finish",
        lambda: any(r.run_id != run_id and r.status in DONE for r in dagster_dev.runs_of(tenant)),
        240,
    )
    [retry] = [r for r in dagster_dev.runs_of(tenant) if r.run_id != run_id]
    assert retry.status == dg.DagsterRunStatus.SUCCESS, dagster_dev.tail()
    assert retry.tags.get("dagster/parent_run_id") == run_id
    warehouse = Warehouse(make_engine(dagster_dev.database_url))
    assert_matches_truth(Synced(sandbox, dagster_dev.stores[tenant], None, warehouse), tenant)  # type: ignore[arg-type]
    _wait(
        "the killed run's xero_api pool slot to be given back",
        lambda: run_id not in instance.event_log_storage.get_concurrency_info("xero_api").active_run_ids,
        30,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


pytestmark = pytest.mark.timeout(600)
