"""Dashboard dataset assets (group "dashboards"): one asset `dashboards/<name>` per DatasetSpec that any module of
`xero_assets.datasets` declares, per tenant, downstream of the raw Xero assets it reads, with its asset checks.

One multi-asset, like the raw sync, so a tenant's datasets build in one step (one process under `dagster dev`) and
share what they read; the datasets themselves are declarative specs with pure builders, the checks live in
`checks.py`, and this module only wires them: build in dependency order, write each table, report metadata, skip
with the builder's reason when it cannot be built, and run the checks on what was just built.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from xero_assets import catalog
from xero_assets.datasets.load import organisation, organisation_today, table_name, write_dataset
from xero_assets.datasets.registry import all_datasets, needed
from xero_assets.datasets.spec import Chunked, DatasetInputs, DatasetSkipped, DatasetSpec, Organisation
from xero_assets.defs import checks
from xero_assets.defs.partitions import tenant_partitions
from xero_assets.defs.raw import consented_scopes, raw_key
from xero_assets.defs.resources import WarehouseResource, XeroResource

DATASETS = all_datasets()
BY_NAME = {spec.name: spec for spec in DATASETS}
PREVIEW_ROWS = 10


def dataset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["dashboards", name])


SPECS = [
    dg.AssetSpec(
        key=dataset_key(spec.name),
        group_name="dashboards",
        description=f"{spec.description} Table ds_{spec.name}, key (tenant_id, {', '.join(spec.key)}).",
        deps=[raw_key(api) for api in spec.reads] + [dataset_key(name) for name in spec.uses],
        kinds={"pandas"},
        partitions_def=tenant_partitions,
        skippable=True,
        metadata={"table": f"ds_{spec.name}", "grain": ", ".join(("tenant_id", *spec.key))},
    )
    for spec in DATASETS
]


def datasets_reading(apis: Iterable[str]) -> list[str]:
    """The datasets a change to `apis` makes stale: those that read any of them, and every dataset that uses one of
    those, in build order (DATASETS lists a dataset after the ones it uses, so one pass finds them all)."""
    changed = set(apis)
    stale: list[str] = []
    for spec in DATASETS:
        if changed.intersection(spec.reads) or set(stale).intersection(spec.uses):
            stale.append(spec.name)
    return stale


def run_selection(apis: Sequence[str]) -> tuple[list[dg.AssetKey], list[dg.AssetCheckKey]]:
    """What a run that syncs `apis` of one tenant materializes: the raw APIs, the datasets they feed, and exactly
    those datasets' checks, so what the datasets show never lags what was just synced. The one selection of the
    webhook sensor's runs and of the Integrations page's one-API sync."""
    datasets = [dataset_key(name) for name in datasets_reading(apis)]
    checks_of_datasets = [spec.key for spec in checks.CHECK_SPECS if spec.asset_key in datasets]
    return [raw_key(api) for api in apis] + datasets, checks_of_datasets


def granted_apis(scopes: tuple[str, ...]) -> frozenset[str]:
    """The catalog APIs the tenant's scopes allow: how a builder chooses journals or Xero's reports."""
    return frozenset(api.name for api in catalog.SYNCABLE if api.is_granted(scopes))


def preview(frame: pd.DataFrame, org: Organisation) -> dg.MetadataValue:
    """The first rows (of the latest month, for a monthly dataset) with the organisation's name; an id is left out
    where a name column says who it is (a statement's `line` is an account id or a total's label, so it goes where
    `account_name` names both); money to the cent as stored."""
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    if "month" in frame.columns and frame["month"].notna().any():
        frame = frame[frame["month"] == frame["month"].max()]
    named = [c for c in frame.columns if c.endswith("_id") and f"{c[:-3]}_name" in frame.columns]
    if "line" in frame.columns and "account_name" in frame.columns:
        named.append("line")
    shown = frame.drop(columns=named)
    shown.insert(0, "organisation", org.name)
    return preview_rows(shown)


def preview_rows(frame: pd.DataFrame) -> dg.MetadataValue:
    """The first rows as a markdown table, empty cells blank, numbers exactly as stored (never re-rounded)."""
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(PREVIEW_ROWS).astype(object)
    shown = shown.where(shown.notna(), "")
    return dg.MetadataValue.md(shown.to_markdown(index=False, disable_numparse=True))


class _FirstChunk:
    """Passes chunks through to the writer and keeps the first with rows (for the preview) without holding the
    rest."""

    def __init__(self, result: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
        self.chunks = [result] if isinstance(result, pd.DataFrame) else result
        self.first = pd.DataFrame()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for chunk in self.chunks:
            if self.first.empty:
                self.first = chunk
            yield chunk


def _metadata(
    inputs: DatasetInputs,
    spec: DatasetSpec,
    rows: int,
    first: pd.DataFrame,
    frame: pd.DataFrame | None,
    figures: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "organisation": inputs.organisation.name,
        "as_at": inputs.as_at.isoformat(),
        "table": table_name(spec),
        "preview": preview(first, inputs.organisation),
    }
    if "source" in first.columns and len(first):
        metadata["source"] = str(first["source"].iloc[0])
    if figures is None and spec.figures is not None and frame is not None:
        figures = spec.figures(frame)
    metadata |= {name: dg.MetadataValue.float(value) for name, value in (figures or {}).items()}
    return metadata


def materialize(
    context: dg.AssetExecutionContext, inputs: DatasetInputs, selected: list[str]
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Build `selected` (and what they use, in order), write each selected one, run its checks; a dataset that
    cannot be built is not materialized (never a green run of zeros) and says why."""
    built: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    for spec in needed(selected, DATASETS):
        try:
            gone = [name for name in spec.uses if name in skipped]
            if gone:
                raise DatasetSkipped(f"it needs {gone[0]}, which was skipped: {skipped[gone[0]]}")
            result = spec.build(inputs, {name: built[name] for name in spec.uses})
            if isinstance(result, pd.DataFrame):
                built[spec.name] = result
            if spec.name not in selected:
                continue  # only used by another dataset: built, not written
            chunks = _FirstChunk(result)
            rows = write_dataset(inputs.engine, spec, inputs.tenant_id, chunks)
        except DatasetSkipped as exc:
            skipped[spec.name] = str(exc)
            if spec.name in selected:
                context.log.warning(f"dashboards/{spec.name} not built for {inputs.organisation.name}: {exc}")
                context.log_event(
                    dg.AssetObservation(
                        asset_key=dataset_key(spec.name),
                        partition=inputs.tenant_id,
                        metadata={"skipped": dg.MetadataValue.text(str(exc))},
                    )
                )
            continue
        frame = built.get(spec.name)
        figures = result.figures if isinstance(result, Chunked) else None
        yield dg.MaterializeResult(
            asset_key=dataset_key(spec.name), metadata=_metadata(inputs, spec, rows, chunks.first, frame, figures)
        )
        yield from checks.run_checks(context, inputs, spec, frame, built)


@dg.multi_asset(
    name="dashboards",
    specs=SPECS,
    check_specs=checks.CHECK_SPECS,
    can_subset=True,
    partitions_def=tenant_partitions,
)
def dashboards(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, xero: XeroResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    tenant_id = context.partition_key
    wh = warehouse.warehouse()
    org = organisation(wh, tenant_id)
    inputs = DatasetInputs(
        engine=wh.engine,
        organisation=org,
        as_at=organisation_today(org),
        granted=granted_apis(consented_scopes(xero, tenant_id)),
    )
    selected = [key.path[-1] for key in context.selected_asset_keys]
    yield from materialize(context, inputs, selected)
