"""Leave balances for AU, NZ and UK payroll, synced over real HTTP from the sandbox, equal its ground truth, and the
`payroll_leave_balances` dataset shows them with the employee named, the leave type, the balance and its units.

AU reads them from the single employee record (GET /payroll.xro/1.0/Employees/{EmployeeID}), NZ and UK from
GET /payroll.xro/2.0/Employees/{EmployeeID}/LeaveBalances: one call per employee either way, and no more, at most
once a day outside a full refresh. The day planner's first-sync estimate counts those calls before any employee is
stored (it probes the employee list once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa

from xero_assets import catalog, plan, sync
from xero_assets.sandbox.server import running_sandbox
from xero_assets.store import typed
from xero_assets_tests.sync import document_world as world
from xero_assets_tests.sync.conftest import Synced, connect, fast_config

PAYROLL = [catalog.get(name) for name in ("organisation", "payroll_employees", "payroll_leave_balances")]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[object]:
    with running_sandbox(fast_config(tenants=3, size="small")) as handle:  # AU, NZ, GB
        yield handle


@pytest.fixture
def synced(sandbox, database_url: str) -> Iterator[Synced]:  # type: ignore[no-untyped-def]
    synced = connect(sandbox, database_url)
    yield synced
    synced.close()


def _tenant(synced: Synced, country: str) -> str:
    return next(t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"] if t["country"] == country)


def _stored(synced: Synced, tenant_id: str) -> dict[str, list[dict[str, str]]]:
    """{employee id: [{leave_type_id, leave_name, balance, units}]} from the typed table, in the truth's terms."""
    table = typed.TABLES["xero_payroll_leave_balances"]
    query = sa.select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.parent_id, table.c.line_no)
    out: dict[str, list[dict[str, str]]] = {}
    with synced.warehouse.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            out.setdefault(row["parent_id"], []).append(
                {"leave_type_id": row["leavetypeid"], "leave_name": row["leavename"],
                 "balance": str(Decimal(row["numberofunits"]).normalize()), "units": row["typeofunits"]}
            )  # fmt: skip
    return out


def _normal(truth: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    return {e: [{**b, "balance": str(Decimal(b["balance"]).normalize())} for b in rows] for e, rows in truth.items()}


@pytest.mark.parametrize("country", ["AU", "NZ", "GB"])
def test_synced_leave_balances_equal_the_sandbox_in_one_call_per_employee(synced: Synced, country: str) -> None:
    tenant_id = _tenant(synced, country)
    truth = synced.truth(tenant_id)
    employees = truth["counts"]["payroll_employees"]
    results = {r.api: r for r in synced.sync(tenant_id, PAYROLL)}
    assert results["payroll_leave_balances"].calls == employees > 0
    expected = _normal(truth["leave_balances"])
    assert _stored(synced, tenant_id) == expected
    assert any(Decimal(b["balance"]) < 0 or "." in b["balance"] for rows in expected.values() for b in rows)

    dataset = world.build("payroll_leave_balances", world.inputs(synced, tenant_id, world.sandbox_today(synced)))
    assert list(dataset.columns) == ["employee_id", "employee_name", "leave_type_id", "leave_name", "balance",
                                     "units", "as_at"]  # fmt: skip
    assert len(dataset) == sum(len(rows) for rows in expected.values()) and dataset["employee_name"].str.len().min()
    shown = {(r.employee_id, r.leave_type_id): (r.balance, r.units) for r in dataset.itertuples()}
    assert shown == {
        (e, b["leave_type_id"]): (Decimal(b["balance"]), b["units"]) for e, rows in expected.items() for b in rows
    }
    assert set(dataset["units"]) == {"Hours" if country == "AU" else "Days"}


@pytest.mark.parametrize("country", ["AU", "NZ"])
def test_a_first_sync_plan_counts_one_balance_call_per_employee(synced: Synced, country: str) -> None:
    tenant_id = _tenant(synced, country)
    employees = synced.truth(tenant_id)["counts"]["payroll_employees"]
    synced.sync(tenant_id, [catalog.get("organisation")])  # the country, as the planner's first call learns it
    client = synced.tenant(tenant_id)
    scopes = synced.connections[tenant_id].scopes
    estimate = plan.estimate(client, synced.warehouse, PAYROLL[1:], scopes, country, world.sandbox_today(synced))
    assert estimate.per_api["payroll_leave_balances"] == employees and estimate.probes == 1


def test_a_routine_sync_reads_balances_at_most_daily_and_a_full_refresh_always(synced: Synced) -> None:
    """Balances move only when a pay run is posted: within a day of the last read a sync makes no balance calls
    (nor plans any); a day later, or with --full-refresh, one per employee again."""
    tenant_id = _tenant(synced, "NZ")
    employees = synced.truth(tenant_id)["counts"]["payroll_employees"]
    synced.sync(tenant_id, PAYROLL)
    again = {r.api: r for r in synced.sync(tenant_id, PAYROLL)}["payroll_leave_balances"]
    assert again.calls == 0 and not (again.counts.inserted or again.counts.updated or again.counts.deleted_in_xero)
    client, scopes = synced.tenant(tenant_id), synced.connections[tenant_id].scopes
    today = world.sandbox_today(synced)
    assert plan.estimate(client, synced.warehouse, PAYROLL[2:], scopes, "NZ", today).per_api == {
        "payroll_leave_balances": 0
    }
    refreshed = {r.api: r for r in synced.sync(tenant_id, PAYROLL, full_refresh=True)}["payroll_leave_balances"]
    assert refreshed.calls == employees

    state = synced.warehouse.state(tenant_id, "payroll_leave_balances")
    day_ago = state.last_completed - sync.BALANCES_REREAD  # type: ignore[operator]
    synced.warehouse.save_state(tenant_id, "payroll_leave_balances", replace(state, last_completed=day_ago))
    assert plan.estimate(client, synced.warehouse, PAYROLL[2:], scopes, "NZ", today).per_api == {
        "payroll_leave_balances": employees
    }
    next_day = {r.api: r for r in synced.sync(tenant_id, PAYROLL)}["payroll_leave_balances"]
    assert next_day.calls == employees and _stored(synced, tenant_id) == _normal(
        synced.truth(tenant_id)["leave_balances"]
    )
