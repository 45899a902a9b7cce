"""Syncing ONE API from the Integrations page also rebuilds the dashboard datasets built from it, with their checks:
the same selection as a webhook run (one function, `xero_assets.defs.dashboards.run_selection`). Checked for every
API of the catalog, and through a real launch: the page's `launch_sync` over GraphQL to a real Dagster webserver
(the project's code location in-process, served by uvicorn on loopback; runs queued, not executed), whose stored run
selects the invoices and the datasets that read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster_webserver.app import create_app_from_workspace_process_context

from xero_assets import catalog
from xero_assets.definitions import defs
from xero_assets.defs.dashboards import dataset_key, datasets_reading, run_selection
from xero_assets.web.dagster_runs import DagsterRuns
from xero_assets.web.routes.organisation import launch_sync, sync_asset_keys
from xero_assets_tests.fleet.receiver_server import ReceiverServer

INVOICE_DATASETS = {"ar_ageing", "ap_ageing", "overdue_invoices", "invoice_lines", "revenue_by_customer"}


def test_one_api_selects_the_datasets_built_from_it_and_dagster_runs_exactly_their_checks() -> None:
    graph = defs.resolve_asset_graph()
    for api in catalog.SYNCABLE:
        keys = sync_asset_keys(api.name)
        assets, checks = run_selection([api.name])
        assert keys == tuple(key.to_user_string() for key in assets)
        assert keys[0] == f"xero/{api.name}"
        assert list(keys[1:]) == [f"dashboards/{name}" for name in datasets_reading([api.name])]
        # The launch names no checks, so Dagster runs every check of the selected assets: exactly these.
        launched = dg.AssetSelection.assets(*assets).resolve_checks(graph)
        assert launched == set(checks), api.name
    invoices = set(sync_asset_keys("invoices"))
    assert {f"dashboards/{name}" for name in INVOICE_DATASETS} <= invoices
    assert "dashboards/kpis" not in invoices  # built from journals and reports, which this sync does not read
    assert sync_asset_keys("journals")[:2] == ("xero/journals", "dashboards/general_ledger")


@pytest.fixture
def dagster_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dg.DagsterInstance]]:
    for name in ("XERO_CLIENT_ID", "XERO_CLIENT_SECRET"):  # the resources' config; a queued run never uses them
        monkeypatch.setenv(name, f"unused-{name.lower()}")
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="xero_assets.definitions", working_directory=str(Path.cwd())),
        location_name="xero_assets",
    )
    queued = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}
    with (
        instance_for_test(overrides=queued) as instance,
        WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as workspace,
    ):
        server = ReceiverServer(create_app_from_workspace_process_context(workspace))
        server.start()
        try:
            yield f"http://127.0.0.1:{server.port}", instance
        finally:
            server.stop()


def test_the_pages_sync_of_invoices_launches_the_invoices_and_their_datasets(
    dagster_url: tuple[str, dg.DagsterInstance],
) -> None:
    url, instance = dagster_url
    dagster = DagsterRuns(url)
    connection = SimpleNamespace(tenant_id="tenant-1", tenant_name="Acme Pty")  # what launch_sync reads of it
    try:
        run_id = launch_sync(SimpleNamespace(dagster=dagster), connection, "invoices")
    finally:
        dagster.close()
    run = instance.get_run_by_id(run_id)
    assert run is not None
    assets, checks = run_selection(["invoices"])
    assert run.asset_selection == set(assets)
    assert {dataset_key(name) for name in INVOICE_DATASETS} <= run.asset_selection
    assert run.tags["dagster/partition"] == "tenant-1" and run.tags["xero/organisation"] == "Acme Pty"
    # No check selection: Dagster runs every check of the selected assets, which are the run_selection's checks.
    assert run.asset_check_selection is None
    assert dg.AssetSelection.assets(*run.asset_selection).resolve_checks(defs.resolve_asset_graph()) == set(checks)
