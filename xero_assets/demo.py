"""`xero-assets demo`: the whole product on one machine, with no Xero account.

Starts the sandbox (an emulated Xero) on a background thread, generates a token-encryption key file readable by its
owner only, connects N organisations through the real OAuth flow (authorize request with state and PKCE, the
sandbox's consent, code exchange, GET /connections, encrypted token store), syncs each tenant with the same
Dagster assets the UI runs, builds the datasets, checks the warehouse against the sandbox's books and prints a
summary. Without --no-ui it then serves Dagster's UI (`dagster dev`), where the sensor and "Materialize" work on
the same sandbox, until Ctrl-C.

Everything lives under ./.xero_assets/demo (SQLite warehouse and token store, key, Dagster home), recreated on each
run because the sandbox's tokens die with it. The sandbox's minute window is shortened (DEMO_MINUTE_SECONDS) so the
demo runs in seconds; the client is told the same, so it paces exactly as it would against Xero's real minute.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from xero_assets import sandbox_connect
from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
from xero_assets.store.db import DEFAULT_DATA_DIR, make_engine
from xero_assets.store.warehouse import Warehouse

DEMO_DIR = DEFAULT_DATA_DIR / "demo"
DEMO_MINUTE_SECONDS = 2.0
PROJECT_ROOT = Path(__file__).resolve().parents[1]
UI_PORT = 3000

console = Console()


def write_secret_key(path: Path) -> str:
    """A new Fernet key in `path`, created with mode 0600 (never readable by other users, even briefly)."""
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    return key


def prepare_dir(root: Path) -> Path:
    """A fresh demo directory with a Dagster home that uses the project's dagster.yaml."""
    if root.exists():
        shutil.rmtree(root)
    home = root / "dagster_home"
    home.mkdir(parents=True)
    if (PROJECT_ROOT / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return root


def matches_books(sandbox: SandboxHandle, warehouse: Warehouse, tenant_id: str) -> tuple[int, int]:
    """(records in the warehouse, records that differ from the sandbox's books) over every record API."""
    import httpx

    truth = httpx.get(f"{sandbox.base_url}/_sandbox/truth/{tenant_id}", timeout=60).json()["collections"]
    stored = differ = 0
    for api, expected in truth.items():
        have = warehouse.record_versions(tenant_id, api)
        stored += len(have)
        differ += len(set(expected) ^ set(have))
    return stored, differ


def run_demo(no_ui: bool, size: str, tenants: int, root: Path = DEMO_DIR) -> int:
    """Run the demo; returns the number of tenants synced (the CLI ignores it, tests check it)."""
    from xero_assets.runner import materialize_tenant

    started = time.perf_counter()
    root = prepare_dir(root)
    key = write_secret_key(root / "secret.key")
    database_url = f"sqlite:///{(root / 'warehouse.db').resolve()}"
    config = SandboxConfig(tenants=tenants, size=size, minute_window_s=DEMO_MINUTE_SECONDS)
    console.print(f"[bold]xero-assets demo[/bold]: {tenants} {size} organisations in an emulated Xero")
    with running_sandbox(config) as sandbox:
        env = sandbox_connect.sandbox_env(sandbox.info, database_url, key)
        home = str((root / "dagster_home").resolve())
        env |= {"XERO_ASSETS_MINUTE_SECONDS": str(DEMO_MINUTE_SECONDS), "DAGSTER_HOME": home}
        os.environ.update(env)
        store = sandbox_connect.open_token_store(sandbox_connect.sandbox_app_config(sandbox.info), database_url, key)
        try:
            connections = sandbox_connect.consent(store)
        finally:
            store.close()
        console.print(f"Connected {len(connections)} organisations through OAuth (authorize, consent, code exchange)")
        instance = dg.DagsterInstance.get()
        warehouse = Warehouse(make_engine(database_url))
        table = Table(title="Synced into the warehouse")
        for column in ("organisation", "assets", "API calls", "records", "vs sandbox", "seconds"):
            table.add_column(column, justify="left" if column == "organisation" else "right", no_wrap=True)
        failures = 0
        for connection in connections:
            t0 = time.perf_counter()
            with console.status(f"syncing {connection.tenant_name} ..."):
                run = materialize_tenant(connection.tenant_id, instance=instance)
            calls = sum(int(meta.get("api_calls") or 0) for meta in run.assets.values())
            stored, differ = matches_books(sandbox, warehouse, connection.tenant_id)
            failures += 0 if run.success else 1
            table.add_row(
                connection.tenant_name,
                str(len(run.assets)),
                str(calls),
                str(stored),
                "[green]equal[/green]" if differ == 0 else f"[red]{differ} differ[/red]",
                f"{time.perf_counter() - t0:.1f}",
            )
            if not run.success:
                console.print(f"[red]{connection.tenant_name} failed:[/red] {run.error}")
        console.print(table)
        console.print(f"Datasets: ds_* tables (AR/AP ageing, P&L and cash by month, KPIs, MRR) in {database_url}")
        console.print(f"Done in {time.perf_counter() - started:.1f} s.")
        if failures:
            raise SystemExit(1)
        if not no_ui:
            serve_ui(env, sandbox.base_url)
    return len(connections)


def serve_ui(env: dict[str, str], sandbox_url: str) -> None:
    """`dagster dev` on the same warehouse and sandbox until Ctrl-C (the sandbox lives in this process)."""
    command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml", "-p", str(UI_PORT)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True)
    console.print(f"Dagster UI:      http://127.0.0.1:{UI_PORT}  (assets xero/* per tenant, sensor xero_tenant_sensor)")
    console.print(f"Sandbox (Xero):  {sandbox_url}  (control API under /_sandbox/)")
    console.print("Ctrl-C stops both.")
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # dagster dev ignores signals when headless; its group goes
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
