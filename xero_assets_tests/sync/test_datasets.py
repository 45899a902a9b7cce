"""The ledger datasets after a real sync of the sandbox's four countries, with and without the journals scope:
every dataset check passes, and every statement equals what Xero's report endpoints answer over HTTP right now (not
the copies the sync stored), to the cent. Then the books are broken and the matching check names the account,
month and difference; and an incremental sync after edits, voids and deletes keeps every figure tied out.
Hand-worked unit tests of the transforms live in xero_assets_tests/datasets/."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from xero_assets import catalog, reports
from xero_assets.datasets import xero_reports
from xero_assets.datasets.ledger import accounts
from xero_assets.datasets.ledger_checks import compare
from xero_assets.datasets.load import organisation, read_dataset, write_dataset
from xero_assets.datasets.spec import CheckOutcome, DatasetInputs, DatasetSkipped
from xero_assets.defs.checks import DATASET_CHECKS
from xero_assets.defs.dashboards import BY_NAME, DATASETS, granted_apis
from xero_assets.sandbox.server import running_sandbox
from xero_assets.store.warehouse import flatten_report
from xero_assets_tests.sync.conftest import Synced, connect, fast_config

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
            synced.sync(tenant)
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


def build_and_check(inputs: DatasetInputs) -> tuple[dict[str, pd.DataFrame], dict[str, CheckOutcome]]:
    """Every dataset built and written as the asset does, then every check on it; skipped datasets left out."""
    built: dict[str, pd.DataFrame] = {}
    outcomes: dict[str, CheckOutcome] = {}
    for spec in DATASETS:
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
    expected = {"general_ledger", *STATEMENTS, "kpis"} if journals else {*STATEMENTS, "kpis"}
    assert set(built) & {"general_ledger", *STATEMENTS, "kpis"} == expected  # the document datasets: their own tests
    source = "journals" if journals else "reports"
    for name, (report, parse, keys, figures) in STATEMENTS.items():
        frame = built[name]
        assert set(frame["source"]) == {source}, name
        xero = parse(xero_over_http(synced, tenant, report), accounts(inputs))
        assert len(xero) > 0, f"{report}: nothing to compare with"
        outcome = compare(inputs, frame, xero, keys, figures, report)
        assert outcome.passed, f"{name} vs {report} over HTTP: {outcome.summary}\n{outcome.differences.head()}"
        assert "over 13 months" in outcome.summary  # every month the sync read
    kpis = built["kpis"].set_index("kpi")["value"]
    sheet = built["balance_sheet_by_month"]
    latest = sheet[sheet["month"] == sheet["month"].max()].set_index("account_name")["amount"]
    assert kpis["accounts_receivable"] == latest["Accounts Receivable"]
    assert kpis["accounts_payable"] == latest["Accounts Payable"]
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
    built, _ = build_and_check(inputs)
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
    results = synced.sync(tenant)  # incremental: If-Modified-Since, journals from their offset
    assert sum(r.counts.inserted for r in results if r.api == "journals") > 0
    for journals in (True, False):
        inputs = inputs_for(synced, tenant, journals)
        built, outcomes = build_and_check(inputs)
        assert not failures(outcomes), failures(outcomes)
        pnl = parse_http(synced, tenant, inputs, "profit_and_loss")
        outcome = compare(inputs, built["profit_and_loss_by_month"], pnl, ["month", "line"], ["amount"], "P&L")
        assert outcome.passed, outcome.differences.head()


def parse_http(synced: Synced, tenant: str, inputs: DatasetInputs, report: str) -> pd.DataFrame:
    _, parse, _, _ = next(v for v in STATEMENTS.values() if v[0] == report)
    return parse(xero_over_http(synced, tenant, report), accounts(inputs))
