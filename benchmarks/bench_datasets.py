"""What building every dashboard dataset costs for one tenant: seconds and peak memory, as a ratio to the time of
the same tenant's raw sync measured in the same run, into SQLite and into PostgreSQL.

The datasets must stay cheap next to the sync whatever the organisation's size: journal lines are only read summed
per account and month in SQL, or streamed in chunks for the general ledger, so peak memory follows the chunk and
the chart of accounts, not the ledger. The time is of a plain build; peak memory is Python's (tracemalloc, which
numpy and pandas report into) over a second, traced build, since tracing itself slows the build several times over;
the sandbox runs in this process but is idle while the datasets build.

    python benchmarks/bench_datasets.py                       # large tenant, SQLite then PostgreSQL
    python benchmarks/bench_datasets.py --size medium --backends sqlite

`make bench` asserts the build stays under the sync from one `xero-assets sync` per backend (bench_sync.py --cli),
at the cost of one large sync instead of two; this script adds Python's peak memory and the rows written.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from bench_sync import backend_url  # one fresh-database helper for every benchmark
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.datasets.load import organisation, write_dataset
from xero_assets.datasets.spec import DatasetInputs, DatasetSkipped
from xero_assets.defs.dashboards import DATASETS, granted_apis
from xero_assets.sandbox.server import SandboxConfig, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import sync_tenant
from xero_assets.xero.client import XeroClient
from xero_assets.xero.limiter import RateLimits


@dataclass
class Result:
    backend: str
    size: str
    journal_lines: int
    sync_s: float
    build_s: float
    peak_mb: float
    rows: int

    def line(self) -> str:
        return (f"{self.backend:10} {self.size:6} journal lines {self.journal_lines:>7}  sync {self.sync_s:7.1f} s  "
                f"datasets {self.build_s:6.1f} s  ratio {self.build_s / self.sync_s:5.2f}  "
                f"peak {self.peak_mb:6.1f} MB  rows written {self.rows}")  # fmt: skip


def build_everything(inputs: DatasetInputs) -> int:
    built: dict[str, pd.DataFrame] = {}
    rows = 0
    for spec in DATASETS:
        try:
            result = spec.build(inputs, {name: built[name] for name in spec.uses})
        except DatasetSkipped:
            continue
        if isinstance(result, pd.DataFrame):
            built[spec.name] = result
            result = [result]
        rows += write_dataset(inputs.engine, spec, inputs.tenant_id, result)
    return rows


def run(backend: str, size: str) -> Result:
    config = SandboxConfig(tenants=1, size=size, minute_window_s=1.0, day_limit=10**7)
    with running_sandbox(config) as handle, backend_url(backend) as url:
        store = sandbox_connect.open_token_store(
            sandbox_connect.sandbox_app_config(handle.info), url, Fernet.generate_key().decode()
        )
        connection = sandbox_connect.consent(store)[0]
        warehouse = Warehouse(make_engine(url))
        warehouse.create()
        client = XeroClient(handle.base_url, store, limits=RateLimits(minute_seconds=1.0, per_day=10**7))
        started = time.perf_counter()
        sync_tenant(client.for_tenant(connection.tenant_id), warehouse, None, granted_scopes=connection.scopes)
        sync_s = time.perf_counter() - started
        inputs = DatasetInputs(
            warehouse.engine, organisation(warehouse, connection.tenant_id), datetime.now(UTC).date(),
            granted_apis(tuple(connection.scopes)),
        )  # fmt: skip
        started = time.perf_counter()
        rows = build_everything(inputs)
        build_s = time.perf_counter() - started
        tracemalloc.start()  # a second build for memory: tracing slows allocation-heavy code several times over
        build_everything(DatasetInputs(inputs.engine, inputs.organisation, inputs.as_at, inputs.granted))
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        with warehouse.engine.connect() as conn:
            lines = int(conn.execute(sa.text("select count(*) from xero_journal_lines")).scalar() or 0)
        client.close()
        store.close()
        warehouse.engine.dispose()
    return Result(backend, size, lines, sync_s, build_s, peak, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(run(backend, args.size).line(), flush=True)


if __name__ == "__main__":
    main()
