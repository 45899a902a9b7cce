"""A dataset with no rows still gets its table, with its primary key, so its checks pass saying "no rows" instead
of crashing the dashboards step with "no such table": through the asset itself, the general ledger of a connected
organisation (journals scope granted) whose journals were never synced; and at the writer, every dataset's empty
build, then the first rows retyping the empty table without another tenant's emptiness ever dropping rows. On real
SQLite and PostgreSQL (when configured)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from xero_assets import catalog
from xero_assets.datasets.general_ledger import Lookups, ledger_lines
from xero_assets.datasets.load import read_dataset, table_name, write_dataset
from xero_assets.datasets.spec import DatasetInputs, DatasetSpec, Organisation
from xero_assets.defs.checks import keys_unique, tenant_present
from xero_assets.defs.dashboards import BY_NAME, DATASETS, dashboards, dataset_key
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.sandbox.server import running_sandbox
from xero_assets_tests.sync.conftest import connect, fast_config
from xero_assets_tests.sync.test_assets import resources_for

GL = BY_NAME["general_ledger"]


def _primary_key(engine: sa.Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return sa.inspect(conn).get_pk_constraint(table)["constrained_columns"]


def test_a_general_ledger_without_journals_is_an_empty_table_whose_checks_pass(database_url: str) -> None:
    with running_sandbox(fast_config(tenants=1, size="small")) as handle:
        synced = connect(handle, database_url)
        try:
            [tenant] = synced.connections
            assert "accounting.journals.read" in synced.connections[tenant].scopes
            synced.sync(tenant, [catalog.get("organisation")])  # the organisation's facts, no journal yet
            instance = dg.DagsterInstance.ephemeral()
            instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant])
            selection = [dataset_key("general_ledger")]
            result = dg.materialize(
                [dashboards],
                partition_key=tenant,
                instance=instance,
                resources=resources_for(synced),
                selection=selection,
            )
        finally:
            synced.close()
    assert result.success
    [built] = result.get_asset_materialization_events()
    assert built.materialization.metadata["dagster/row_count"].value == 0
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"keys_unique", "tenant_present"}
    assert all(e.passed for e in checks.values())
    assert checks["keys_unique"].description == "no rows for this tenant (table ds_general_ledger is empty for it)"
    engine = sa.create_engine(database_url)
    assert _primary_key(engine, "ds_general_ledger") == ["tenant_id", "journal_id", "line_no"]
    engine.dispose()


def test_every_empty_build_leaves_a_keyed_table_and_the_first_rows_retype_it(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    inputs = DatasetInputs(engine, Organisation("t1", "Acme Pty", "AUD", "AU", 30, 6), date(2026, 12, 1))
    journal = {"JournalID": "j1", "JournalNumber": 7, "JournalDate": "/Date(1764547200000+0000)/", "SourceType":
               "MANJOURNAL", "JournalLines": [{"JournalLineID": "l1", "AccountID": "a1", "NetAmount": 12.5,
                                               "TaxAmount": 0, "GrossAmount": 12.5}]}  # fmt: skip
    lines = ledger_lines([journal], Lookups())
    # What a builder may return with nothing to show: no chunk, a frame without columns, or its columns without rows.
    empty = {"general_ledger": [lines.head(0)]}
    for index, spec in enumerate(DATASETS):
        assert write_dataset(engine, spec, "t1", empty.get(spec.name, [[], [pd.DataFrame()]][index % 2])) == 0
        assert _primary_key(engine, table_name(spec)) == ["tenant_id", *spec.key], spec.name
        unique, present = keys_unique(spec).run(inputs, None, {}), tenant_present(spec).run(inputs, None, {})
        assert unique.passed and unique.summary.startswith("no rows for this tenant"), (spec.name, unique.summary)
        assert present.passed, (spec.name, present.summary)

    # Another tenant's first rows (after an empty first chunk, as a chunked build may yield) retype the empty table,
    # whose columns no row had typed.
    assert write_dataset(engine, GL, "t2", iter([lines.head(0), lines])) == 1
    with engine.connect() as conn:
        kinds = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("ds_general_ledger")}
    assert isinstance(kinds["date"], sa.Date) and isinstance(kinds["journal_number"], sa.BigInteger)
    assert isinstance(kinds["net_amount"], sa.Numeric) and kinds["net_amount"].scale == 2
    assert _primary_key(engine, "ds_general_ledger") == ["tenant_id", "journal_id", "line_no"]

    # The first tenant's next empty build keeps the table and the other tenant's rows as they are.
    assert write_dataset(engine, GL, "t1", []) == 0
    stored = read_dataset(engine, GL, "t2")
    assert stored[["journal_id", "net_amount"]].values.tolist() == [["j1", Decimal("12.50")]]
    assert pd.to_datetime(stored["date"]).dt.date.tolist() == [date(2025, 12, 1)]  # SQLite answers a DATE as text
    assert keys_unique(GL).run(inputs, None, {}).summary.startswith("no rows for this tenant")
    engine.dispose()


def test_every_kind_of_cell_is_stored_as_built(database_url: str) -> None:
    """What the writer hands the database (COPY's text on PostgreSQL, an executemany on SQLite) comes back as built:
    text COPY would have to escape (tabs, newlines, backslashes, a literal \\N), missing cells of every kind, exact
    money, dates, whole numbers and flags."""
    spec = DatasetSpec("writer_round_trip", "every kind of cell", (), ("line_no",), lambda *_: [], money=("amount",))
    engine = sa.create_engine(database_url)
    awkward = ["tab\there", "two\nlines", "back\\slash", "\\N", "quote \" and '", "Māori café ✓", ""]
    count = len(awkward)
    frame = pd.DataFrame(
        {
            "line_no": list(range(count + 1)),
            "text": [*awkward, None],
            "day": [date(2026, 1, i + 1) for i in range(count)] + [None],
            "number": [*range(10, 10 + count), None],
            "flag": [i % 2 == 0 for i in range(count)] + [None],
            "amount": [Decimal("-1234567.89"), *(Decimal(f"{i}.05") for i in range(count - 1)), None],
        }
    )
    assert write_dataset(engine, spec, "t1", [frame]) == len(frame)
    stored = read_dataset(engine, spec, "t1").sort_values("line_no", ignore_index=True)
    assert stored["text"].tolist() == [*awkward, None]
    assert [None if pd.isna(d) else str(d)[:10] for d in stored["day"]] == [*map(str, frame["day"][:-1]), None]
    assert [None if pd.isna(n) else int(n) for n in stored["number"]] == [*range(10, 10 + count), None]
    assert [None if pd.isna(f) else bool(f) for f in stored["flag"]] == frame["flag"].tolist()
    assert stored["amount"].tolist() == frame["amount"].tolist()
    engine.dispose()
