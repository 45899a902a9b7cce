"""The ledger datasets after a real sync of the sandbox's four countries, with and without the journals scope:
every dataset check passes, and every statement equals what Xero's report endpoints answer over HTTP right now (not
the copies the sync stored), to the cent. Then the books are broken and the matching check names the account,
month and difference; and an incremental sync after edits, voids and deletes keeps every figure tied out.
Hand-worked unit tests of the transforms live in xero_assets_tests/datasets/."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from xero_assets import catalog, reports, sandbox_connect
from xero_assets.datasets import general_ledger, ledger_reads, statements, xero_reports
from xero_assets.datasets.ledger import GL_NEEDS_JOURNALS, accounts
from xero_assets.datasets.ledger_checks import compare
from xero_assets.datasets.load import organisation, read_dataset, write_dataset
from xero_assets.datasets.registry import needed
from xero_assets.datasets.spec import CheckOutcome, DatasetInputs, DatasetSkipped
from xero_assets.defs.checks import DATASET_CHECKS
from xero_assets.defs.dashboards import BY_NAME, DATASETS, dashboards, dataset_key, granted_apis
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.defs.resources import WarehouseResource
from xero_assets.defs.rollup import ROLLUP, kpi_rollup
from xero_assets.sandbox.server import running_sandbox
from xero_assets.store import typed
from xero_assets.store.warehouse import flatten_report
from xero_assets.xero.scopes import all_scopes
from xero_assets_tests.sync.conftest import Synced, connect, fast_config
from xero_assets_tests.sync.test_assets import resources_for

STATEMENTS = {  # dataset -> (report API, parser, key, figures)
    "trial_balance": ("trial_balance", xero_reports.trial_balance, ["month", "account_id"], ["debit", "credit"]),
    "profit_and_loss_by_month": ("profit_and_loss", xero_reports.profit_and_loss, ["month", "line"], ["amount"]),
    "balance_sheet_by_month": ("balance_sheet", xero_reports.balance_sheet, ["month", "line"], ["amount"]),
    "cash_by_month": ("bank_summary", xero_reports.bank_summary, ["month", "account_id"],
                      ["opening_balance", "received", "spent", "closing_balance"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Synced, dict[str, str]]]:
    """The four countries' small organisations, fully synced once for the module (mutating tests come last)."""
    with running_sandbox(fast_config(tenants=4, size="small")) as handle:
        synced = connect(handle, f"sqlite:///{Path(tmp_path_factory.mktemp('datasets')) / 'warehouse.db'}")
        countries = {t["country"]: t["tenant_id"] for t in synced.control("GET", "tenants")["tenants"]}
        for tenant in countries.values():
            synced.sync(tenant, READS)
        yield synced, countries
        synced.close()


def inputs_for(synced: Synced, tenant: str, journals: bool) -> DatasetInputs:
    granted = granted_apis(tuple(synced.connections[tenant].scopes))
    return DatasetInputs(
        synced.warehouse.engine,
        organisation(synced.warehouse, tenant),
        datetime.now(UTC).date(),
        granted if journals else granted - {"journals"},
    )


LEDGER = ("general_ledger", *STATEMENTS, "kpis")
# What the ledger and receivables-ageing datasets read, and the organisation (not the whole catalog: payroll, quotes
# and the like cost sync time and nothing here reads them).
READS = [
    catalog.get(name)
    for name in sorted({"organisation", *(api for spec in DATASETS if spec.name in (*LEDGER, "ar_ageing")
                                          for api in spec.reads)})
]  # fmt: skip


def build_and_check(
    inputs: DatasetInputs, names: tuple[str, ...] = LEDGER
) -> tuple[dict[str, pd.DataFrame], dict[str, CheckOutcome]]:
    """The named datasets (the ledger's by default: the document datasets have their own tests) built and written
    as the asset does, then every check on each; skipped datasets left out."""
    built: dict[str, pd.DataFrame] = {}
    outcomes: dict[str, CheckOutcome] = {}
    for spec in needed(names, DATASETS):
        try:
            result = spec.build(inputs, {name: built[name] for name in spec.uses})
        except DatasetSkipped:
            continue
        frame = result if isinstance(result, pd.DataFrame) else None
        write_dataset(inputs.engine, spec, inputs.tenant_id, [result] if frame is not None else result)
        built[spec.name] = frame if frame is not None else read_dataset(inputs.engine, spec, inputs.tenant_id)
        for check in DATASET_CHECKS:
            if check.dataset == spec.name:
                outcomes[f"{spec.name}.{check.name}"] = check.run(inputs, frame, built)
    return built, outcomes


