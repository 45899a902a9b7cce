"""`xero-assets sync`: materialize a tenant's assets in-process, with progress, a summary table and one last line.

In-process `dg.materialize` (tens of milliseconds of overhead) rather than launching a run through a daemon (seconds),
on the Dagster instance in DAGSTER_HOME when set (so the runs show up in the UI) or an ephemeral one. It is the same
multi-asset the UI's "Materialize" runs, so the CLI and the UI cannot drift apart.

Before anything is written (a partition, a run) the command checks what it can: the database answers, the key
decrypts the stored tokens, `--select` names catalog APIs and the tenant is connected. After the run the last line
says, per tenant, what happened and what to do; the exit code classifies it (`xero_assets.exit_codes`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xero_assets import exit_codes
from xero_assets.definitions import defs, resources
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME, organisation_tags
from xero_assets.defs.raw import raw_key
from xero_assets.fleet import for_each_tenant, max_parallel_tenants
from xero_assets.preflight import check_select, reconnect_line, sync_targets
from xero_assets.store.tokens import Connection

# A terminal's own width; with no terminal (a cron job's mail, a CI log, a pipe) 160 columns rather than rich's 80,
# at which the summary table cut API names and statuses to "xero/bank_t…" (COLUMNS, when set, still wins).
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)

DASHBOARDS = dg.AssetSelection.groups("dashboards")


@dataclass
class TenantRun:
    """One tenant's materialization: each asset's metadata and, when the sync failed, why (from the step's Failure)."""

    tenant_id: str
    success: bool
    assets: dict[str, dict[str, Any]]
    error: str | None = None
    tenant_name: str = ""
    failed: dict[str, str] = field(default_factory=dict)  # API -> our message
    reconnect: str | None = None  # the connection's status when only reconnecting helps
    datasets_built: bool = False
    not_started: list[str] = field(default_factory=list)  # APIs a tenant-wide stop left unread

    @property
    def label(self) -> str:
        return f"{self.tenant_name} ({self.tenant_id})" if self.tenant_name else self.tenant_id

    def statuses(self, prefix: str) -> dict[str, str]:
        """{API: status} of the raw APIs whose status starts with `prefix` (skipped, paused ...)."""
        return {
            key.split("/", 1)[-1]: str(meta["status"])
            for key, meta in self.assets.items()
            if key.startswith("xero/") and str(meta.get("status", "")).startswith(prefix)
        }


# Dagster's compute-log capture redirects the process's stdout and stderr through `tail -F` children. Threads (`sync
# --all`) interleave those redirections, and tails outlived the CLI holding its stdout, so `xero-assets sync --all |
# tee log` hung after the sync was done. The CLI prints its own progress and Dagster's event log keeps every step's
# messages, so CLI runs capture nothing; runs the daemon and the UI launch keep the instance's own compute logs.
NO_CAPTURE = {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}


def cli_instance() -> dg.DagsterInstance:
    """The instance CLI runs record to: DAGSTER_HOME's (so the runs show in the UI) without compute-log capture, or an
    ephemeral one when DAGSTER_HOME is unset."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    # InstanceRef is not exported by `dagster`; from_dir with overrides is how dagster's own instance loading works.
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home, overrides={"compute_logs": NO_CAPTURE}))


def selection_for(select: Sequence[str] | None) -> list[dg.AssetKey] | None:
    """Asset keys for `--select` API names (an unknown one is bad usage, exit 2), or None for every asset."""
    names = check_select(select)
    return [raw_key(name) for name in names] if names else None


def _run_config(full_refresh: bool, allow_mass_delete: bool, debug: bool) -> dict[str, Any]:
    # Without --debug, Dagster's console logger stays silent: its step failures carry tracebacks, which stay in
    # Dagster's event log; the summary table and the last line say what happened.
    level = "DEBUG" if debug else "CRITICAL"
    return {
        "ops": {"xero_sync": {"config": {"full_refresh": full_refresh, "allow_mass_delete": allow_mass_delete}}},
        "loggers": {"console": {"config": {"log_level": level}}},
    }


def _failure_metadata(result: dg.ExecuteInProcessResult) -> tuple[str | None, dict[str, Any]]:
    """The first failed step's message and the metadata our dg.Failure attached (failed APIs, reconnect)."""
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.step_failure_data
        user = data.user_failure_data if data is not None else None
        if user is None:
            message = data.error.message.strip() if data is not None and data.error is not None else event.message
            return message, {}
        return user.description, {k: v.value for k, v in user.metadata.items()}
    return None, {}


def run_tags(tenant_name: str) -> dict[str, str]:
    """A CLI run's tags: where it came from, and the organisation's name, which Dagster's run list shows and filters
    by (as it does for the runs the sensors and the Integrations page start)."""
    return {"xero_assets/source": "cli", **organisation_tags(tenant_name)}


def _materialize(
    tenant_id: str,
    instance: dg.DagsterInstance,
    selection: Any,
    run_config: dict[str, Any],
    overrides: dict[str, Any],
    tenant_name: str = "",
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(defs.assets or []),
        partition_key=tenant_id,
        instance=instance,
        resources={**resources(), **overrides},
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
        tags=run_tags(tenant_name),
    )


def materialize_tenant(
    tenant_id: str,
    *,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
    allow_mass_delete: bool = False,
    instance: dg.DagsterInstance | None = None,
    resource_overrides: dict[str, Any] | None = None,
    tenant_name: str = "",
    debug: bool = False,
) -> TenantRun:
    """Materialize one tenant's partition (every asset, or the selected raw APIs) and collect the metadata.

    When some API fails, its step fails and Dagster skips what is downstream of it in that run; the datasets are
    then built in a second run from what is stored, so one failing API never costs the tenant its dashboards."""
    instance = instance or cli_instance()
    if not instance.has_dynamic_partition(TENANT_PARTITIONS_NAME, tenant_id):
        instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant_id])
    keys = selection_for(select)
    config = _run_config(full_refresh, allow_mass_delete, debug)
    overrides = resource_overrides or {}
    result = _materialize(tenant_id, instance, keys, config, overrides, tenant_name)
    events = list(result.get_asset_materialization_events())
    error, failure = (None, {}) if result.success else _failure_metadata(result)
    wants_datasets = keys is None
    built = wants_datasets and result.success
    if wants_datasets and not result.success:
        rebuild = _materialize(tenant_id, instance, DASHBOARDS, {"loggers": config["loggers"]}, overrides, tenant_name)
        events += rebuild.get_asset_materialization_events()
        built = rebuild.success
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in events
        if event.asset_key is not None
    }
    return TenantRun(
        tenant_id,
        result.success,
        metadata,
        error,
        tenant_name=tenant_name,
        failed=dict(failure.get("failed_apis") or {}),
        reconnect=failure.get("reconnect"),
        datasets_built=built,
        not_started=list(failure.get("not_started") or ()),
    )


