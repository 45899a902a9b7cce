"""`sync --all` runs tenants in parallel up to the configured number: the loop on its own (real threads), and real
materializations of several sandbox tenants at once on one Dagster instance."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from xero_assets.fleet import MAX_PARALLEL_ENV, for_each_tenant, max_parallel_tenants
from xero_assets.runner import materialize_tenant
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import connect, fast_config
from xero_assets_tests.sync.test_assets import resources_for


def test_at_most_the_configured_number_run_at_once_and_results_keep_their_order() -> None:
    lock = threading.Lock()
    running, peak = 0, 0
    done_order: list[int] = []

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n * n

    results = for_each_tenant(list(range(10)), work, max_parallel=3, on_done=lambda n, _: done_order.append(n))
    assert results == [n * n for n in range(10)]
    assert peak == 3
    assert sorted(done_order) == list(range(10))


def test_one_tenants_exception_does_not_stop_the_others() -> None:
    finished: list[str] = []

    def work(tenant: str) -> str:
        if tenant == "bad":
            raise RuntimeError("bad tenant")
        time.sleep(0.01)
        finished.append(tenant)
        return tenant

    with pytest.raises(RuntimeError, match="bad tenant"):
        for_each_tenant(["a", "bad", "b", "c"], work, max_parallel=2)
    assert sorted(finished) == ["a", "b", "c"]


def test_the_number_comes_from_the_environment_and_a_bad_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_PARALLEL_ENV, "12")
    assert max_parallel_tenants() == 12
    monkeypatch.setenv(MAX_PARALLEL_ENV, "lots")
    with pytest.raises(ValueError, match="XERO_ASSETS_MAX_PARALLEL_TENANTS='lots'"):
        max_parallel_tenants()


def test_tenants_materialize_in_parallel_into_one_dagster_home(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # as `sync --all` runs it: each tenant opens the instance
    with running_sandbox(fast_config(tenants=2, size="small", seed=5)) as handle:
        synced = connect(handle, sqlite_url)
        overrides = resources_for(synced)
        tenants = sorted(synced.connections)
        dg.DagsterInstance.get()  # as run_sync does: the storage exists before the threads open it
        runs = for_each_tenant(
            tenants,
            lambda t: materialize_tenant(t, select=["currencies"], resource_overrides=overrides),
            max_parallel=2,
        )
        synced.close()
    assert [run.tenant_id for run in runs] == tenants
    assert all(run.success for run in runs), [run.error for run in runs]
    assert all(set(run.assets) == {"xero/currencies"} for run in runs)
    instance = dg.DagsterInstance.get()
    assert len(instance.get_runs()) == 2
    assert {r.tags["dagster/partition"] for r in instance.get_runs()} == set(tenants)
