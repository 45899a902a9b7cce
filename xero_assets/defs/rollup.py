"""The cross-tenant rollup (unpartitioned, group "dashboards"): every organisation's KPIs side by side in its own
base currency, a total per currency, and a converted total only for a target currency whose rates were given.

It reads the stored `ds_kpis` rows of every tenant still connected, so it is downstream of `dashboards/kpis` (all its
partitions) and never re-derives a figure; the arithmetic is the pure `xero_assets.datasets.rollup.rollup`.
"""

from decimal import Decimal, InvalidOperation

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets.load import organisation, read_dataset, table_name, write_dataset
from xero_assets.datasets.rollup import ROLLUP_KEY, rollup
from xero_assets.datasets.spec import DatasetInputs, DatasetSpec
from xero_assets.defs.dashboards import BY_NAME, dataset_key, preview_rows
from xero_assets.defs.priorities import BACKGROUND, priority_tags
from xero_assets.defs.resources import WarehouseResource

ALL_TENANTS = "*"  # the rollup's rows span tenants: their tenant_id says so, organisation_id names each one


def _not_per_tenant(_inputs: DatasetInputs, _upstream: object) -> pd.DataFrame:
    raise TypeError("the rollup spans tenants: it is built by the dashboards/rollup asset, not per tenant")


ROLLUP = DatasetSpec(
    "rollup",
    "Every organisation's KPIs in its own base currency, totals per currency, converted totals only with rates.",
    reads=(),
    key=ROLLUP_KEY,
    build=_not_per_tenant,
    money=("value",),
)


class RollupConfig(dg.Config):
    """`target_currency` and `rates` (units of each currency per one unit of the target, as Xero's CurrencyRate,
    e.g. {"NZD": "1.09"}) ask for converted totals; without a rate for every currency in a KPI, its converted row
    says which rates are missing instead of showing a number."""

    target_currency: str = ""
    rates: dict[str, str] = {}


def _rates(config: RollupConfig) -> dict[str, Decimal]:
    try:
        return {currency.upper(): Decimal(rate) for currency, rate in config.rates.items()}
    except InvalidOperation as exc:
        raise dg.Failure(f"rollup rates must be decimal numbers, e.g. {{'NZD': '1.09'}}; got {config.rates}") from exc


@dg.asset(
    key=dataset_key("rollup"),
    group_name="dashboards",
    deps=[dataset_key("kpis")],
    kinds={"pandas"},
    description=f"{ROLLUP.description} Table ds_rollup, key ({', '.join(ROLLUP_KEY)}).",
)
def kpi_rollup(config: RollupConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh = warehouse.warehouse()
    kpis_spec = BY_NAME["kpis"]
    with wh.engine.connect() as conn:
        if not sa.inspect(conn).has_table(table_name(kpis_spec)):
            raise dg.Failure("no organisation has KPIs yet: materialize dashboards/kpis for the tenants first")
        tenants = list(conn.execute(sa.text(f'SELECT DISTINCT tenant_id FROM "{table_name(kpis_spec)}"')).scalars())
    status = wh.tenant_status()
    tenants = sorted(t for t in tenants if status.get(t, ("", True))[1])  # a removed tenant's KPIs stay out
    organisations = {t: organisation(wh, t) for t in tenants}
    kpis = {t: read_dataset(wh.engine, kpis_spec, t) for t in tenants}
    target = config.target_currency.upper() or None
    frame = rollup(kpis, organisations, _rates(config), target)
    rows = write_dataset(wh.engine, ROLLUP, ALL_TENANTS, [frame])
    currencies = sorted({o.base_currency for o in organisations.values()})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "organisations": len(tenants),
            "currencies": ", ".join(currencies),
            "converted_to": target or "not asked (no target_currency)",
            "preview": preview_rows(frame),
        }
    )


# The rollup is nobody's initial sync (see defs/sensors.initial_sync_selection): rebuilt on the hour from the KPIs
# stored by then, it costs one read of every tenant's KPIs an hour, however many tenants sync in between.
kpi_rollup_schedule = dg.ScheduleDefinition(
    name="kpi_rollup_hourly",
    target=dg.AssetSelection.assets(kpi_rollup),
    cron_schedule="0 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    tags=priority_tags(BACKGROUND),
    description="Rebuilds dashboards/rollup (every organisation's KPIs side by side) from the stored KPIs, hourly.",
)