def xero_over_http(synced: Synced, tenant: str, report: str) -> pd.DataFrame:
    """The cells of `report` as Xero's endpoint answers now, for the months the sync plans to read."""
    api = catalog.get(report)
    rows = []
    for request in reports.plan(report, datetime.now(UTC).date()):
        document = synced.tenant(tenant).get_json(api.endpoint.full_path, request.params)
        for cell in flatten_report(document):
            rows.append({"period": request.period, "last_seen": 0, **cell})
    return pd.DataFrame(rows)


def failures(outcomes: Mapping[str, CheckOutcome]) -> dict[str, str]:
    return {name: f"{o.summary}\n{o.differences.head(5).to_string()}" for name, o in outcomes.items() if not o.passed}


@pytest.mark.parametrize("journals", [True, False], ids=["journals", "reports-only"])
@pytest.mark.parametrize("country", ["AU", "NZ", "GB", "US"])
def test_every_check_passes_and_every_statement_equals_xeros_reports_over_http(
    world: tuple[Synced, dict[str, str]], country: str, journals: bool
) -> None:
    synced, countries = world
    tenant = countries[country]
    inputs = inputs_for(synced, tenant, journals)
    built, outcomes = build_and_check(inputs)
    assert not failures(outcomes), failures(outcomes)
    assert set(built) == (set(LEDGER) if journals else set(LEDGER) - {"general_ledger"})
    source = "journals" if journals else "reports"
    over_http = {report: parse(xero_over_http(synced, tenant, report), accounts(inputs))
                 for report, parse, _, _ in STATEMENTS.values()}  # fmt: skip
    for name, (report, _, keys, figures) in STATEMENTS.items():
        frame = built[name]
        assert set(frame["source"]) == {source}, name
        xero = over_http[report]
        assert len(xero) > 0, f"{report}: nothing to compare with"
        outcome = compare(inputs, frame, xero, keys, figures, report)
        assert outcome.passed, f"{name} vs {report} over HTTP: {outcome.summary}\n{outcome.differences.head()}"
        assert "over 13 months" in outcome.summary  # every month the sync read
    kpis = built["kpis"].set_index("kpi")
    pnl, sheet, bank = over_http["profit_and_loss"], over_http["balance_sheet"], over_http["bank_summary"]

    def line(frame: pd.DataFrame, month: str, name: str) -> Decimal:
        return frame.loc[(frame["month"] == month) & (frame["account_name"] == name), "amount"].sum()

    month = kpis.loc["revenue", "period"]
    assert kpis.loc["revenue", "value"] == line(pnl, month, "Total Income")
    assert kpis.loc["net_profit", "value"] == line(pnl, month, "Net Profit")
    at = kpis.loc["accounts_receivable", "period"]
    assert kpis.loc["accounts_receivable", "value"] == line(sheet, at, "Accounts Receivable")
    assert kpis.loc["accounts_payable", "value"] == line(sheet, at, "Accounts Payable")
    cash_at = kpis.loc["cash", "period"]
    assert kpis.loc["cash", "value"] == sum(bank.loc[bank["month"] == cash_at, "closing_balance"])
    if journals:  # the general ledger's lines, summed, give Xero's TrialBalance for every month read
        gl = built["general_ledger"].rename(columns={"net_amount": "net"})
        movements = gl.groupby(["account_id", "month"], as_index=False)["net"].sum().assign(debits=Decimal(0))
        tb = statements.trial_balance(
            statements.monthly_ledger(movements, accounts(inputs), sorted(set(built["trial_balance"]["month"])),
                                      inputs.organisation.financial_year_end_month)
        )  # fmt: skip
        outcome = compare(
            inputs, tb, over_http["trial_balance"], ["month", "account_id"], ["debit", "credit"], "TrialBalance"
        )
        assert outcome.passed, outcome.differences.head()
    cash = built["cash_by_month"]
    per_month = cash.groupby("month")["account_id"].nunique()
    assert per_month.nunique() == 1, "every bank account has a row in every month"


