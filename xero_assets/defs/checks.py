"""Asset checks on the dashboard datasets, declared as `check_specs` of the `dashboards` multi-asset (partitioned
`@asset_check`s are still a preview in Dagster 1.13) and run right after each dataset is written.

Every dataset gets two table checks here (its key is unique; no row lacks a tenant); the dataset modules add
their own (`CHECKS`: trial balance nets to zero, statements equal Xero's reports, ageing equals the aged reports,
...). A failing check's metadata names tenant, account, period and difference, with every difference as a table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets.load import table_name
from xero_assets.datasets.registry import all_checks, all_datasets
from xero_assets.datasets.spec import CheckOutcome, DatasetCheck, DatasetInputs, DatasetSpec

MAX_DIFFERENCE_ROWS = 50  # shown in the check's table; the count says how many there are in all


def keys_unique(spec: DatasetSpec) -> DatasetCheck:
    def run(inputs: DatasetInputs, _frame: pd.DataFrame | None, _built: Mapping) -> CheckOutcome:
        columns = ", ".join(f'"{c}"' for c in ("tenant_id", *spec.key))
        sql = (f'SELECT {columns}, COUNT(*) AS copies FROM "{table_name(spec)}" WHERE tenant_id = :t '
               f"GROUP BY {columns} HAVING COUNT(*) > 1")  # fmt: skip
        with inputs.engine.connect() as conn:
            duplicates = pd.read_sql(sa.text(sql), conn, params={"t": inputs.tenant_id})
            keys = sa.inspect(conn).get_pk_constraint(table_name(spec)).get("constrained_columns") or []
        if keys != ["tenant_id", *spec.key]:
            return CheckOutcome(
                False, f"table {table_name(spec)} has primary key {keys}, not {['tenant_id', *spec.key]}"
            )
        if len(duplicates):
            return CheckOutcome(False, f"{len(duplicates)} keys appear more than once", duplicates)
        if not _has_rows(inputs, spec):
            return CheckOutcome(True, f"no rows for this tenant (table {table_name(spec)} is empty for it)")
        return CheckOutcome(True, f"every ({', '.join(spec.key)}) appears once for this tenant")

    return DatasetCheck(spec.name, "keys_unique", f"Each ({', '.join(spec.key)}) appears once per tenant.", run)


def _has_rows(inputs: DatasetInputs, spec: DatasetSpec) -> bool:
    sql = f'SELECT 1 FROM "{table_name(spec)}" WHERE tenant_id = :t LIMIT 1'
    with inputs.engine.connect() as conn:
        return conn.execute(sa.text(sql), {"t": inputs.tenant_id}).first() is not None


def tenant_present(spec: DatasetSpec) -> DatasetCheck:
    def run(inputs: DatasetInputs, _frame: pd.DataFrame | None, _built: Mapping) -> CheckOutcome:
        sql = f"SELECT COUNT(*) FROM \"{table_name(spec)}\" WHERE tenant_id IS NULL OR tenant_id = ''"
        with inputs.engine.connect() as conn:
            missing = int(conn.execute(sa.text(sql)).scalar() or 0)
        if missing:
            return CheckOutcome(False, f"{missing} rows of {table_name(spec)} have no tenant_id")
        return CheckOutcome(True, "every row names its tenant")

    return DatasetCheck(spec.name, "tenant_present", "No row without a tenant_id.", run)


DATASET_CHECKS: tuple[DatasetCheck, ...] = (
    *(check for spec in all_datasets() for check in (keys_unique(spec), tenant_present(spec))),
    *all_checks(),
)


def _asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["dashboards", name])


CHECK_SPECS = [
    dg.AssetCheckSpec(check.name, asset=_asset_key(check.dataset), description=check.description)
    for check in DATASET_CHECKS
]


def result(check: DatasetCheck, inputs: DatasetInputs, outcome: CheckOutcome) -> dg.AssetCheckResult:
    """The outcome as Dagster shows it: the summary, where, and the differences as a table (first rows)."""
    metadata: dict[str, dg.MetadataValue] = {
        "summary": dg.MetadataValue.text(outcome.summary),
        "tenant": dg.MetadataValue.text(inputs.tenant_id),
        "organisation": dg.MetadataValue.text(inputs.organisation.name),
        "differences": dg.MetadataValue.int(len(outcome.differences)),
        "compared": dg.MetadataValue.bool(outcome.compared),
    }
    if len(outcome.differences):
        shown = outcome.differences.head(MAX_DIFFERENCE_ROWS).astype(object)
        shown = shown.where(shown.notna(), "")
        metadata["difference_table"] = dg.MetadataValue.md(shown.to_markdown(index=False, disable_numparse=True))
        first = outcome.differences.iloc[0]
        for name in ("account", "period", "difference"):
            if name in outcome.differences.columns:
                metadata[f"first_{name}"] = dg.MetadataValue.text(str(first[name]))
    return dg.AssetCheckResult(
        asset_key=_asset_key(check.dataset),
        check_name=check.name,
        passed=outcome.passed,
        metadata=metadata,
        description=outcome.summary,
    )


def run_checks(
    context: dg.AssetExecutionContext,
    inputs: DatasetInputs,
    spec: DatasetSpec,
    frame: pd.DataFrame | None,
    built: Mapping[str, pd.DataFrame],
) -> Iterator[dg.AssetCheckResult]:
    """The selected checks of one just-written dataset; one that could not compare is logged as a warning."""
    selected = context.selected_asset_check_keys
    for check in DATASET_CHECKS:
        if check.dataset != spec.name:
            continue
        if dg.AssetCheckKey(_asset_key(spec.name), check.name) not in selected:
            continue
        outcome = check.run(inputs, frame, built)
        if not outcome.compared:
            context.log.warning(f"{spec.name}.{check.name} for {inputs.organisation.name}: {outcome.summary}")
        yield result(check, inputs, outcome)
