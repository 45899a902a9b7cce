"""The tenant sensor on Dagster's ephemeral instance: new consents become partitions and initial syncs, removed
tenants stay (inactive), re-authorization is reported once and not retried."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from xero_assets.partitions import TENANT_PARTITIONS_NAME
from xero_assets.resources import WarehouseResource, XeroResource
from xero_assets.sensors import MAX_NEW_TENANTS_PER_TICK, xero_tenant_sensor


class _Store:
    def __init__(self, connections: list[Any]) -> None:
        self.connections = connections

    def list_connections(self, include_removed: bool = False) -> list[Any]:
        return [c for c in self.connections if include_removed or c.status != "removed"]


_STORES: dict[str, _Store] = {}


class FakeXero(XeroResource):
    """The real resource type with its token store replaced: the sensor only lists connections."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        pass

    def token_store(self) -> Any:
        return _STORES[self.client_id]


def _conn(tenant_id: str, status: str = "active") -> SimpleNamespace:
    return SimpleNamespace(tenant_id=tenant_id, tenant_name=f"Org {tenant_id}", status=status, scopes=())


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def _tick(instance: dg.DagsterInstance, connections: list[Any], tmp_path: Any, cursor: str | None = None) -> Any:
    _STORES[str(tmp_path)] = _Store(connections)
    xero = FakeXero(client_id=str(tmp_path))
    warehouse = WarehouseResource(database_url=f"sqlite:///{tmp_path / 'wh.db'}")
    resources = {"xero": xero, "warehouse": warehouse}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = xero_tenant_sensor(context)
        return result, context, warehouse


def test_new_active_tenant_gets_a_partition_and_one_initial_sync(instance, tmp_path) -> None:
    result, _, _ = _tick(instance, [_conn("t-1"), _conn("t-2")], tmp_path)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests] == ["t-1", "t-2"]
    assert {r.run_key for r in result.run_requests} == {"initial-sync:t-1", "initial-sync:t-2"}
    assert result.dynamic_partitions_requests[0].partition_keys == ["t-1", "t-2"]


def test_known_tenants_are_not_requested_again(instance, tmp_path) -> None:
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["t-1"])
    result, _, _ = _tick(instance, [_conn("t-1"), _conn("t-2")], tmp_path)
    assert [r.partition_key for r in result.run_requests] == ["t-2"]


def test_new_tenants_are_capped_per_tick(instance, tmp_path) -> None:
    many = [_conn(f"t-{n:03d}") for n in range(MAX_NEW_TENANTS_PER_TICK + 7)]
    result, _, _ = _tick(instance, many, tmp_path)
    assert len(result.run_requests) == MAX_NEW_TENANTS_PER_TICK


def test_removed_tenant_keeps_its_partition_is_marked_inactive_and_gets_no_run(instance, tmp_path) -> None:
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, ["t-1"])
    result, _, warehouse = _tick(instance, [_conn("t-1", "removed")], tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME) == ["t-1"]
    assert warehouse.warehouse().tenant_status()["t-1"] == ("removed", False)


def test_needs_reauthorization_is_reported_once_not_retried(instance, tmp_path) -> None:
    connections = [_conn("t-9", "needs_reauthorization")]
    first, context, _ = _tick(instance, connections, tmp_path)
    assert isinstance(first, dg.SkipReason) and "t-9" in first.skip_message
    second, _, _ = _tick(instance, connections, tmp_path, cursor=context.cursor)
    assert isinstance(second, dg.SkipReason) and "t-9" not in second.skip_message
    assert instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME) == []
