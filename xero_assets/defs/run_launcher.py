"""The run launcher for a single machine: Dagster's DefaultRunLauncher plus a health check of the run's process.

The DefaultRunLauncher does not tell the run-monitoring daemon whether a run's process is alive, so a run whose
process died (killed, OOM, a reboot) stayed STARTED until `max_runtime_seconds` (hours), holding its tenant's place
under the one-run-per-tenant limit. Here the run's process id (from its "Started process for run" event) is checked:
a process that is gone, or a zombie, fails the run within one monitoring poll, and `run_retries` starts it again.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus


def run_process_id(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid Dagster recorded for the run's process, or None before it has started."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith("Started process for run"):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(str(pid.value))
    return None


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by its parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): the signal check above is all there is
        return True


class LocalRunLauncher(DefaultRunLauncher):
    """Launches runs like DefaultRunLauncher and lets run monitoring see when a run's process has died."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid = run_process_id(self._instance, run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run's process has not reported yet")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is running")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process {pid} is gone (killed or crashed)")
