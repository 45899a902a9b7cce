"""Every run we start names its organisation in the `xero/organisation` tag, so Dagster's run list shows and filters
organisations by name: here the runs `xero-assets sync` starts, from the real command as a subprocess on a Dagster
instance in a temporary DAGSTER_HOME (the page's and the sensors' runs are covered with them). The same runs capture
no compute logs: Dagster's capture started `tail -F` children that outlived the CLI and held its stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psutil
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.defs.partitions import ORGANISATION_TAG
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import fast_config

CLI = Path(sys.executable).with_name("xero-assets")


def test_runs_started_by_the_cli_carry_the_organisations_name(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    secret = Fernet.generate_key().decode()
    with running_sandbox(fast_config(tenants=1, size="small")) as sandbox:
        store = sandbox_connect.open_token_store(sandbox_connect.sandbox_app_config(sandbox.info), database_url, secret)
        connections = sandbox_connect.consent(store)
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XERO_", "DAGSTER_HOME"))}
        env |= sandbox_connect.sandbox_env(sandbox.info, database_url, secret) | {"DAGSTER_HOME": str(home)}
        # Through a pipe, as `xero-assets sync --all | tee log` runs it: a `tail -F` of Dagster's compute-log
        # capture that outlived the CLI kept the pipe open and `tee` waiting (seen once in CI, with capture on).
        cli = psutil.Popen(
            [str(CLI), "sync", "--all", "--select", "organisation"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        children: set[str] = set()
        while cli.poll() is None:
            children |= {_name(child) for child in cli.children(recursive=True)}
        output = cli.communicate(timeout=60)[0].decode()  # the pipe ends with the CLI: nothing else holds it
    assert cli.returncode == 0, output
    assert "tail" not in children, f"the CLI started compute-log capture: {sorted(children)}"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records()
    tagged = {r.dagster_run.tags.get("dagster/partition"): r.dagster_run.tags.get(ORGANISATION_TAG) for r in runs}
    assert tagged == {c.tenant_id: c.tenant_name for c in connections}
    assert all(r.dagster_run.tags.get("xero_assets/source") == "cli" for r in runs)


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:  # it ended between listing and asking
        return ""
