"""The dashboard datasets: pure transforms on a few rows, and reconciled to the cent with the sandbox's own
reports after a real sync (P&L by month from the ledger; receivables ageing against aged receivables)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from xero_assets import catalog
from xero_assets.datasets import transforms
from xero_assets.datasets.load import read_typed, write_dataset
from xero_assets.defs.dashboards import TYPED_INPUTS, build_all
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import connect, fast_config


def test_ageing_buckets_by_days_overdue() -> None:
    invoices = pd.DataFrame(
        {
            "type": ["ACCREC"] * 4 + ["ACCPAY"],
            "status": ["AUTHORISED", "AUTHORISED", "AUTHORISED", "PAID", "AUTHORISED"],
            "contactid": ["a", "a", "b", "b", "c"],
            "amountdue": [100.0, 50.0, 20.0, 0.0, 7.0],
            "date": [date(2026, 1, 1)] * 5,
            "duedate": [date(2026, 11, 30), date(2026, 10, 1), date(2026, 6, 1), date(2026, 6, 1), date(2026, 1, 1)],
        }
    )
    aged = transforms.ageing(invoices, "ACCREC", date(2026, 11, 24)).set_index("contactid")
    assert aged.loc["a", "current"] == 100.0 and aged.loc["a", "31-60"] == 50.0
    assert aged.loc["b", "90+"] == 20.0 and aged["total_due"].sum() == 170.0


def test_recurring_revenue_normalises_schedules_to_a_month() -> None:
    repeating = pd.DataFrame(
        {
            "type": ["ACCREC", "ACCREC", "ACCREC", "ACCPAY"],
            "status": ["AUTHORISED", "AUTHORISED", "DRAFT", "AUTHORISED"],
            "contactid": ["a", "b", "c", "d"],
            "scheduleunit": ["MONTHLY", "MONTHLY", "MONTHLY", "MONTHLY"],
            "scheduleperiod": [1, 3, 1, 1],
            "subtotal": [300.0, 300.0, 999.0, 50.0],
        }
    )
    mrr = transforms.recurring_revenue(repeating).set_index("contactid")["mrr"]
    assert mrr.to_dict() == {"a": 300.0, "b": 100.0}


@pytest.mark.parametrize("country", ["AU", "US"])
def test_datasets_reconcile_with_the_sandbox_reports(sqlite_url: str, country: str) -> None:
    with running_sandbox(fast_config(tenants=4, size="small")) as handle:
        synced = connect(handle, sqlite_url)
        tenant = next(t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"] if t["country"] == country)
        names = (
            "journals",
            "accounts",
            "invoices",
            "repeating_invoices",
            "credit_notes",
            "overpayments",
            "prepayments",
        )
        synced.sync(tenant, [catalog.get(n) for n in names])
        frames = {name: read_typed(synced.warehouse.engine, name, tenant) for name in TYPED_INPUTS}
        built = build_all(frames, datetime.now(UTC))
        truth = synced.truth(tenant)["reports"]

        pnl = built["pnl_by_month"].set_index("month")
        for month, expected in truth["profit_and_loss_by_month"].items():
            assert pnl.loc[month, "revenue"] == pytest.approx(expected["revenue"], abs=0.01), month
            assert pnl.loc[month, "expenses"] == pytest.approx(expected["expenses"], abs=0.01), month
        assert built["ar_ageing"]["total_due"].sum() == pytest.approx(truth["aged_receivables_total"], abs=0.01)

        assert write_dataset(synced.warehouse.engine, "kpis", tenant, built["kpis"]) == 7
        assert write_dataset(synced.warehouse.engine, "kpis", tenant, built["kpis"]) == 7  # replaced, not appended
        synced.close()
