"""Dashboard dataset assets (group "dashboards"): per tenant, downstream of the raw Xero assets they read.

One multi-asset, like the raw sync, so a tenant's datasets build in one step (one process under `dagster dev`)
instead of one process each; the transforms themselves are pure functions in `xero_assets.datasets`.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from xero_assets.datasets import transforms
from xero_assets.datasets.load import read_typed, write_dataset
from xero_assets.defs.partitions import tenant_partitions
from xero_assets.defs.raw import raw_key
from xero_assets.defs.resources import WarehouseResource


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    reads: tuple[str, ...]  # raw APIs it depends on


_AGEING_READS = ("invoices", "credit_notes", "overpayments", "prepayments")
DATASETS = (
    Dataset("ar_ageing", "Receivables due per customer in overdue buckets (current, 1-30, ..., 90+).", _AGEING_READS),
    Dataset("ap_ageing", "Payables due per supplier in overdue buckets.", _AGEING_READS),
    Dataset("pnl_by_month", "Revenue, expenses and net profit per month from the ledger.", ("journals", "accounts")),
    Dataset("cash_by_month", "Net movement and closing balance per bank account and month.", ("journals", "accounts")),
    Dataset("recurring_revenue", "Monthly recurring revenue per customer from repeating invoices.",
            ("repeating_invoices",)),
    Dataset("kpis", "Headline KPIs: AR, AP, revenue and profit this month, cash, MRR, DSO.",
            ("invoices", "journals", "accounts", "repeating_invoices")),
)  # fmt: skip


def dataset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["dashboards", name])


SPECS = [
    dg.AssetSpec(
        key=dataset_key(d.name),
        group_name="dashboards",
        description=d.description,
        deps=[raw_key(api) for api in d.reads],
        kinds={"pandas"},
        partitions_def=tenant_partitions,
        skippable=True,
    )
    for d in DATASETS
]


def build_all(frames: dict[str, pd.DataFrame], today: datetime) -> dict[str, pd.DataFrame]:
    """Every dataset from the typed frames (kpis reuses the others, so they are built together)."""
    invoices, accounts = frames["xero_invoices"], frames["xero_accounts"]
    journals, lines = frames["xero_journals"], frames["xero_journal_lines"]
    credit_columns = ["type", "status", "contactid", "remainingcredit", "date"]
    parts = [frames[name][credit_columns] for name in CREDIT_TABLES if not frames[name].empty]
    credits = pd.concat(parts) if parts else None
    builders: dict[str, Callable[[], pd.DataFrame]] = {
        "ar_ageing": lambda: transforms.ageing(invoices, "ACCREC", today.date(), credits),
        "ap_ageing": lambda: transforms.ageing(invoices, "ACCPAY", today.date(), credits),
        "pnl_by_month": lambda: transforms.pnl_by_month(journals, lines, accounts),
        "cash_by_month": lambda: transforms.cash_by_month(journals, lines, accounts),
        "recurring_revenue": lambda: transforms.recurring_revenue(frames["xero_repeating_invoices"]),
    }
    out = {name: build() for name, build in builders.items()}
    out["kpis"] = transforms.kpis(
        invoices, out["pnl_by_month"], out["cash_by_month"], out["recurring_revenue"], today.date()
    )
    return out


CREDIT_TABLES = ("xero_credit_notes", "xero_overpayments", "xero_prepayments")
TYPED_INPUTS = (
    "xero_invoices", "xero_accounts", "xero_journals", "xero_journal_lines", "xero_repeating_invoices", *CREDIT_TABLES,
)  # fmt: skip


@dg.multi_asset(name="dashboards", specs=SPECS, can_subset=True, partitions_def=tenant_partitions)
def dashboards(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    tenant_id = context.partition_key
    engine = warehouse.warehouse().engine
    frames = {name: read_typed(engine, name, tenant_id) for name in TYPED_INPUTS}
    built = build_all(frames, datetime.now(UTC))
    for key in context.selected_asset_keys:
        name = key.path[-1]
        frame = built[name]
        rows = write_dataset(engine, name, tenant_id, frame)
        preview = frame.head(10).to_markdown(index=False) if not frame.empty else "_no rows_"
        yield dg.MaterializeResult(
            asset_key=key, metadata={"dagster/row_count": rows, "preview": dg.MetadataValue.md(preview)}
        )
