"""The dashboard datasets (tables `ds_<name>`, one row set per tenant) read for the dashboard pages.

Read defensively, in this one module: a dataset may not be built yet for a tenant (no table, or no rows), and its
columns may grow as the datasets evolve, so each reader asks only for the columns it shows and says "not built
yet" rather than failing the page. Money is read as Decimal and rounded to the cent whatever the column type
(NUMERIC or, in older tables, FLOAT), so a figure shown equals the dataset's to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

CENT = Decimal("0.01")
KPI_LABELS = {
    "accounts_receivable": "Accounts receivable",
    "accounts_payable": "Accounts payable",
    "revenue_this_month": "Revenue this month",
    "net_profit_this_month": "Net profit this month",
    "cash_balance": "Cash balance",
    "mrr": "Monthly recurring revenue",
    "dso_days": "Days sales outstanding",
}
NOT_MONEY = {"dso_days"}
AGEING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


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
    value: Decimal
    is_money: bool


@dataclass(frozen=True)
class Dashboard:
    """One tenant's figures; `missing` names the datasets that are not built yet."""

    kpis: list[Kpi]
    revenue_by_month: list[tuple[str, Decimal]]
    profit_by_month: list[tuple[str, Decimal]]
    ar_ageing: list[tuple[str, Decimal]]
    cash_by_month: list[tuple[str, Decimal]]
    mrr_by_customer: list[tuple[str, Decimal]]
    missing: list[str]

    @property
    def empty(self) -> bool:
        return not (self.kpis or self.revenue_by_month or self.ar_ageing or self.cash_by_month)


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

    def contact_names(self, tenant_id: str) -> dict[str, str]:
        """{ContactID: name} from the typed contacts table (empty before contacts are synced)."""
        from xero_assets.store import typed

        table = typed.TABLES["xero_contacts"]
        if not sa.inspect(self.engine).has_table(table.name):
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.id, table.c.name).where(table.c.tenant_id == tenant_id))
            return {str(i): str(n) for i, n in rows if n}

    def dashboard(self, tenant_id: str) -> Dashboard:
        names = self.contact_names(tenant_id)
        missing: list[str] = []

        def rows(name: str, *columns: str) -> list[dict[str, Any]]:
            found = self._rows(name, tenant_id, columns)
            if not found:
                missing.append(name)
            return found or []

        kpis = []
        for row in rows("kpis", "kpi", "value"):
            value = money(row.get("value"))
            if value is not None and row.get("kpi"):
                name = str(row["kpi"])
                kpis.append(Kpi(name, KPI_LABELS.get(name, name.replace("_", " ").capitalize()), value,
                                name not in NOT_MONEY))  # fmt: skip
        pnl = sorted(rows("pnl_by_month", "month", "revenue", "net_profit"), key=lambda r: str(r["month"]))
        revenue = [(str(r["month"]), money(r.get("revenue")) or Decimal("0.00")) for r in pnl]
        profit = [(str(r["month"]), money(r.get("net_profit")) or Decimal("0.00")) for r in pnl]
        ageing_rows = rows("ar_ageing", *AGEING_BUCKETS)
        ageing = [
            (b, sum((money(r.get(b)) or Decimal(0) for r in ageing_rows), Decimal("0.00"))) for b in AGEING_BUCKETS
        ]
        cash: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        balances: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for r in rows("cash_by_month", "accountid", "month", "closing_balance"):
            balances[str(r.get("accountid"))][str(r["month"])] = money(r.get("closing_balance")) or Decimal("0.00")
        months = sorted({m for per in balances.values() for m in per})
        for per_account in balances.values():  # an account with no movement in a month keeps its last balance
            last = Decimal("0.00")
            for month in months:
                last = per_account.get(month, last)
                cash[month] += last
        mrr = sorted(
            ((names.get(str(r.get("contactid")), str(r.get("contactid"))), money(r.get("mrr")) or Decimal("0.00"))
             for r in rows("recurring_revenue", "contactid", "mrr")),
            key=lambda item: item[1], reverse=True,
        )  # fmt: skip
        return Dashboard(
            kpis=kpis,
            revenue_by_month=revenue[-13:],
            profit_by_month=profit[-13:],
            ar_ageing=ageing if ageing_rows else [],
            cash_by_month=sorted(cash.items())[-13:],
            mrr_by_customer=mrr[:10],
            missing=missing,
        )
