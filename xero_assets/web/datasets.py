"""The dashboard datasets (tables `ds_<name>`, one row set per tenant) read for the dashboard pages.

Read defensively, in this one module: a dataset may not be built yet for a tenant (no table, or no rows), and its
columns may grow as the datasets evolve, so each reader asks only for the columns it shows and says "not built
yet" rather than failing the page. Money is read as Decimal and rounded to the cent whatever the column type, so a
figure shown equals the dataset's to the cent. Labels and units of the KPIs come from the dataset itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
AGEING_BUCKETS = (
    ("current", "Current"), ("days_1_30", "1-30"), ("days_31_60", "31-60"), ("days_61_90", "61-90"),
    ("days_over_90", "90+"),
)  # fmt: skip
REVENUE_LINE = "Total Income"  # the P&L line the datasets call revenue (Xero's own)
MONTHS_SHOWN = 13  # the current month and the twelve before it, as the sync reads reports


def money(value: Any) -> Decimal | None:
    """A stored amount as Decimal to the cent (floats go through their shortest repr, never their binary value)."""
    if value is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    value: Decimal | None  # None: not computable for this organisation (e.g. no burn, so no runway)
    unit: str  # currency, %, days, months, ratio
    period: str

    @property
    def is_money(self) -> bool:
        return self.unit == "currency"


@dataclass(frozen=True)
class Dashboard:
    """One tenant's figures; `missing` names the datasets that are not built yet."""

    kpis: list[Kpi]
    revenue_by_month: list[tuple[str, Decimal]]
    ar_ageing: list[tuple[str, Decimal]]
    cash_by_month: list[tuple[str, Decimal]]
    mrr_by_month: list[tuple[str, Decimal]]
    missing: list[str]

    def kpi(self, name: str) -> Decimal | None:
        return next((k.value for k in self.kpis if k.name == name), None)


class DatasetReader:
    """Reads `ds_*` tables over one engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _rows(self, name: str, tenant_id: str, columns: tuple[str, ...]) -> list[dict[str, Any]] | None:
        """The tenant's rows of `ds_<name>` (only `columns` that exist), or None when the table is not there."""
        table_name = f"ds_{name}"
        inspector = sa.inspect(self.engine)
        if not inspector.has_table(table_name):
            return None
        present = {c["name"] for c in inspector.get_columns(table_name)}
        wanted = [c for c in columns if c in present]
        if "tenant_id" not in present or not wanted:
            return None
        table = sa.table(table_name, *(sa.column(c) for c in [*wanted, "tenant_id"]))
        query = sa.select(*(table.c[c] for c in wanted)).where(table.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def dashboard(self, tenant_id: str) -> Dashboard:
        missing: list[str] = []

        def rows(name: str, *columns: str) -> list[dict[str, Any]]:
            found = self._rows(name, tenant_id, columns)
            if not found:
                missing.append(name)
            return found or []

        kpis = [
            Kpi(str(r["kpi"]), str(r.get("label") or r["kpi"]), money(r.get("value")), str(r.get("unit") or ""),
                str(r.get("period") or ""))
            for r in rows("kpis", "kpi", "label", "value", "unit", "period")
            if r.get("kpi")
        ]  # fmt: skip
        revenue = {
            str(r["month"]): money(r.get("amount")) or ZERO
            for r in rows("profit_and_loss_by_month", "month", "line", "amount")
            if r.get("line") == REVENUE_LINE
        }
        ageing_rows = rows("ar_ageing", *(column for column, _ in AGEING_BUCKETS))
        ageing = [(label, sum((money(r.get(col)) or ZERO for r in ageing_rows), ZERO)) for col, label in AGEING_BUCKETS]
        return Dashboard(
            kpis=kpis,
            revenue_by_month=sorted(revenue.items())[-MONTHS_SHOWN:],
            ar_ageing=ageing if ageing_rows else [],
            cash_by_month=_by_month(rows("cash_by_month", "month", "closing_balance"), "closing_balance"),
            mrr_by_month=_by_month(rows("recurring_revenue", "month", "mrr"), "mrr"),
            missing=missing,
        )


def _by_month(rows: list[dict[str, Any]], column: str) -> list[tuple[str, Decimal]]:
    """`column` summed per month (over bank accounts, or customers), the last MONTHS_SHOWN months."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[str(row["month"])] += money(row.get(column)) or ZERO
    return sorted(totals.items())[-MONTHS_SHOWN:]