def test_without_the_journals_scope_the_general_ledger_says_what_to_grant(world: tuple[Synced, dict[str, str]]) -> None:
    synced, countries = world
    inputs = inputs_for(synced, countries["AU"], journals=False)
    with pytest.raises(DatasetSkipped, match=r"grant accounting\.journals\.read for line-level detail"):
        BY_NAME["general_ledger"].build(inputs, {})


def test_the_general_ledger_names_every_line(world: tuple[Synced, dict[str, str]]) -> None:
    synced, countries = world
    inputs = inputs_for(synced, countries["GB"], journals=True)
    built, _ = build_and_check(inputs, ("general_ledger",))
    ledger = built["general_ledger"]
    assert all(isinstance(v, Decimal) for v in ledger["net_amount"])
    assert sum(ledger["net_amount"]) == 0  # every journal balances
    sales = ledger[ledger["source_type"] == "ACCREC"]
    assert sales["document_number"].notna().all() and sales["contact_name"].notna().all()
    assert sales["document_type"].eq("sales invoice").all()
    payments = ledger[ledger["source_type"] == "ACCRECPAYMENT"]
    assert payments["contact_name"].notna().all()
    assert ledger["account_name"].notna().all() and ledger["account_class"].notna().all()
    assert (ledger["gross_amount"] == ledger["net_amount"] + ledger["tax_amount"]).all()


def test_in_dagster_a_tenant_without_the_journals_scope_gets_report_datasets_with_passing_checks(
    world: tuple[Synced, dict[str, str]],
) -> None:
    """Through the asset itself: the consent decides the source, the general ledger is not materialized and says
    what to grant, and every check on what was built passes (the KPIs plotted as numbers)."""
    synced, countries = world
    tenant = countries["GB"]
    scopes = [s for s in all_scopes() if s != "accounting.journals.read"]
    sandbox_connect.consent(synced.store, tenant_ids=[tenant], scopes=scopes)
    try:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant])
        selection = [dataset_key(name) for name in ("general_ledger", *STATEMENTS, "kpis")]
        result = dg.materialize(
            [dashboards], partition_key=tenant, instance=instance, resources=resources_for(synced), selection=selection
        )
    finally:
        sandbox_connect.consent(synced.store, tenant_ids=[tenant], scopes=list(synced.connections[tenant].scopes))
    assert result.success
    materialized = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(materialized) == {*STATEMENTS, "kpis"}
    assert {m["source"].value for m in materialized.values()} == {"reports"}
    assert isinstance(materialized["kpis"]["accounts_receivable"].value, float)
    observed = [e.asset_observation_data.asset_observation for e in result.all_events
                if e.event_type_value == "ASSET_OBSERVATION"]  # fmt: skip
    assert [(o.asset_key.path[-1], o.metadata["skipped"].value) for o in observed] == [
        ("general_ledger", GL_NEEDS_JOURNALS)
    ]
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= 3 * len(materialized) and all(e.passed for e in evaluations)


@pytest.mark.postgres
def test_on_postgresql_money_is_numeric_and_every_check_passes(postgres_url: str) -> None:
    with running_sandbox(fast_config(tenants=1, size="small")) as handle:
        synced = connect(handle, postgres_url)
        try:
            tenant = next(iter(synced.connections))
            synced.sync(tenant, READS)
            inputs = inputs_for(synced, tenant, journals=True)
            built, outcomes = build_and_check(inputs)
        finally:
            synced.close()
    assert not failures(outcomes), failures(outcomes)
    assert {"general_ledger", *STATEMENTS, "kpis"} <= set(built)
    sales = built["general_ledger"][built["general_ledger"]["source_type"] == "ACCREC"]  # documents found by id
    assert len(sales) and sales["document_number"].notna().all() and sales["contact_name"].notna().all()
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        kinds = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("ds_profit_and_loss_by_month")}
        keys = sa.inspect(conn).get_pk_constraint("ds_profit_and_loss_by_month")["constrained_columns"]
        stored = conn.execute(sa.text("select amount from ds_profit_and_loss_by_month limit 1")).scalar()
    engine.dispose()
    assert isinstance(kinds["amount"], sa.Numeric) and kinds["amount"].scale == 2
    assert keys == ["tenant_id", "month", "line"] and isinstance(stored, Decimal)


