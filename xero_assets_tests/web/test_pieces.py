"""The Integrations page's parts on their own: datasets read to the cent (missing ones said, never a crash), charts,
settings errors, and ports that are taken refused by `serve` and by the demo before any work."""

from __future__ import annotations

import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from xero_assets.store.db import make_engine
from xero_assets.web.charts import bar_chart
from xero_assets.web.datasets import DatasetReader, money
from xero_assets.web.render import money as shown
from xero_assets.web.render import month_label, when
from xero_assets.web.serve import check_port_free
from xero_assets.web.settings import WebSettings
from xero_assets.xero.config import ConfigError

CLI = Path(sys.executable).with_name("xero-assets")


def test_money_is_rounded_to_the_cent_from_floats_and_decimals() -> None:
    assert money(0.1 + 0.2) == Decimal("0.30")
    assert money(1234.005) == Decimal("1234.01")  # half up on the shortest repr, not on the binary value
    assert money(Decimal("-10.555")) == Decimal("-10.56")
    assert money(None) is None and money("n/a") is None and money(float("nan")) is None
    assert shown(Decimal("-1234.5"), "AUD") == "-AUD 1,234.50"


def test_dashboard_reads_what_is_built_and_names_what_is_not(database_url: str) -> None:
    engine = make_engine(database_url)
    pd.DataFrame(
        {"kpi": ["accounts_receivable", "dso_days", "runway_months"], "label": ["Accounts receivable", "DSO", "Runway"],
         "value": [1234.56, 41.3, None], "unit": ["currency", "days", "months"], "period": ["2026-11"] * 3,
         "tenant_id": "t1"}
    ).to_sql("ds_kpis", engine, index=False)  # fmt: skip
    pd.DataFrame(
        {"account_id": ["a", "a", "b", "b"], "month": ["2026-10", "2026-11", "2026-10", "2026-11"],
         "closing_balance": [100.10, 102.10, 50.0, 50.0], "tenant_id": "t1"}
    ).to_sql("ds_cash_by_month", engine, index=False)  # fmt: skip
    pd.DataFrame(
        {"month": ["2026-11", "2026-11"], "line": ["Total Income", "Net Profit"], "amount": [0.1 + 0.2, 5.0],
         "tenant_id": "t1"}
    ).to_sql("ds_profit_and_loss_by_month", engine, index=False)  # fmt: skip
    pd.DataFrame({"kpi": ["accounts_receivable"], "value": [999.0], "tenant_id": "other"}).to_sql(
        "ds_kpis", engine, index=False, if_exists="append"
    )
    figures = DatasetReader(engine).dashboard("t1")
    assert [(k.name, k.value, k.is_money) for k in figures.kpis] == [
        ("accounts_receivable", Decimal("1234.56"), True),
        ("dso_days", Decimal("41.30"), False),
        ("runway_months", None, False),
    ]
    assert figures.cash_by_month == [("2026-10", Decimal("150.10")), ("2026-11", Decimal("152.10"))]
    assert figures.revenue_by_month == [("2026-11", Decimal("0.30"))]
    assert set(figures.missing) == {"ar_ageing", "recurring_revenue"}
    engine.dispose()


def test_bar_chart_hangs_negative_bars_below_the_zero_line() -> None:
    chart = bar_chart("Net", [("2026-10", Decimal("100")), ("2026-11", Decimal("-50"))])
    up, down = chart.bars
    assert not up.negative and down.negative
    assert up.y + up.height == pytest.approx(chart.zero_y, abs=0.1)
    assert down.y == pytest.approx(chart.zero_y, abs=0.1)
    assert up.height == pytest.approx(2 * down.height, rel=0.01)
    assert bar_chart("Empty", []).bars == []


def test_dates_follow_the_organisations_country() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 12, 1, 19, 5, tzinfo=UTC)
    assert when(moment, "AU") == "1 Dec 2026 19:05 UTC"
    assert when(moment, "US") == "Dec 1, 2026 19:05 UTC"
    assert when(None) == "never"
    assert month_label("2026-11") == "Nov 2026"


def test_settings_name_the_variable_to_set() -> None:
    base = {"XERO_CLIENT_ID": "app"}
    with pytest.raises(ConfigError, match="XERO_ASSETS_ADMIN_PASSWORD is not set"):
        WebSettings.from_env(base)
    with pytest.raises(ConfigError, match="shorter than 12"):
        WebSettings.from_env({**base, "XERO_ASSETS_ADMIN_PASSWORD": "short"})
    with pytest.raises(ConfigError, match="XERO_SCOPE_STYLE"):
        WebSettings.from_env({**base, "XERO_ASSETS_ADMIN_PASSWORD": "x" * 12, "XERO_SCOPE_STYLE": "wide"})
    settings = WebSettings.from_env({**base, "XERO_ASSETS_ADMIN_PASSWORD": "x" * 12, "XERO_SCOPE_STYLE": "granular"})
    assert settings.callback_path == "/callback" and "x" * 12 not in repr(settings)


