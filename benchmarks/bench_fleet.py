"""A fleet of small organisations synced the production way: Dagster's instance on PostgreSQL (deploy/), the daemon
queueing every tenant's initial sync (the tenant sensor requests them), and the steps run by Celery workers over a
Redis broker, several workers on this machine standing in for several machines.

It reports runs per hour, Dagster's overhead per run (run time outside the sync step), API calls per tenant against
the minimum, peak memory per worker, and the fleet's time against the limit-bound time (the time Xero's limits alone
would force), and how the figures scale to 10,000 organisations.

The sandbox hosts every tenant in this process (small books of one generated shape per seed), with Xero's limits on
and the minute window shortened (--window, default 1 s: 60 calls a second per tenant, 10,000 per window per app), and
the runs are told the same window. Needs the `fleet` extra, PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379.

    python benchmarks/bench_fleet.py --tenants 40 --workers 3
    pytest -n 0 -m slow -s benchmarks/bench_fleet.py
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
import yaml
from bench_sync import step_times  # one reader of a run's step events for every benchmark
from cryptography.fernet import Fernet

from xero_assets import catalog, sandbox_connect
from xero_assets.defs.sensors import MAX_NEW_TENANTS_PER_TICK, xero_tenant_sensor
from xero_assets.sandbox.server import SandboxConfig, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import minimum_calls

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("XERO_ASSETS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("XERO_ASSETS_BENCH_REDIS", "redis://127.0.0.1:6379/9")
BIN = Path(sys.executable).parent
SANDBOX_PORT = 18150  # loopback only; the code server takes the next port
SHAPES = 8  # generated books the tenants share: two per country
SANDBOX = "sandbox (this process)"
WORKER = "Celery worker"
DAEMON = "daemon"
CODE_SERVER = "code server"
ISSUE_FLEET = 1_000  # the fleet the issue asks for
# The tenant sensor's cap: so many new tenants a tick, a tick at most every minimum_interval_seconds.
SENSOR_PER_MINUTE = MAX_NEW_TENANTS_PER_TICK * 60 // (xero_tenant_sensor.minimum_interval_seconds or 30)
PROGRESS_EVERY_S = 120
MINIMUM_SAMPLE = 5  # tenants whose minimum calls are computed when every tenant has books of its own
WORKERS = 3  # Celery worker slots: on 2 cores, enough to overlap one run's waits (pacing, the database) with another's


@dataclass
class FleetMeasure:
    tenants: int
    workers: int
    max_concurrent_runs: int
    fleet_seconds: float
    runs_succeeded: int
    run_seconds: list[float]
    step_seconds: list[float]
    calls: dict[str, int]
    minimum_per_tenant: float
    sandbox_429s: int
    peak_rss_mb: dict[str, float]
    window: float
    failures: list[str]
    shapes: int
    cpu_seconds: dict[str, float]  # by component: the sandbox, the workers, the daemon's host
    load: tuple[tuple[float, ...], tuple[float, ...]]  # os.getloadavg() at the start and at the end
    timed_out: bool  # the wait gave up with runs still queued or running
    requested_per_minute: float  # runs the tenant sensor created a minute, first to last

    def report(self) -> str:
        n = self.tenants
        runs_per_hour = self.runs_succeeded / self.fleet_seconds * 3600
        overhead = [r - s for r, s in zip(self.run_seconds, self.step_seconds, strict=False)]
        calls = sorted(self.calls.values())
        mean_calls = sum(calls) / max(len(calls), 1)
        # Limit-bound time: each tenant's calls at its best rate (60 a window), all tenants at once, unless the
        # app's 10,000 a window binds first.
        per_tenant_bound = max(calls, default=0) / 60 * self.window
        app_bound = sum(calls) / 10_000 * self.window
        limit_bound = max(per_tenant_bound, app_bound)
        per_worker_rate = runs_per_hour / self.workers
        cpu_per_run = {name: seconds / max(self.runs_succeeded, 1) for name, seconds in self.cpu_seconds.items()}
        cores = os.cpu_count() or 1
        lines = [
            f"fleet: {n} organisations (small books, {self.shapes or n} generated shapes shared read-only),"
            f" {self.workers} Celery workers running whole runs, at most {self.max_concurrent_runs} runs at once,"
            f" Dagster on PostgreSQL with the daemon's queue; {cores} cores",
            f"  load average (1, 5, 15 min) at start {_load(self.load[0])}, at end {_load(self.load[1])}",
            f"  tenants synced {self.runs_succeeded}/{n} in {self.fleet_seconds:.0f}s"
            f" ({len(self.failures)} runs failed; the daemon retries only runs whose process crashed):"
            f" {runs_per_hour:,.0f} runs/hour ({per_worker_rate:,.0f} per worker)",
            f"  run time: median {_median(self.run_seconds):.1f}s; sync and dataset steps median"
            f" {_median(self.step_seconds):.1f}s; Dagster overhead per run median {_median(overhead):.1f}s"
            " (run time outside the steps)",
            "  CPU per run: "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in cpu_per_run.items())
            + f" (PostgreSQL and Redis not counted); {sum(cpu_per_run.values()):.1f}s in all",
            f"  API calls per tenant: mean {mean_calls:.1f} (min {calls[0] if calls else 0}, max"
            f" {calls[-1] if calls else 0}) against a minimum of {self.minimum_per_tenant:.1f}"
            f" ({mean_calls / max(self.minimum_per_tenant, 1):.2f}x); 429s: {self.sandbox_429s}",
            *(f"  failed run: {failure}" for failure in self.failures),
            "  peak RSS: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(self.peak_rss_mb.items())),
            f"  fleet time {self.fleet_seconds:.0f}s against the limit-bound {limit_bound:.1f}s"
            f" ({self.fleet_seconds / max(limit_bound, 1e-9):.0f}x; Xero's minute shortened to {self.window:g}s):"
            " this machine's CPU, not Xero's limits, binds",
            *self._scaling(runs_per_hour, per_worker_rate, mean_calls, sum(cpu_per_run.values()), cores),
        ]
        return "\n".join(lines)

    def _scaling(
        self, runs_per_hour: float, per_worker_rate: float, mean_calls: float, cpu_per_run: float, cores: int
    ) -> list[str]:
        """How the measured rate carries to the issue's 1,000 and to 10,000 organisations."""
        lines = []
        if self.timed_out:
            lines.append(
                f"  STOPPED at the timeout: {self.tenants - self.runs_succeeded} of {self.tenants} tenants were not"
                " synced yet; the rates above are of the runs that finished"
            )
        if self.tenants != ISSUE_FLEET:
            lines.append(
                f"  NOTE: this was {self.tenants} organisations, not the issue's {ISSUE_FLEET:,}: at this rate"
                f" {ISSUE_FLEET:,} take {ISSUE_FLEET / max(runs_per_hour, 1e-9):.1f} hours on this machine"
            )
        # Xero's real limits for 10,000 first syncs: the app's 10,000 calls a minute binds (one tenant's calls at 60 a
        # minute take only mean_calls / 60 minutes), so all calls / 10,000 minutes.
        app_bound_minutes = 10_000 * mean_calls / 10_000
        needed_rate = 10_000 / (app_bound_minutes / 60)
        lines.append(
            f"  10,000 organisations: {10_000 / max(runs_per_hour, 1e-9):.1f} hours at this rate with {self.workers}"
            f" workers on {cores} cores; Xero's app limit alone allows them in {app_bound_minutes:.0f} minutes"
            f" ({needed_rate:,.0f} runs/hour), which takes about"
            f" {math.ceil(needed_rate / max(per_worker_rate, 1e-9))} workers of this speed, or"
            f" {math.ceil(needed_rate * cpu_per_run / 3600)} cores at {cpu_per_run:.1f} CPU seconds a run (idle"
            " cores; this machine was shared). The queue, PostgreSQL and Redis keep a row or a message per run;"
            f" the tenant sensor asks for at most {SENSOR_PER_MINUTE} initial syncs a minute and created"
            f" {self.requested_per_minute:.0f} a minute here, so 10,000 are queued within"
            f" {10_000 / max(min(SENSOR_PER_MINUTE, self.requested_per_minute), 1e-9):.0f} minutes at that pace"
        )
        return lines