def test_the_rollup_totals_each_currency_and_converts_only_with_every_rate(
    world: tuple[Synced, dict[str, str]],
) -> None:
    synced, countries = world
    cash: dict[str, Decimal] = {}
    for tenant in countries.values():
        built, _ = build_and_check(inputs_for(synced, tenant, journals=True), ("kpis",))
        currency = organisation(synced.warehouse, tenant).base_currency
        cash[currency] = built["kpis"].set_index("kpi").loc["cash", "value"]
    config = {
        "ops": {"dashboards__rollup": {"config": {"target_currency": "AUD", "rates": {"NZD": "1.10", "GBP": "0.50"}}}}
    }
    result = dg.materialize(
        [kpi_rollup], resources={"warehouse": WarehouseResource(database_url=synced.database_url)}, run_config=config
    )
    assert result.success
    rollup = read_dataset(synced.warehouse.engine, ROLLUP, "*")
    cash_rows = rollup[rollup["kpi"] == "cash"].set_index(["scope", "currency"])
    for currency, value in cash.items():  # one organisation per currency: its own figure, and its currency's total
        assert cash_rows.loc[("organisation", currency), "value"] == value
        assert cash_rows.loc[("currency_total", currency), "value"] == value
    converted = cash_rows.loc[("converted_total", "AUD")]
    assert converted["value"] is None and "no USD to AUD rate" in converted["note"]  # never a silent sum
    ratios = rollup[(rollup["kpi"] == "current_ratio") & (rollup["scope"] != "organisation")]
    assert ratios.empty  # ratios are listed per organisation, never summed


# --- the tests below change the sandbox's books, each on its own organisation, so they run after the others ---


def test_a_journal_line_missing_from_xeros_journals_fails_the_checks_naming_account_month_and_difference(
    world: tuple[Synced, dict[str, str]],
) -> None:
    synced, countries = world
    tenant = countries["NZ"]
    books = synced.sandbox.app_state.world.tenants[tenant]
    journal = next(j for j in reversed(books.ledger.journals) if j.source_type == "ACCREC" and len(j.lines) > 2)
    account, cents = journal.lines[0][0], journal.lines[0][1]
    del journal.lines[0]  # served without the line; the reports still count it, as a corrupt journal page would
    synced.sync(tenant, [catalog.get("journals")], full_refresh=True)
    _, outcomes = build_and_check(inputs_for(synced, tenant, journals=True))
    month = f"{journal.date:%Y-%m}"
    missing = Decimal(cents) / 100

    balance = outcomes["trial_balance.nets_to_zero"]
    assert not balance.passed
    assert month in set(balance.differences["period"])
    assert set(balance.differences["difference"]) == {-missing}

    pnl = outcomes["profit_and_loss_by_month.matches_xero_profit_and_loss"]
    assert not pnl.passed
    line = pnl.differences[pnl.differences["account"].str.contains(account.name, regex=False)]
    assert list(line["period"]) == [month], pnl.differences
    assert list(line["difference"]) == [missing]  # income is credit: the missing credit shows as less income
    assert "differ from Xero's ProfitAndLoss" in pnl.summary