@pytest.fixture
def taken_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_taken_port_is_refused_with_its_number(taken_port: int) -> None:
    with pytest.raises(ConfigError, match=f"127.0.0.1:{taken_port}: another program is already listening"):
        check_port_free("127.0.0.1", taken_port)
    env = {"PATH": "/usr/bin:/bin", "XERO_CLIENT_ID": "app", "XERO_ASSETS_ADMIN_PASSWORD": "x" * 16}
    serve = subprocess.run([str(CLI), "serve", "--port", str(taken_port)], capture_output=True, text=True, env=env,
                           timeout=60)  # fmt: skip
    assert serve.returncode == 1 and f"127.0.0.1:{taken_port}" in serve.stderr, serve.stderr
    demo = subprocess.run([str(CLI), "demo", "--web-port", str(taken_port)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=60)  # fmt: skip
    assert demo.returncode == 1 and "the Integrations page" in demo.stderr and "Traceback" not in demo.stderr
    assert "Connected" not in demo.stdout  # refused before any work


def test_serve_without_a_password_says_which_variable(tmp_path: Path) -> None:
    result = subprocess.run([str(CLI), "serve", "--port", "0"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "XERO_CLIENT_ID": "app"}, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1 and "XERO_ASSETS_ADMIN_PASSWORD is not set" in result.stderr


def test_each_api_row_says_what_happened_to_it(sqlite_url: str) -> None:
    from datetime import UTC, datetime

    from xero_assets.store.tokens import Connection, ConnectionStatus
    from xero_assets.store.warehouse import SyncState, Warehouse, now_utc
    from xero_assets.web.dagster_runs import RunView
    from xero_assets.web.organisations import api_rows, card_status, organisations
    from xero_assets.web.routes.organisation import _run_state

    warehouse = Warehouse(make_engine(sqlite_url))
    warehouse.create()
    seen = now_utc()
    warehouse.write_records("t1", "organisation", [{"OrganisationID": "o", "CountryCode": "US", "BaseCurrency": "USD"}],
                            id_field="OrganisationID", updated_field=None, seen_at=seen)  # fmt: skip
    warehouse.save_state("t1", "organisation", SyncState(last_completed=seen))
    warehouse.write_records("t1", "contacts", [{"ContactID": "c1"}, {"ContactID": "c2"}], id_field="ContactID",
                            updated_field=None, seen_at=seen)  # fmt: skip
    now = datetime.now(UTC)
    connection = Connection("t1", "Helix IT", "ORGANISATION", ConnectionStatus.ACTIVE,
                            ("offline_access", "accounting.settings.read", "accounting.contacts.read"),
                            "c", None, None, now, now, None)  # fmt: skip
    [org] = organisations([connection], warehouse)
    assert (org.country, org.currency, card_status([org])) == ("US", "USD", "Success")
    runs = [
        RunView("new", "STARTED", ("xero/contacts",), (), now, None, None, "u"),
        RunView("old", "FAILURE", ("xero/contacts", "xero/users"), (), now, now, "Xero answered 500 on /Users", "u"),
    ]
    running, failed = _run_state(runs)
    assert running == {"xero/contacts"} and failed == {"xero/users": "Xero answered 500 on /Users"}
    rows = {row.api.name: row for row in api_rows(org, warehouse, running=running, failed=failed)}
    assert (rows["organisation"].status, rows["organisation"].rows) == ("synced", 1)
    assert rows["contacts"].status == "syncing now" and rows["contacts"].rows == 2
    assert rows["users"].status == "failed: Xero answered 500 on /Users"
    assert rows["invoices"].status == "skipped: scope accounting.transactions.read not granted"
    assert not rows["invoices"].syncable and rows["accounts"].syncable
    assert rows["payroll_employees"].status.startswith("skipped")  # not granted (and no US payroll either)
    assert rows["tax_reports"].status == "skipped: scope accounting.reports.read not granted"
    assert rows["employees"].status == "skipped: Xero removed this API"
    assert rows["accounts"].status == "never synced"
    warehouse.engine.dispose()


def test_sessions_expire_when_idle_and_a_flood_of_visits_evicts_only_signed_out_ones(monkeypatch) -> None:
    from xero_assets.web import security

    now = [0.0]
    store = security.SessionStore(idle_seconds=60, clock=lambda: now[0])
    admin = store.new()
    admin.authenticated = True
    monkeypatch.setattr(security, "MAX_SESSIONS", 3)
    visitors = [store.new() for _ in range(5)]
    assert store.get(admin.id) is admin
    assert [store.get(v.id) is not None for v in visitors] == [False, False, False, True, True]
    now[0] = 61.0
    assert store.get(admin.id) is None  # idle too long
