"""Read typed tables for one tenant into frames and write dataset frames back (one table per dataset)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from xero_assets.store import typed


def read_typed(engine: sa.Engine, table_name: str, tenant_id: str) -> pd.DataFrame:
    """One tenant's rows of a typed table (empty frame with the table's columns when it has none)."""
    table = typed.TABLES[table_name]
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table).where(table.c.tenant_id == tenant_id), conn)
    return frame


def write_dataset(engine: sa.Engine, name: str, tenant_id: str, frame: pd.DataFrame) -> int:
    """Replace one tenant's rows of dataset table `ds_<name>` (created from the frame on first write)."""
    table_name = f"ds_{name}"
    out = frame.assign(tenant_id=tenant_id)
    with engine.begin() as conn:
        if sa.inspect(conn).has_table(table_name):
            conn.execute(sa.text(f'DELETE FROM "{table_name}" WHERE tenant_id = :t'), {"t": tenant_id})
        out.to_sql(table_name, conn, if_exists="append", index=False)
    return len(out)