def test_datasets_stay_tied_out_after_an_incremental_sync_of_edits_voids_and_deletes(
    world: tuple[Synced, dict[str, str]],
) -> None:
    synced, countries = world
    tenant = countries["US"]
    for spec in (
        {"action": "create", "api": "invoices", "count": 3},
        {"action": "edit", "api": "invoices", "count": 2},
        {"action": "void", "api": "invoices", "count": 1},
        {"action": "delete", "api": "payments", "count": 1},
        {"action": "create", "api": "credit_notes", "count": 1},
        {"action": "void", "api": "bank_transactions", "count": 1},
        {"action": "delete", "api": "bank_transactions", "count": 1},
        {"action": "delete", "api": "invoices", "count": 1},
    ):
        synced.control("POST", "mutate", json={"tenant_id": tenant, **spec})
    results = synced.sync(tenant, READS)  # incremental: If-Modified-Since, journals from their offset
    assert sum(r.counts.inserted for r in results if r.api == "journals") > 0
    for journals in (True, False):
        inputs = inputs_for(synced, tenant, journals)
        built, outcomes = build_and_check(inputs)
        assert not failures(outcomes), failures(outcomes)
        pnl = parse_http(synced, tenant, inputs, "profit_and_loss")
        outcome = compare(inputs, built["profit_and_loss_by_month"], pnl, ["month", "line"], ["amount"], "P&L")
        assert outcome.passed, outcome.differences.head()


def control_difference(synced: Synced, tenant: str) -> Decimal:
    """The receivables ageing less the control account as the checks see it now (zero when they tie out)."""
    _, outcomes = build_and_check(inputs_for(synced, tenant, journals=True), ("trial_balance", "ar_ageing"))
    control = outcomes["ar_ageing.equals_receivables_control_account"]
    return Decimal(0) if control.passed else Decimal(control.differences.iloc[0]["difference"])


def receivables_control_fails(synced: Synced, tenant: str, difference: Decimal) -> dict[str, CheckOutcome]:
    """Sync what changed, build, and require the receivables control check to fail naming the account, the
    as-at date and `difference`."""
    synced.sync(tenant, READS)
    _, outcomes = build_and_check(inputs_for(synced, tenant, journals=True), ("trial_balance", "ar_ageing"))
    control = outcomes["ar_ageing.equals_receivables_control_account"]
    assert not control.passed
    row = control.differences.iloc[0]
    assert "Accounts Receivable" in row["account"] and row["period"].startswith("as at ")
    assert row["difference"] == difference
    return outcomes


def test_an_invoice_line_changed_without_its_journal_fails_the_receivables_control_check(
    world: tuple[Synced, dict[str, str]],
) -> None:
    synced, countries = world
    tenant = countries["GB"]
    books = synced.sandbox.app_state.world.tenants[tenant]
    invoice = next(
        d for d in books.collections["invoices"]
        if d.type == "ACCREC" and d.status == "AUTHORISED" and d.outstanding() > 0 and not d.allocations
        and d.currency is None  # in base currency, so the ageing moves by exactly the line's change
    )  # fmt: skip
    before = invoice.total
    baseline = control_difference(synced, tenant)  # foreign-currency rounding may already leave cents (see README)
    invoice.lines[0] = replace(invoice.lines[0], unit_cents=invoice.lines[0].unit_cents + 10_000)
    grown = Decimal(invoice.total - before) / 100  # 100.00 more on the line, plus its tax
    books.collections["invoices"].touch(invoice, books.now())  # the ledger is left as it was
    outcomes = receivables_control_fails(synced, tenant, baseline + grown)
    assert outcomes["trial_balance.nets_to_zero"].passed  # the ledger itself still balances


def test_a_credit_left_unapplied_fails_the_receivables_control_check(world: tuple[Synced, dict[str, str]]) -> None:
    synced, countries = world
    tenant = countries["AU"]
    books = synced.sandbox.app_state.world.tenants[tenant]
    credit = next(
        d for d in books.collections["credit_notes"]
        if d.type == "ACCRECCREDIT" and d.status == "AUTHORISED" and d.allocations
    )  # fmt: skip
    allocation = credit.allocations.pop()  # the credit no longer shows it applied; the invoice still does
    books.collections["credit_notes"].touch(credit, books.now())
    receivables_control_fails(synced, tenant, -Decimal(allocation.amount) / 100)  # the credit counted again


def parse_http(synced: Synced, tenant: str, inputs: DatasetInputs, report: str) -> pd.DataFrame:
    _, parse, _, _ = next(v for v in STATEMENTS.values() if v[0] == report)
    return parse(xero_over_http(synced, tenant, report), accounts(inputs))