def unread_apis(run: TenantRun) -> dict[str, str]:
    """{API: status} of the APIs that stored nothing this run: `failed`, or `not started (why)` for those a
    tenant-wide stop (connection removed at Xero, refused refresh) never began, so the table still lists every API
    the run was to sync."""
    unread = {api: "failed" for api in run.failed}
    stopped_by = run.reconnect or "the tenant's sync stopped"
    for api in run.not_started:
        if f"xero/{api}" not in run.assets:
            unread.setdefault(api, f"not started ({stopped_by})")
    return unread


def summary_table(run: TenantRun) -> Table:
    """One row per asset: status, rows inserted/updated/unchanged, calls, stored rows; failed and not started APIs
    too (rich markup escaped: a status may hold brackets)."""
    table = Table(title=f"tenant {run.label}", show_lines=False)
    for column in ("asset", "status", "inserted", "updated", "unchanged", "calls", "rows"):
        table.add_column(column, justify="left" if column in ("asset", "status") else "right")
    totals = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 0, "api_calls": 0, "dagster/row_count": 0}
    for key in sorted(run.assets):
        meta = run.assets[key]
        for name in totals:
            totals[name] += int(meta.get(name) or 0)
        table.add_row(key, escape(str(meta.get("status", "built"))), *(str(meta.get(name, "")) for name in totals))
    for api, status in sorted(unread_apis(run).items()):
        table.add_row(f"xero/{api}", f"[red]{escape(status)}[/red]", *("" for _ in totals))
    table.add_row("[bold]total", "", *(f"[bold]{value}" for value in totals.values()))
    return table


