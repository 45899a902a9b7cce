"""Every run we start names its organisation in the `xero/organisation` tag, so Dagster's run list shows and filters
organisations by name: here the runs `xero-assets sync` starts, from the real command as a subprocess on a Dagster
instance in a temporary DAGSTER_HOME (the page's and the sensors' runs are covered with them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
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
        # Output to a file, not a pipe: Dagster's compute-log capture starts `tail -F` children that write to the
        # CLI's stdout, and one that outlives the CLI keeps a pipe open, so waiting for the pipe's end hung the test
        # (seen once in CI); waiting for the process alone cannot.
        output = tmp_path / "cli.out"
        with output.open("w") as sink:
            done = subprocess.run(
                [str(CLI), "sync", "--all", "--select", "organisation"],
                env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, timeout=300,
            )  # fmt: skip
    assert done.returncode == 0, output.read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records()
    tagged = {r.dagster_run.tags.get("dagster/partition"): r.dagster_run.tags.get(ORGANISATION_TAG) for r in runs}
    assert tagged == {c.tenant_id: c.tenant_name for c in connections}
    assert all(r.dagster_run.tags.get("xero_assets/source") == "cli" for r in runs)