def test_each_dataset_reads_only_the_tables_of_the_apis_it_declares(world: tuple[Synced, dict[str, str]]) -> None:
    """A build never loads a table it does not need: every table a dataset's build queries belongs to an API in its
    `reads` (which is also what the lineage view draws) or to a dataset in its `uses`. Watched at the database
    driver, so a read through any path counts."""
    synced, countries = world
    inputs = inputs_for(synced, countries["AU"], journals=True)
    tables_of = {spec.api: {spec.table_name, *(c.table_name for c in spec.children)} for spec in typed.TYPED}
    shared = {"xero_raw_records", "xero_report_cells", "xero_sync_state"}  # keyed by api: any API's rows
    statements: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(inputs.engine, "before_cursor_execute", watch)
    built: dict[str, pd.DataFrame] = {}
    overreach: dict[str, set[str]] = {}
    try:
        for spec in DATASETS:
            statements.clear()
            try:
                result = spec.build(inputs, {name: built[name] for name in spec.uses})
            except DatasetSkipped:
                continue
            if isinstance(result, pd.DataFrame):
                built[spec.name] = result
            else:
                for _ in result:  # a chunked build reads as it is consumed
                    pass
            allowed = shared | {f"ds_{name}" for name in spec.uses}
            allowed |= {table for api in spec.reads for table in tables_of.get(api, set())}
            touched = {name for s in statements for name in re.findall(r"\b((?:xero|ds)_[a-z0-9_]+)\b", s)}
            if touched - allowed:
                overreach[spec.name] = touched - allowed
    finally:
        sa.event.remove(inputs.engine, "before_cursor_execute", watch)
    assert len(built) > 5
    assert not overreach, overreach


def _every_document(inputs: DatasetInputs) -> general_ledger.Lookups:
    """The look-ups as one read of every document and payment of the organisation would give them: what the
    general ledger's per-batch look-ups must equal."""
    documents: dict[str, tuple[str | None, str | None]] = {}
    for table, number in general_ledger._DOCUMENT_TABLES.values():
        frame = inputs.typed(table)
        contacts = frame["contactid"] if table not in ("xero_bank_transfers", "xero_manual_journals") else None
        for i, row_id in enumerate(frame["id"]):
            documents[row_id] = (frame[number].iloc[i] if number else None,
                                 contacts.iloc[i] if contacts is not None else None)  # fmt: skip
    payments = inputs.typed("xero_payments", ["id", "invoiceid", "creditnoteid", "overpaymentid", "prepaymentid"])
    paid = {row[0]: next(v for v in row[1:] if v) for row in payments.itertuples(index=False) if any(row[1:])}
    return replace(general_ledger.read_names(inputs), documents=documents, payments=paid)


def test_the_general_ledger_in_tiny_batches_names_lines_as_a_read_of_every_document_would(
    world: tuple[Synced, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch of journals looks up only its own documents and payments, by id: never a whole document table
    (the large organisation has 205k invoices), and named exactly as from every document at once."""
    synced, countries = world
    inputs = inputs_for(synced, countries["AU"], journals=True)
    journals = [journal for batch in ledger_reads.journal_batches(inputs, 10**9) for journal in batch]
    expected = general_ledger.ledger_lines(journals, _every_document(inputs))
    monkeypatch.setattr(ledger_reads, "CHUNK_JOURNALS", 7)
    document_tables = {table for table, _ in general_ledger._DOCUMENT_TABLES.values()} | {"xero_payments"}
    statements: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(inputs.engine, "before_cursor_execute", watch)
    try:
        chunks = list(BY_NAME["general_ledger"].build(inputs, {}))
    finally:
        sa.event.remove(inputs.engine, "before_cursor_execute", watch)
    assert len(chunks) > 3 and len(expected) > 100 and expected["document_number"].notna().sum() > 50
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), expected)
    documents_read = [s for s in statements if set(re.findall(r"\b(xero_[a-z_]+)\b", s)) & document_tables]
    assert documents_read and all("json_each" in s for s in documents_read), documents_read