def _listed(statuses: dict[str, str], prefix: str) -> str:
    return ", ".join(f"{api} ({status.removeprefix(prefix).strip(': ')})" for api, status in sorted(statuses.items()))


def outcome_line(run: TenantRun) -> tuple[str, int]:
    """The one line a person can act on for this tenant, and its exit code."""
    if run.reconnect:
        return f"{run.label}: {run.reconnect}. {run.error}", exit_codes.RECONNECT
    datasets = "the datasets were built" if run.datasets_built else "the datasets were not built"
    if run.failed:
        api, reason = next(iter(sorted(run.failed.items())))
        more = f" (and {len(run.failed) - 1} more API(s), see the table)" if len(run.failed) > 1 else ""
        line = f"{run.label}: {api} failed{more}: {reason}. The other APIs synced and {datasets}."
        return line, exit_codes.API_FAILED
    if not run.success:
        return f"{run.label}: the sync failed: {run.error}", exit_codes.API_FAILED
    paused = run.statuses("paused")
    if paused:
        resets = sorted(str(m["paused_until"]) for m in run.assets.values() if m.get("paused_until"))
        at = f"{resets[-1][11:16]} UTC on {resets[-1][:10]}" if resets else "Xero's reset"
        return (
            f"{run.label}: Xero answered 429 (day limit reached); {len(paused)} API(s) paused: "
            f"{', '.join(sorted(paused)[:3])}{' ...' if len(paused) > 3 else ''}. Wait until the day limit resets at "
            f"{at}, then sync again; the rest synced and {datasets}.",
            exit_codes.API_FAILED,
        )
    synced = len(run.statuses("synced")) + len(run.statuses("unchanged"))
    line = f"{run.label}: {synced} API(s) synced"
    skipped = run.statuses("skipped")
    if skipped:
        line += f"; skipped: {_listed(skipped, 'skipped')}"
    malformed = [bad for meta in run.assets.values() for bad in meta.get("malformed_fields") or ()]
    if malformed:
        line += f"; {len(malformed)} field(s) could not be typed and are NULL, e.g. {malformed[0]}"
    return line + ("; the datasets were built." if run.datasets_built else "."), exit_codes.OK


def run_sync(
    tenant_id: str | None,
    select: Sequence[str] | None,
    full_refresh: bool,
    *,
    allow_mass_delete: bool = False,
    debug: bool = False,
) -> int:
    """The `xero-assets sync` command: one tenant (`--tenant`, id or name) or every connected one (`--all`).

    Returns the exit code; the caller prints nothing after the last line printed here."""
    selection_for(select)  # an unknown name is refused before anything else
    tenants, unusable = sync_targets(tenant_id)
    if not tenants and not unusable:
        console.print("No Xero connections: run `xero-assets connect` first.")
        return exit_codes.BAD_USAGE
    cli_instance()  # creates the instance's storage once, before each tenant's thread opens the instance itself
    lines: list[tuple[str, int]] = [(reconnect_line(c), exit_codes.RECONNECT) for c in unusable]

    def sync_one(connection: Connection) -> TenantRun:  # an instance per tenant: one instance is not thread-safe
        return materialize_tenant(
            connection.tenant_id, select=select, full_refresh=full_refresh, allow_mass_delete=allow_mass_delete,
            tenant_name=connection.tenant_name, debug=debug,
        )  # fmt: skip

    def done(connection: Connection, run: TenantRun) -> None:
        console.print(summary_table(run))
        lines.append(outcome_line(run))

    with console.status(f"syncing {len(tenants)} tenant(s), up to {max_parallel_tenants()} at once ..."):
        for_each_tenant(tenants, sync_one, on_done=done)
    return exit_codes.report(lines)
