"""The tenant sensor on Dagster's ephemeral instance: new consents become partitions and initial syncs, removed
tenants stay (inactive), re-authorization is reported once and not retried.

The sensor reads a real token store (SQLite, consents saved as the connect flow saves them) through the real
XeroResource; listing connections needs no Xero, so no sandbox is started here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.defs.resources import WarehouseResource, XeroResource
from xero_assets.defs.sensors import MAX_NEW_TENANTS_PER_TICK, initial_sync_selection, xero_tenant_sensor
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.oauth import TokenSet, XeroConnection, XeroOAuth


@dataclass
class Tokens:
    """A real token store in a temp SQLite file, and the resource config that reads the same file."""

    store: TokenStore
    database_url: str
    secret_key: str

    def consent(self, *tenant_ids: str) -> None:
        """Store one consent covering these tenants, as `xero-assets connect` does after the code exchange."""
        tokens = TokenSet("access", "refresh", datetime.now(UTC) + timedelta(minutes=30), ("offline_access",))
        event = f"event-{tenant_ids[0]}"
        orgs = [XeroConnection(f"c-{t}", t, f"Org {t}", "ORGANISATION", event, None, None) for t in tenant_ids]
        self.store.save_consent(tokens, orgs)


@pytest.fixture
def tokens(tmp_path: Path) -> Any:
    database_url = f"sqlite:///{tmp_path / 'tokens.db'}"
    secret_key = Fernet.generate_key().decode()
    oauth = XeroOAuth(XeroAppConfig(client_id="sensor-test", client_secret=""))
    store = TokenStore(make_engine(database_url), Fernet(secret_key), oauth, owns_engine=True)
    yield Tokens(store, database_url, secret_key)
    store.close()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def _tick(instance: dg.DagsterInstance, tokens: Tokens, tmp_path: Path, cursor: str | None = None) -> Any:
    xero = XeroResource(client_id="sensor-test", database_url=tokens.database_url, secret_key=tokens.secret_key)
    warehouse = WarehouseResource(database_url=f"sqlite:///{tmp_path / 'wh.db'}")
    resources = {"xero": xero, "warehouse": warehouse}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = xero_tenant_sensor(context)
        return result, context, warehouse


def test_new_active_tenant_gets_a_partition_and_one_initial_sync(instance, tokens, tmp_path) -> None:
    tokens.consent("t-1", "t-2")
    result, _, _ = _tick(instance, tokens, tmp_path)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests] == ["t-1", "t-2"]
    assert {r.run_key for r in result.run_requests} == {"initial-sync:t-1", "initial-sync:t-2"}
    assert result.dynamic_partitions_requests[0].partition_keys == ["t-1", "t-2"]
    # Found by name in Dagster's Runs page: the key stays the tenant id, the run carries the organisation's name.
    assert [r.tags["xero/organisation"] for r in result.run_requests] == ["Org t-1", "Org t-2"]


def test_known_tenants_are_not_requested_again(instance, tokens, tmp_path) -> None:
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["t-1"])
    tokens.consent("t-1", "t-2")
    result, _, _ = _tick(instance, tokens, tmp_path)
    assert [r.partition_key for r in result.run_requests] == ["t-2"]


def test_new_tenants_are_capped_per_tick(instance, tokens, tmp_path) -> None:
    tokens.consent(*(f"t-{n:03d}" for n in range(MAX_NEW_TENANTS_PER_TICK + 7)))
    result, _, _ = _tick(instance, tokens, tmp_path)
    assert len(result.run_requests) == MAX_NEW_TENANTS_PER_TICK


def test_removed_tenant_keeps_its_partition_is_marked_inactive_and_gets_no_run(instance, tokens, tmp_path) -> None:
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["t-1"])
    tokens.consent("t-1")
    tokens.store.mark_removed("t-1")
    result, _, warehouse = _tick(instance, tokens, tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "1 removed tenant(s) kept inactive" in result.skip_message
    assert instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME) == ["t-1"]
    assert warehouse.warehouse().tenant_status()["t-1"] == ("removed", False)


def test_needs_reauthorization_is_reported_once_not_retried(instance, tokens, tmp_path) -> None:
    tokens.consent("t-9")
    tokens.store.mark_needs_reauthorization("t-9")
    first, context, _ = _tick(instance, tokens, tmp_path)
    assert isinstance(first, dg.SkipReason) and "t-9" in first.skip_message
    second, _, _ = _tick(instance, tokens, tmp_path, cursor=context.cursor)
    assert isinstance(second, dg.SkipReason) and "t-9" not in second.skip_message
    assert instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME) == []


def test_initial_syncs_select_every_tenant_asset_and_not_the_cross_tenant_rollup() -> None:
    from xero_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    partitioned = {key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def is not None}
    assert initial_sync_selection().resolve(graph) == partitioned


def test_the_rollup_left_out_of_initial_syncs_is_rebuilt_hourly_by_a_running_schedule() -> None:
    from xero_assets.definitions import defs
    from xero_assets.defs.rollup import kpi_rollup

    schedule = defs.resolve_schedule_def("kpi_rollup_hourly")
    graph = defs.resolve_asset_graph()
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING and schedule.cron_schedule == "0 * * * *"
    job = defs.resolve_job_def(schedule.job_name)
    assert (
        set(job.asset_layer.selected_asset_keys)
        == {kpi_rollup.key}
        == (set(graph.get_all_asset_keys()) - initial_sync_selection().resolve(graph))
    )
