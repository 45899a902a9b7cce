"""The dashboard's checks panel shows each dataset check's latest result for that organisation, read over HTTP from a
real Dagster webserver (the project's code location in-process, served by uvicorn on loopback) whose instance ran
the project's dataset checks on a synced sandbox tenant.

The checks are unpartitioned on a partitioned asset, so Dagster stores their results without a partition; asking
for one partition's executions finds none, which is why the panel used to say "not run" for every check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster_webserver.app import create_app_from_workspace_process_context
from starlette.testclient import TestClient

from xero_assets import sandbox_connect
from xero_assets.definitions import defs
from xero_assets.defs.dashboards import dataset_key
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.sandbox.server import running_sandbox
from xero_assets.web.app import create_app
from xero_assets.web.dagster_runs import DagsterRuns
from xero_assets.web.settings import WebSettings
from xero_assets_tests.fleet.receiver_server import ReceiverServer
from xero_assets_tests.sync.conftest import Synced, connect, fast_config
from xero_assets_tests.sync.test_assets import resources_for
from xero_assets_tests.web.conftest import ADMIN_PASSWORD, BASE, CSRF

DATASETS = ["dashboards/invoice_lines", "dashboards/overdue_invoices", "dashboards/ar_ageing"]


@dataclass
class Checked:
    synced: Synced
    instance: dg.DagsterInstance
    dagster_url: str
    built: str  # the tenant whose datasets were built
    never: str  # the tenant whose datasets never were

    def materialize(self, *names: str) -> None:
        """Build datasets of `built` with their checks, as Dagster's UI or a sensor's run would."""
        result = dg.materialize(
            list(defs.assets or []), selection=dg.AssetSelection.assets(*(dataset_key(n) for n in names)),
            partition_key=self.built, instance=self.instance, resources=resources_for(self.synced),
        )  # fmt: skip
        assert result.success


@pytest.fixture
def checked(sqlite_url: str) -> Iterator[Checked]:
    with running_sandbox(fast_config(tenants=2, size="small", seed=5)) as sandbox:
        synced = connect(sandbox, sqlite_url)
        built, never = sorted(synced.connections)
        synced.sync(built)
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="xero_assets.definitions", working_directory=str(Path.cwd())),
            location_name="xero_assets",
        )
        with (
            instance_for_test() as instance,  # a webserver needs an instance on disk, as `dagster dev` has
            WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as workspace,
        ):
            instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [built, never])
            server = ReceiverServer(create_app_from_workspace_process_context(workspace))
            server.start()
            try:
                yield Checked(synced, instance, f"http://127.0.0.1:{server.port}", built, never)
            finally:
                server.stop()
                synced.close()


def _statuses(dagster: DagsterRuns, tenant: str) -> dict[tuple[str, str], str]:
    return {(c.asset, c.name): c.status for c in dagster.checks(DATASETS, tenant)}


def test_each_check_shows_its_latest_result_for_that_tenant(checked: Checked, monkeypatch: pytest.MonkeyPatch) -> None:
    dagster = DagsterRuns(checked.dagster_url)
    never_built = _statuses(dagster, checked.built)
    assert never_built and set(never_built.values()) == {"NOT_RUN"}

    checked.materialize("invoice_lines", "overdue_invoices")
    first = _statuses(dagster, checked.built)
    assert first[("dashboards/invoice_lines", "invoice_totals_equal_lines")] == "SUCCEEDED"
    assert first[("dashboards/overdue_invoices", "keys_unique")] == "SUCCEEDED"
    assert {s for (asset, _), s in first.items() if asset != "dashboards/ar_ageing"} == {"SUCCEEDED"}
    assert {s for (asset, _), s in first.items() if asset == "dashboards/ar_ageing"} == {"NOT_RUN"}  # not built
    assert set(_statuses(dagster, checked.never).values()) == {"NOT_RUN"}  # another tenant's results are not its

    # An invoice's stored total no longer equals its lines; only invoice_lines is rebuilt: its check now fails,
    # while overdue_invoices keeps the results of the earlier run.
    invoices = sa.table("xero_invoices", sa.column("tenant_id"), sa.column("id"), sa.column("total"))
    with checked.synced.warehouse.engine.begin() as conn:
        some = conn.execute(sa.select(invoices.c.id).where(invoices.c.tenant_id == checked.built).limit(1)).scalar()
        conn.execute(invoices.update().where(invoices.c.id == some).values(total=invoices.c.total + 1))
    checked.materialize("invoice_lines")
    latest = _statuses(dagster, checked.built)
    assert latest[("dashboards/invoice_lines", "invoice_totals_equal_lines")] == "FAILED"
    assert latest[("dashboards/invoice_lines", "keys_unique")] == "SUCCEEDED"
    assert {s for (a, _), s in latest.items() if a == "dashboards/overdue_invoices"} == {"SUCCEEDED"}
    dagster.close()

    # The dashboard page shows the same, badge by badge.
    shown = _dashboard_badges(checked, monkeypatch)
    assert shown[("dashboards/invoice_lines", "invoice_totals_equal_lines")] == "failed"
    assert shown[("dashboards/invoice_lines", "keys_unique")] == "succeeded"
    assert shown[("dashboards/overdue_invoices", "tenant_present")] == "succeeded"
    assert shown[("dashboards/ar_ageing", "keys_unique")] == "not_run"


def _dashboard_badges(checked: Checked, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], str]:
    """{(dataset, check): the badge's status} on the organisation's dashboard, signed in as the admin."""
    env = {
        **sandbox_connect.sandbox_env(
            checked.synced.sandbox.info, checked.synced.database_url, checked.synced.secret_key
        ),
        "XERO_REDIRECT_URI": f"{BASE}/callback",
        "XERO_ASSETS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "XERO_ASSETS_DAGSTER_URL": checked.dagster_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(WebSettings.from_env()), base_url=BASE) as client:
        token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf_token": token, "password": ADMIN_PASSWORD, "next": "/integrations"})
        page = client.get(f"/organisations/{checked.built}/dashboard")
    assert page.status_code == 200
    badges = re.findall(r'badge-check-(\w+)">[^<]*</span> <code>([\w/]+)</code> (\w+)', page.text)
    return {(asset, name): status for status, asset, name in badges}
