"""What a dashboard dataset is: a name, the raw APIs it reads, its grain, its money columns, and a builder.

Datasets live in small modules under `xero_assets.datasets` (ledger, documents, ...), each exposing a `DATASETS`
tuple of `DatasetSpec`s. The Dagster layer (`xero_assets.defs.dashboards`) wires every spec into one asset per
dataset, creates its table `ds_<name>` with a primary key on (`tenant_id`, *key) and NUMERIC money columns, and
writes what the builder returns. A builder is therefore the whole of a dataset's logic, and a test can call it on a
`DatasetInputs` over any engine (or call the pure frame transform underneath it on hand-made frames).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import pandas as pd
import sqlalchemy as sa

_T = TypeVar("_T")


@dataclass(frozen=True)
class Organisation:
    """The facts about one tenant that datasets need to speak in the organisation's terms."""

    tenant_id: str
    name: str
    base_currency: str
    country: str
    financial_year_end_day: int
    financial_year_end_month: int
    timezone: str = "UTC"  # IANA name, from Xero's Organisation.Timezone: what "today" means for this organisation


@dataclass(frozen=True)
class DatasetInputs:
    """Everything a builder may read for one tenant: the warehouse (read through `typed`), the organisation and the
    as-at date (the organisation's today). `granted` is the set of catalog API names the tenant's scopes allow, so a
    builder can choose its source (journals or Xero's reports) or say why it cannot be built."""

    engine: sa.Engine
    organisation: Organisation
    as_at: date
    granted: frozenset[str] = field(default_factory=frozenset)
    # Intermediate results several builders of one build share (e.g. the ledger's monthly movements, summed once in
    # SQL for four datasets); a new DatasetInputs per build, so nothing outlives it.
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.organisation.tenant_id

    def memo(self, name: str, compute: Callable[[], _T]) -> _T:
        """`compute()` once per build under `name`."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def typed(self, table_name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One tenant's rows of a typed table, only the `columns` asked for (never a whole wide table by default)."""
        from xero_assets.store import typed

        table = typed.TABLES[table_name]
        selected = [table.c[name] for name in columns] if columns else list(table.c)
        query = sa.select(*selected).where(table.c.tenant_id == self.tenant_id)
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def typed_chunks(self, table_name: str, columns: Sequence[str], size: int = 20_000) -> Iterator[pd.DataFrame]:
        """`typed(table_name, columns)` as frames of `size` rows, streamed from the database in the order `typed`
        returns them (a table as large as the invoices is then never whole in memory)."""
        from xero_assets.store import typed

        table = typed.TABLES[table_name]
        query = sa.select(*(table.c[name] for name in columns)).where(table.c.tenant_id == self.tenant_id)
        with self.engine.connect() as conn:
            yield from pd.read_sql(query, conn.execution_options(stream_results=True), chunksize=size)


@dataclass(frozen=True)
class Chunked:
    """A build the writer takes a slice at a time (its Decimal money never whole in memory), with the key figures
    its builder computed on the way: a chunked build has no whole frame to call `DatasetSpec.figures` on."""

    chunks: Iterable[pd.DataFrame]
    figures: Mapping[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter(self.chunks)


class DatasetSkipped(Exception):
    """Raised by a builder that cannot be built for this tenant; the message says what to do (e.g. which scope to
    grant). The asset is then skipped with that reason, never materialized as zeros."""


@dataclass(frozen=True)
class DatasetSpec:
    """One dashboard dataset. `key` is its grain (without tenant_id); `money` lists the columns stored as exact
    NUMERIC to the cent (Decimal values in the frame); `build` returns the tenant's rows (no tenant_id column: the
    writer adds it), either as one frame or, for a dataset as large as the ledger, as an iterable of frames that the
    writer stores chunk by chunk (so the whole dataset is never in memory). `figures`, when given, turns the built
    frame into the key figures Dagster records as numeric metadata (and plots over time); it is only called on a
    dataset returned as one frame (a `Chunked` build carries its own)."""

    name: str
    description: str
    reads: tuple[str, ...]
    key: tuple[str, ...]
    build: Builder
    money: tuple[str, ...] = ()
    # Other datasets whose built frames this one reads, handed to `build` by name (e.g. kpis reads the P&L).
    uses: tuple[str, ...] = ()
    figures: Callable[[pd.DataFrame], Mapping[str, float]] | None = None


# build(inputs, upstream): `upstream` maps each name in the spec's `uses` to that dataset's frame for this tenant.
# A builder returns one frame, or an iterable of frames (chunks) for a dataset too large to hold in memory; a dataset
# built in chunks cannot be in another's `uses`.
Builder = Callable[[DatasetInputs, Mapping[str, pd.DataFrame]], "pd.DataFrame | Iterable[pd.DataFrame]"]


@dataclass(frozen=True)
class CheckOutcome:
    """What one check found: passed or not, a one-line summary, and the differences as rows (columns naming the
    tenant, the account or contact, the period, the two figures and their difference) that Dagster shows as a
    table on the check.

    `compared` is False when the check could not honestly compare (a scope not granted, or one source read before
    the documents it would be compared with last changed): it then passes, since nothing is known to be wrong, and
    its summary says "not compared: ..." and why; the asset logs it as a warning, so a person is told without a red
    check that is no discrepancy."""

    passed: bool
    summary: str
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    compared: bool = True

    @classmethod
    def not_compared(cls, why: str) -> CheckOutcome:
        """A passing outcome that says it compared nothing, and why (`why` follows "not compared: ")."""
        return cls(True, f"not compared: {why}", compared=False)


@dataclass(frozen=True)
class DatasetCheck:
    """An asset check on one dataset. `run(inputs, frame, built)` gets the dataset as just built (None for one
    built in chunks: read it from its table instead) and every other dataset built in the same run by name."""

    dataset: str
    name: str
    description: str
    run: Callable[[DatasetInputs, pd.DataFrame | None, Mapping[str, pd.DataFrame]], CheckOutcome]