def _load(load: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


@contextmanager
def _database(name: str) -> Iterator[str]:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _dagster_yaml(max_concurrent_runs: int) -> str:
    """deploy/dagster.postgres.yaml with deploy/celery_run_launcher.yaml's run launcher, as that file says to do."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    config.update(yaml.safe_load((ROOT / "deploy" / "celery_run_launcher.yaml").read_text()))
    config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    config["sensors"] = {"use_threads": True, "num_workers": 2}
    return yaml.safe_dump(config, sort_keys=False)


class ProcessSampler:
    """Peak RSS and CPU seconds of each watched process tree, sampled every half second.

    A tree's CPU is the last reading of every process seen in it (a process that exits loses at most its last half
    second), so per-run CPU can be split between the sandbox, the workers and the daemon's host.
    """

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.watched: dict[str, psutil.Process] = {}
        self._cpu: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self.watched[name] = psutil.Process(pid)
        self._cpu[name] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def cpu_seconds(self, prefix: str) -> float:
        """CPU seconds of every watched tree whose name starts with `prefix`."""
        return sum(sum(pids.values()) for name, pids in self._cpu.items() if name.startswith(prefix))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        for name, process in list(self.watched.items()):
            try:
                tree = [process, *process.children(recursive=True)] if process.pid != os.getpid() else [process]
                rss = []
                for member in tree:
                    times = member.cpu_times()
                    self._cpu[name][member.pid] = times.user + times.system
                    rss.append(member.memory_info().rss)
            except psutil.Error:
                continue
            # A Celery worker: its largest pool process runs the run; elsewhere the tree's processes add up.
            mb = (max(rss) if name.startswith("Celery worker") else sum(rss)) / 1e6
            self.peaks[name] = max(self.peaks.get(name, 0.0), mb)


def _flush_broker() -> None:
    subprocess.run(["redis-cli", "-n", REDIS_URL.rsplit("/", 1)[1], "FLUSHDB"], check=False, capture_output=True)


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def run_fleet(
    tenants: int, workers: int, max_concurrent_runs: int, window: float, timeout: float, shapes: int = SHAPES,
    port: int = SANDBOX_PORT,
) -> FleetMeasure:  # fmt: skip
    suffix = uuid.uuid4().hex[:8]
    code_port = port + 1
    home = Path(tempfile.mkdtemp(prefix="fleet_dagster_home_"))
    config = SandboxConfig(
        tenants=tenants, size="small", seed=3, minute_window_s=window, day_limit=1_000_000, shapes=shapes
    )
    processes: list[subprocess.Popen[Any]] = []
    sampler = ProcessSampler()
    load_at_start = os.getloadavg()
    with (
        _database(f"fleet_dagster_{suffix}") as dagster_url,
        _database(f"fleet_warehouse_{suffix}") as warehouse_url,
        running_sandbox(config, port=port) as sandbox,
    ):
        sampler.watch(SANDBOX, os.getpid())
        key = Fernet.generate_key().decode()
        store = sandbox_connect.open_token_store(sandbox_connect.sandbox_app_config(sandbox.info), warehouse_url, key)
        connections = sandbox_connect.consent(store)
        store.close()
        (home / "dagster.yaml").write_text(_dagster_yaml(max_concurrent_runs))
        pg = sa.engine.make_url(dagster_url)
        env = {
            **os.environ,
            **sandbox_connect.sandbox_env(sandbox.info, warehouse_url, key),
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": pg.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(pg.port or 5432),
            "DAGSTER_PG_USER": pg.username or "postgres",
            "DAGSTER_PG_PASSWORD": pg.password or "",
            "DAGSTER_PG_DB": pg.database or "",
            "XERO_ASSETS_EXECUTOR": "in_process",
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_RESULT_BACKEND": REDIS_URL,
            "XERO_ASSETS_MINUTE_SECONDS": str(window),
            "DAGSTER_GRPC_TIMEOUT_SECONDS": "300",  # a busy machine can take over a minute to answer
            "XERO_ASSETS_CODE_SERVER_HOST": "127.0.0.1",
            "XERO_ASSETS_CODE_SERVER_PORT": str(code_port),
        }
        _flush_broker()
        try:
            for n in range(workers):
                worker = subprocess.Popen(
                    [str(BIN / "celery"), "-A", "xero_assets.celery_app", "worker", "-Q", "dagster", "-c", "1",
                     "-n", f"fleet{n}-{suffix}@%h", "-l", "WARNING", "--without-gossip", "--without-mingle"],
                    cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                processes.append(worker)
                sampler.watch(f"{WORKER} {n}", worker.pid)
            code_server = subprocess.Popen(
                [str(BIN / "dagster"), "code-server", "start", "-m", "xero_assets.definitions", "-d", str(ROOT),
                 "-h", "127.0.0.1", "-p", str(code_port), "--location-name", "xero_assets"],
                cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            processes.append(code_server)
            sampler.watch(CODE_SERVER, code_server.pid)
            started = time.monotonic()
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "deploy" / "workspace.yaml")],
                cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            processes.append(daemon)
            sampler.watch(DAEMON, daemon.pid)
            sampler.start()
            finished = _wait_for_runs(home, env, tenants, started, timeout)
            fleet_seconds = time.monotonic() - started
        finally:
            sampler.stop()
            for process in reversed(processes):
                _stop(process)
            _flush_broker()  # the benchmark's own Redis database: queued tasks and results of this run only
        stats = httpx.get(f"{sandbox.base_url}/_sandbox/stats", timeout=30).json()
        warehouse = Warehouse(make_engine(warehouse_url))
        # One tenant of each shared shape: the tenants spread over the shapes evenly, so this is the fleet's mean.
        sampled = [c.tenant_id for c in connections[: shapes or MINIMUM_SAMPLE]]
        minimum = _minimum_per_tenant(sandbox.base_url, warehouse, sampled)
        warehouse.engine.dispose()
        run_seconds, step_seconds, succeeded, failures, timed_out, requested_per_minute = finished
    shutil.rmtree(home, ignore_errors=True)
    calls = {tenant: count for tenant, count in stats["by_tenant"].items()}
    cpu = {name: sampler.cpu_seconds(name) for name in (SANDBOX, WORKER, DAEMON, CODE_SERVER)}
    return FleetMeasure(
        tenants, workers, max_concurrent_runs, fleet_seconds, succeeded, run_seconds, step_seconds, calls, minimum,
        sum(stats["rate_limited"].values()), sampler.peaks, window, failures, shapes, cpu,
        (load_at_start, os.getloadavg()), timed_out, requested_per_minute,
    )  # fmt: skip


def _wait_for_runs(
    home: Path, env: dict[str, str], tenants: int, started: float, timeout: float
) -> tuple[list[float], list[float], int, list[str], bool, float]:
    """Poll the instance until every tenant's initial sync has finished or `timeout` passed; (run seconds, step
    seconds, successes, failure messages, whether it timed out, runs the sensor created a minute)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import dagster as dg

        instance = dg.DagsterInstance.get()
        done_statuses = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
        not_done = [status for status in dg.DagsterRunStatus if status not in done_statuses]
        next_progress = started + PROGRESS_EVERY_S
        timed_out = False
        while True:
            # A run whose launch failed is retried by the daemon as a new run (run_retries in the deploy yaml): a
            # tenant is done once one of its runs succeeded, the fleet once no run is left queued or running.
            # Counts only while waiting: reading a thousand runs every few seconds would load the machine measured.
            synced = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
            in_progress = instance.get_runs_count(dg.RunsFilter(statuses=not_done))
            if synced >= tenants or (synced and not in_progress and time.monotonic() - started > 120):
                break
            timed_out = time.monotonic() - started > timeout
            if timed_out:
                break
            if time.monotonic() >= next_progress:
                elapsed = time.monotonic() - started
                print(
                    f"  {elapsed:5.0f}s: {synced}/{tenants} synced, {in_progress} queued or running,"
                    f" load average {_load(os.getloadavg())}",
                    flush=True,
                )
                next_progress += PROGRESS_EVERY_S
            time.sleep(3)
        records = instance.get_run_records()
        run_seconds, step_seconds, succeeded, failures = [], [], 0, []
        for record in records:
            if record.dagster_run.status not in done_statuses:
                continue
            if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS or not record.start_time:
                failures.append(_failure(instance, record.dagster_run.run_id))
                continue
            succeeded += 1
            run_seconds.append((record.end_time or record.start_time) - record.start_time)
            step_seconds.append(_step_seconds(instance, record.dagster_run.run_id))
        instance.dispose()
        created = sorted(record.create_timestamp.timestamp() for record in records)
        requested_per_minute = len(created) / max(created[-1] - created[0], 1.0) * 60 if created else 0.0
        return run_seconds, step_seconds, succeeded, failures, timed_out, requested_per_minute
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _failure(instance: Any, run_id: str) -> str:
    """The first failure message of a run that did not succeed."""
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.is_failure:
            return f"{run_id[:8]}: {(event.message or entry.user_message or '')[:300]}"
    return f"{run_id[:8]}: no failure event (status {instance.get_run_by_id(run_id).status})"


