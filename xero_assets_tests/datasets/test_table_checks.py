"""The table checks every dataset gets can fail: a table left from an older version without its key, holding the
same key twice and a row without a tenant, fails both, while a table the writer made passes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from xero_assets.datasets.load import write_dataset
from xero_assets.datasets.spec import DatasetInputs, Organisation
from xero_assets.defs.checks import keys_unique, tenant_present
from xero_assets.defs.dashboards import BY_NAME

ORG = Organisation("t1", "Acme Pty", "AUD", "AU", 30, 6)


def test_a_table_without_its_key_holding_duplicates_and_a_row_without_tenant_fails(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ds_kpis (tenant_id TEXT, kpi TEXT, value REAL)"))
        conn.execute(sa.text("INSERT INTO ds_kpis VALUES ('t1', 'cash', 1.0), ('t1', 'cash', 2.0), ('', 'cash', 3)"))
    inputs = DatasetInputs(engine, ORG, date(2026, 12, 1))
    spec = BY_NAME["kpis"]
    unique = keys_unique(spec).run(inputs, None, {})
    assert not unique.passed and "primary key" in unique.summary
    assert not tenant_present(spec).run(inputs, None, {}).passed


def test_a_table_the_writer_made_passes_and_replaces_only_its_tenant(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    spec = BY_NAME["kpis"]
    frame = pd.DataFrame({"kpi": ["cash", "revenue"], "label": ["Cash", "Revenue"], "value": [Decimal("1.10"), None],
                          "unit": ["currency"] * 2, "period": ["2026-11"] * 2, "currency": ["AUD"] * 2,
                          "source": ["journals"] * 2})  # fmt: skip
    assert write_dataset(engine, spec, "t1", [frame]) == 2
    assert write_dataset(engine, spec, "t2", [frame]) == 2
    assert write_dataset(engine, spec, "t1", [frame.head(1)]) == 1  # replaced, not appended; t2 untouched
    inputs = DatasetInputs(engine, ORG, date(2026, 12, 1))
    assert keys_unique(spec).run(inputs, None, {}).passed and tenant_present(spec).run(inputs, None, {}).passed
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT tenant_id, COUNT(*) FROM ds_kpis GROUP BY tenant_id")).all())
    assert counts == {"t1": 1, "t2": 2}
