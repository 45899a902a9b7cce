"""The run launcher for a single machine: Dagster's DefaultRunLauncher plus a health check of the run's process.

The DefaultRunLauncher does not tell the run-monitoring daemon whether a run's process is alive, so a run whose
process died (killed, OOM, a reboot) stayed STARTED until `max_runtime_seconds` (hours), holding its tenant's place
under the one-run-per-tenant limit. Here the run's process id (from its "Started process for run" event) is checked:
a process that is gone, or a zombie, fails the run within one monitoring poll, and `run_retries` starts it again.

The code server that started a run notices its death too (within a second), but only while that same code server is
up: run monitoring is what covers a code server that restarted, crashed or is hung.

A run's steps run in their own processes (Dagster's multiprocess executor), and a step does not die with the run's
process: left alone, the step of a killed run would go on syncing its tenant beside the retried run, which is exactly
the race the one-run-per-tenant limit exists to prevent. So before the run is reported failed, the step processes it
left behind are killed (-9: the sync resumes from its cursors, and the warehouse's transactions roll back).
"""

from __future__ import annotations

import os
import signal
import time

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

# How far a process's start, read from /proc in clock ticks, may lie after the event its process wrote about itself:
# more than this and the pid has been reused by another process, which must not be killed.
_START_SLACK_S = 1.0


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


def step_process_ids(instance: dg.DagsterInstance, run_id: str) -> dict[int, float]:
    """The pids of the run's step processes, each with the time its process reported that it started."""
    found: dict[int, float] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED):
        if entry.dagster_event is not None and entry.dagster_event.pid is not None:
            found.setdefault(entry.dagster_event.pid, entry.timestamp)
    return found


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


def process_started_at(pid: int) -> float | None:
    """When `pid` started (a Unix time), from /proc; None when it is gone or there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[-1].split()[19])  # field 22, starttime, in ticks since boot
        with open("/proc/uptime") as uptime:
            since_boot = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))


def stop_left_behind_steps(instance: dg.DagsterInstance, run_id: str) -> list[int]:
    """Kill the run's step processes that outlived its run process; the pids killed.

    A pid counts as the step's only if its process started no later than the step reported itself: a later start
    means the pid was reused, and without /proc (no start time to compare) nothing is killed.
    """
    stopped = []
    for pid, reported_at in step_process_ids(instance, run_id).items():
        started = process_started_at(pid)
        if started is None or started > reported_at + _START_SLACK_S or not process_alive(pid):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        stopped.append(pid)
    return stopped


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
        message = f"the run's process {pid} is gone (killed or crashed)"
        stopped = stop_left_behind_steps(self._instance, run.run_id)
        if stopped:
            message += f"; stopped the step processes it left behind: {', '.join(map(str, stopped))}"
        return CheckRunHealthResult(WorkerStatus.FAILED, message)