def _step_seconds(instance: Any, run_id: str) -> float:
    """Seconds inside the run's steps (first step start to last step end): the sync itself."""
    steps = step_times(instance, run_id).values()
    return (max(end for _, end in steps) - min(start for start, _ in steps)) if steps else 0.0


def _minimum_per_tenant(base_url: str, warehouse: Warehouse, tenants: list[str]) -> float:
    """The fewest calls a full read of every API the tenant's country has takes (from the sandbox's truth)."""
    totals = []
    for tenant in tenants:
        truth = httpx.get(f"{base_url}/_sandbox/truth/{tenant}", timeout=60).json()
        counts, country = truth["counts"], truth["country"]
        total = 0
        for api in catalog.SYNCABLE:
            if api.endpoint_for(country) is None:
                continue
            total += minimum_calls(
                api, country, counts.get(api.name, 0), employees=counts.get("payroll_employees", 0),
                outstanding_contacts=len(warehouse.outstanding_contacts(tenant, _aged_kind(api.name))) if
                _aged_kind(api.name) else 0, published_reports=warehouse.count(tenant, "tax_reports"),
            )  # fmt: skip
        totals.append(total)
    return sum(totals) / max(len(totals), 1)


def _aged_kind(api_name: str) -> str:
    return {"aged_receivables_by_contact": "ACCREC", "aged_payables_by_contact": "ACCPAY"}.get(api_name, "")


@pytest.mark.slow
def test_a_fleet_of_small_organisations_through_the_daemon_and_celery_workers() -> None:
    tenants = int(os.environ.get("XERO_ASSETS_BENCH_FLEET_TENANTS", "12"))
    measure = run_fleet(tenants=tenants, workers=WORKERS, max_concurrent_runs=WORKERS, window=1.0, timeout=1800)
    print("\n" + measure.report())
    assert measure.runs_succeeded == tenants
    assert measure.sandbox_429s == 0
    assert min(measure.calls.values()) >= measure.minimum_per_tenant * 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=30)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--max-concurrent-runs", type=int, default=None, help="default: one per worker")
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--shapes", type=int, default=SHAPES, help="generated books shared by the tenants (0: none)")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT)
    args = parser.parse_args()
    measure = run_fleet(
        args.tenants, args.workers, args.max_concurrent_runs or args.workers, args.window, args.timeout, args.shapes,
        args.port,
    )  # fmt: skip
    print(measure.report())


if __name__ == "__main__":
    main()
