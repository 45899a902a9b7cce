"""The Dagster layer on the ephemeral instance, against the sandbox: one run syncs a tenant's APIs and reports
each with its metadata; one asset alone syncs just that API; a scope not granted is a visible skip, not a failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from xero_assets import catalog, sandbox_connect
from xero_assets.definitions import defs
from xero_assets.defs.dashboards import DATASETS, dataset_key
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.defs.raw import raw_key
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.xero.scopes import all_scopes
from xero_assets_tests.sync.conftest import DAY_LIMIT, WINDOW_S, Synced, private_synced


@pytest.fixture
def synced(sqlite_url: str) -> Iterator[Synced]:
    with private_synced(sqlite_url, tenants=2, size="small") as s:
        yield s


def resources_for(s: Synced) -> dict[str, Any]:
    info = s.sandbox.info
    return {
        "xero": XeroResource(
            client_id=info["client_id"], client_secret=info["client_secret"], redirect_uri=info["redirect_uri"],
            login_url=s.base_url, identity_url=s.base_url, api_url=s.base_url, database_url=s.database_url,
            secret_key=s.secret_key, minute_seconds=WINDOW_S, per_day=DAY_LIMIT,
        ),
        "warehouse": WarehouseResource(database_url=s.database_url),
    }  # fmt: skip


def materialize(s: Synced, tenant: str, selection: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant])
    assets = list(defs.assets or [])
    resources = resources_for(s)
    return dg.materialize(assets, partition_key=tenant, instance=instance, resources=resources, selection=selection)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def test_one_run_syncs_every_api_and_builds_the_datasets_with_metadata(synced: Synced) -> None:
    tenant = next(iter(synced.connections))
    result = materialize(synced, tenant)
    assert result.success
    meta = _metadata(result)
    assert {raw_key(a.name).to_user_string() for a in catalog.SYNCABLE} <= set(meta)
    skipped = {
        e.asset_key.to_user_string(): e.asset_observation_data.asset_observation.metadata["skipped"].value
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    }
    assert all(reason.strip() for reason in skipped.values())  # a dataset not built says why
    assert {dataset_key(d.name).to_user_string() for d in DATASETS} <= set(meta) | set(skipped)
    assert not set(meta) & set(skipped)
    assert not skipped, skipped  # every scope granted: every dataset is built, leave balances in every country
    invoices = meta["xero/invoices"]
    assert invoices["rows_inserted"] == invoices["dagster/row_count"] > 0
    assert invoices["api_calls"] == invoices["pages"] == 1
    for name in ("rows_updated", "rows_unchanged", "cursor", "day_remaining_calls", "preview", "status"):
        assert name in invoices
    text = repr(meta)
    assert "Bearer" not in text and "access_token" not in text and synced.secret_key not in text
    assert meta["dashboards/kpis"]["dagster/row_count"] == 13  # one row per KPI
    assert isinstance(meta["dashboards/kpis"]["accounts_receivable"], float)  # plotted by Dagster run over run
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= 2 * len(DATASETS)
    assert [e.check_name for e in evaluations if not e.passed] == []


def test_selecting_one_asset_syncs_just_that_api(synced: Synced) -> None:
    tenant = next(iter(synced.connections))
    synced.control("DELETE", "stats")
    result = materialize(synced, tenant, [raw_key("invoices")])
    assert result.success
    assert set(_metadata(result)) == {"xero/invoices"}
    by_api = synced.control("GET", "stats")["by_api"]
    assert set(by_api) <= {"invoices", "organisation"}, by_api  # the organisation only for the tenant's country


def test_an_api_whose_scope_was_not_granted_is_skipped_visibly(synced: Synced) -> None:
    tenant = next(iter(synced.connections))
    scopes = [s for s in all_scopes() if s != "accounting.journals.read"]
    sandbox_connect.consent(synced.store, tenant_ids=[tenant], scopes=scopes)
    result = materialize(synced, tenant, [raw_key("journals"), raw_key("accounts")])
    assert result.success
    meta = _metadata(result)
    assert meta["xero/journals"]["status"] == "skipped: scope accounting.journals.read not granted"
    assert meta["xero/journals"]["api_calls"] == 0
    assert meta["xero/accounts"]["status"] == "synced"


def test_a_failing_api_fails_the_step_but_the_others_are_still_reported(synced: Synced) -> None:
    tenant = next(iter(synced.connections))
    synced.control("POST", "faults", json={"kind": "500", "rate": 1.0, "path": "/Users$", "target": "data"})
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant])
    resources = resources_for(synced)
    resources["xero"] = resources["xero"].model_copy(update={"max_retries": 1})
    result = dg.materialize(
        list(defs.assets or []), partition_key=tenant, instance=instance, resources=resources,
        selection=[raw_key("users"), raw_key("accounts")], raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    assert set(_metadata(result)) == {"xero/accounts"}
