"""`xero-assets demo`: the whole product on one machine, with no Xero account.

Starts the sandbox (an emulated Xero) on a background thread, generates a token-encryption key file readable by its
owner only, connects N organisations through the real OAuth flow (authorize request with state and PKCE, the
sandbox's consent, code exchange, GET /connections, encrypted token store), syncs each tenant with the same
Dagster assets the UI runs, builds the datasets, checks the warehouse against the sandbox's books and prints a
summary. Without --no-ui it then serves Dagster's UI (`dagster dev`) and, beside it, the Integrations page
(`xero-assets serve`, with a generated admin password it prints), both on the same sandbox, until Ctrl-C. Both ports
are checked before anything starts, so a taken port is refused with its number instead of printing a URL that
another program answers.

Everything lives under ./.xero_assets/demo (SQLite warehouse and token store, key, Dagster home), recreated on each
run because the sandbox's tokens die with it. The sandbox's minute window is shortened (DEMO_MINUTE_SECONDS) so the
demo runs in seconds; the client is told the same, so it paces exactly as it would against Xero's real minute.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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
WEB_PORT = 8791

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


def run_demo(
    no_ui: bool, size: str, tenants: int, root: Path = DEMO_DIR, ui_port: int = UI_PORT, web_port: int = WEB_PORT
) -> int:
    """Run the demo; returns the number of tenants synced (the CLI ignores it, tests check it)."""
    from xero_assets.runner import cli_instance, materialize_tenant
    from xero_assets.web.serve import check_port_free

    if not no_ui:  # refuse before minutes of work, not after
        check_port_free("127.0.0.1", ui_port, "Dagster's UI")
        check_port_free("127.0.0.1", web_port, "the Integrations page")
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
        instance = cli_instance()
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
            env |= web_env(sandbox, ui_port, web_port)
            serve_ui(env, sandbox.base_url, ui_port, web_port)
    return len(connections)


def web_env(sandbox: SandboxHandle, ui_port: int, web_port: int) -> dict[str, str]:
    """The Integrations page's settings: its callback registered on the sandbox's app, a fresh admin password."""
    redirect = f"http://127.0.0.1:{web_port}/callback"
    sandbox.app_state.identity.update_app(str(sandbox.info["client_id"]), [redirect])
    return {
        "XERO_REDIRECT_URI": redirect,
        "XERO_ASSETS_DAGSTER_URL": f"http://127.0.0.1:{ui_port}",
        "XERO_ASSETS_ADMIN_PASSWORD": secrets.token_urlsafe(15),
    }


def serve_ui(env: dict[str, str], sandbox_url: str, ui_port: int = UI_PORT, web_port: int = WEB_PORT) -> None:
    """`dagster dev` and `xero-assets serve` on the same warehouse and sandbox until Ctrl-C (the sandbox lives in
    this process, so both stop with it)."""
    bin_dir = Path(sys.executable).parent
    full_env = {**os.environ, **env}
    dagster = [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(ui_port)]
    web = [str(bin_dir / "xero-assets"), "serve", "--host", "127.0.0.1", "--port", str(web_port)]
    processes = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=full_env, start_new_session=True) for command in (dagster, web)
    ]
    console.print(
        f"Integrations:    http://127.0.0.1:{web_port}  (admin password: {env['XERO_ASSETS_ADMIN_PASSWORD']})"
    )
    console.print(f"Dagster UI:      http://127.0.0.1:{ui_port}  (assets xero/* per tenant, sensor xero_tenant_sensor)")
    console.print(
        f"Sandbox (Xero):  {sandbox_url}  (control API under /_sandbox/; Xero login demo@sandbox.xero.local / sandbox)"
    )
    console.print("Ctrl-C stops all three.")
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            stop_group(process)


def stop_group(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Stop a process and its children (dagster dev ignores signals when headless, so its whole group goes)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
