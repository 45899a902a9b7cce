"""The product page's flow in a real browser (headless Chromium), against the sandbox and a real `dagster dev`.

Sign in, connect with the permission list choosing an optional permission, Xero's (the sandbox's) login and consent
pages, "Xero oauth redirect success!", Integrations showing Success, the first sync run, Sync Data on Invoices with
the new rows appearing, the dashboard's figures equal to the datasets to the cent, and Remove. Every page is saved
as a screenshot at a laptop's width and a phone's (test-artifacts/web/), checked for horizontal overflow at 375 px,
and walked with the Tab key (every stop has a name, every form field a label).

Chromium comes from Debian (`apt-get install chromium`), driven by Playwright for Python; without it the test skips
with the reason locally and fails under CI=true. One `dagster dev` serves the whole module.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from cryptography.fernet import Fernet

from xero_assets import sandbox_connect
from xero_assets.sandbox.identity import DEFAULT_USER_EMAIL, DEFAULT_USER_PASSWORD
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.web.render import money
from xero_assets_tests.conftest import skip_or_fail
from xero_assets_tests.sync.conftest import WINDOW_S, fast_config
from xero_assets_tests.web.conftest import ADMIN_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = Path(os.environ.get("XERO_ASSETS_TEST_CHROMIUM", "/usr/bin/chromium"))
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 812}

pytestmark = pytest.mark.timeout(900)


def browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not at {CHROMIUM} (apt-get install chromium, or set XERO_ASSETS_TEST_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    """Skip (locally) or fail (CI=true) without a browser, as the PostgreSQL tests do without a server."""
    skip_or_fail(browser_problem(), "the browser test")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Stack:
    sandbox: SandboxHandle
    web_url: str
    dagster_url: str
    database_url: str
    log: Path
    dagster_home: Path


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The sandbox (2 organisations), `dagster dev` and the Integrations page, all on free loopback ports.

    Its own temporary directory rather than pytest's: pytest prunes old base directories of the same user, and on a
    machine where several test sessions run at once that can remove a Dagster home in use. Dagster's log is kept
    beside the screenshots."""
    require_browser()
    tmp = Path(tempfile.mkdtemp(prefix="xero-assets-browser-"))
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    database_url = f"sqlite:///{tmp / 'warehouse.db'}"
    key = Fernet.generate_key().decode()
    dagster_port, web_port = _free_port(), _free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    with running_sandbox(fast_config(tenants=2, size="small")) as sandbox:
        redirect = f"{web_url}/callback"
        sandbox.app_state.identity.update_app(str(sandbox.info["client_id"]), [redirect])
        env = {
            **sandbox_connect.sandbox_env(sandbox.info, database_url, key),
            "XERO_REDIRECT_URI": redirect,
            "XERO_ASSETS_MINUTE_SECONDS": str(WINDOW_S),
            "XERO_ASSETS_DAGSTER_URL": f"http://127.0.0.1:{dagster_port}",
            "XERO_ASSETS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "DAGSTER_HOME": str(home),
        }
        log_path = tmp / "dagster_dev.log"
        log = log_path.open("w")
        dagster = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml", "-p", str(dagster_port)],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        server = None
        try:
            from xero_assets.web.app import create_app
            from xero_assets.web.settings import WebSettings

            app = create_app(WebSettings.from_env())
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=web_port, access_log=False,
                                                   log_level="warning"))  # fmt: skip
            threading.Thread(target=server.run, daemon=True).start()
            _wait("the Integrations page", lambda: server.started, 30, 0.05)
            _wait("dagster dev", lambda: _answers(f"http://127.0.0.1:{dagster_port}/server_info"), 180)
            yield Stack(sandbox, web_url, f"http://127.0.0.1:{dagster_port}", database_url, log_path, home)
        finally:
            if server is not None:
                server.should_exit = True
            os.killpg(dagster.pid, signal.SIGKILL)
            dagster.wait(30)
            log.close()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, ARTIFACTS / "dagster_dev.log")
            shutil.rmtree(tmp, ignore_errors=True)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


# --- what every page must pass ---------------------------------------------------------------------------------

_TAB_STOP = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const labelled = el.labels && el.labels.length ? Array.from(el.labels).map(l => l.innerText).join(' ') : '';
  const name = (el.getAttribute('aria-label') || labelled || el.innerText || el.value || el.title || '').trim();
  return {tag: el.tagName.toLowerCase(), name: name, id: el.id, visible: !!(el.offsetWidth || el.offsetHeight)};
}"""
_UNLABELLED = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.id)"""
_OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def check_page(page: Any, name: str, ours: bool = True, walk: bool = True) -> None:
    """Screenshots at both widths, no horizontal overflow at 375 px, and (on our pages) a keyboard walk: the first
    Tab stop skips to the content, and every stop after it has a name. A page that reloads itself (a run in
    flight) may reload under the check: it is then checked again, on the reloaded page."""
    from playwright.sync_api import Error

    for attempt in range(5):
        try:
            _check_page(page, name, ours, walk)
            return
        except Error:
            if walk or attempt == 4:
                raise
            page.wait_for_load_state()


def _check_page(page: Any, name: str, ours: bool, walk: bool) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}-laptop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    scroll_width, width = page.evaluate(_OVERFLOW)
    assert scroll_width <= width, f"{name}: the page is {scroll_width}px wide on a {width}px phone"
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)
    assert page.evaluate(_UNLABELLED) == [], f"{name}: form fields without a label"
    if not (ours and walk):  # not ours: Xero's; not walk: a page that reloads itself while a run is in flight
        return
    page.reload()  # focus back where a keyboard user arriving on the page starts
    if page.evaluate(_TAB_STOP) is None:
        page.keyboard.press("Tab")
        first = page.evaluate(_TAB_STOP)
        assert first and first["name"] == "Skip to content", f"{name}: the first Tab stop is {first}"
    for _ in range(60):
        stop = page.evaluate(_TAB_STOP)
        if stop is None:
            break
        assert stop["name"], f"{name}: a Tab stop without a name: {stop}"
        page.keyboard.press("Tab")


def _reload_until(page: Any, what: str, check: Callable[[], bool], timeout: float) -> None:
    """Reload until `check` holds. The Detail page also reloads itself while a run is in flight, and a reload that
    crosses one of its own is aborted: that try just counts as not ready yet."""
    from playwright.sync_api import Error

    url = page.url.split("#")[0]

    def ready() -> bool:
        try:
            page.goto(url)
            return check()
        except Error:
            return False

    _wait(what, ready, timeout, 2)


def _cell(page: Any, api: str, column: str) -> str:
    return page.locator(f"#api-{api} td.{column}").inner_text().strip()


def _datasets(database_url: str, table: str, tenant_id: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT * FROM "{table}" WHERE tenant_id = :t'), {"t": tenant_id})
        found = [dict(r._mapping) for r in rows]
    engine.dispose()
    return found


def test_connect_sync_dashboard_and_remove_in_a_browser(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    tenants = stack.sandbox.info["tenants"]
    chosen, other = tenants[0], tenants[1]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport=LAPTOP).new_page()
        page.set_default_timeout(90_000)  # a shared 2-core machine: navigations can take long, never forever
        try:
            # Sign in, by keyboard: the password field has focus, Enter submits.
            page.goto(f"{stack.web_url}/integrations")
            assert page.url.startswith(f"{stack.web_url}/login")
            check_page(page, "01-login")
            page.locator("#password").focus()
            page.keyboard.type(ADMIN_PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(f"{stack.web_url}/integrations")
            assert "Not connected" in page.inner_text(".integration .status")
            check_page(page, "02-integrations-empty")

            # The permission list: defaults checked, optional ones not; choose one optional permission.
            page.get_by_role("link", name="Connect Xero").click()
            journals = page.get_by_label("accounting.journals.read", exact=False)
            assert page.get_by_label("accounting.contacts.read", exact=False).is_checked()
            assert (
                not journals.is_checked() and not page.get_by_label("payroll.employees.read", exact=False).is_checked()
            )
            assert "View your general ledger." in page.inner_text(".permissions")
            check_page(page, "03-connect")
            journals.check()
            page.get_by_role("button", name="Sync").click()

            # Xero's pages (the sandbox's): log in, choose one of the two organisations, Allow access.
            page.wait_for_url(f"{stack.sandbox.base_url}/**")
            check_page(page, "04-xero-login", ours=False)
            page.get_by_label("Email address").fill(DEFAULT_USER_EMAIL)
            page.get_by_label("Password").fill(DEFAULT_USER_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_label(other["name"]).uncheck()
            check_page(page, "05-xero-consent", ours=False)
            page.get_by_role("button", name="Allow access").click()

            page.wait_for_url(f"{stack.web_url}/integrations/xero/connected")
            assert "Xero oauth redirect success!" in page.inner_text("h1")
            assert page.locator(".warning").count() == 0, page.inner_text("main")
            assert chosen["name"] in page.inner_text("main")
            check_page(page, "06-success")
            page.get_by_role("link", name="Back to Integrations").click()
            assert page.inner_text(".integration .status").strip() == "Status: Success"
            assert chosen["name"] in page.inner_text("table.orgs") and other["name"] not in page.inner_text("main")
            check_page(page, "07-integrations-success")

            # Detail: the first sync (started by the callback) runs to the end; a scope not granted is said so.
            page.locator("details.menu summary").first.click()
            page.get_by_role("link", name="Detail").click()
            tenant = chosen["tenant_id"]
            _reload_until(page, "the first sync", lambda: _latest_run(page) == "success", 480)
            assert "skipped: scope payroll.employees.read not granted" in _cell_text(page, "payroll_employees")
            assert int(_cell(page, "journals", "rows").replace(",", "")) > 0  # the optional permission's data
            run_link = page.locator(".runs li a").first.get_attribute("href")
            assert run_link and run_link.startswith(f"{stack.dagster_url}/runs/")

            # New invoices at Xero, then Sync Data on Invoices alone: its rows grow to what Xero has.
            before = int(_cell(page, "invoices", "rows").replace(",", ""))
            new_invoices = {"tenant_id": tenant, "action": "create", "api": "invoices", "count": 3}
            httpx.post(f"{stack.sandbox.base_url}/_sandbox/mutate", json=new_invoices, timeout=60).raise_for_status()
            truth = httpx.get(f"{stack.sandbox.base_url}/_sandbox/truth/{tenant}", timeout=60).json()
            expected = len(truth["collections"]["invoices"])
            assert expected == before + 3
            page.get_by_role("button", name="Sync Data: Invoices").click()
            assert "Sync of Invoices" in page.inner_text(".notice")
            check_page(page, "08-detail-syncing", walk=False)
            _reload_until(
                page,
                "the Invoices sync",
                lambda: int(_cell(page, "invoices", "rows").replace(",", "")) == expected,
                180,
            )
            _reload_until(page, "the run to finish", lambda: _latest_run(page) == "success", 120)
            assert _cell_text(page, "invoices") == "synced"
            # In Dagster's UI both runs (the sensor's first sync and Sync Data) are found by the organisation's name.
            import dagster as dg

            instance = dg.DagsterInstance.from_config(str(stack.dagster_home))
            named = instance.get_runs(dg.RunsFilter(tags={"xero/organisation": chosen["name"]}))
            assert len(named) == 2 and {r.tags["dagster/partition"] for r in named} == {tenant}
            check_page(page, "09-detail-synced")

            # The dashboard: each KPI tile and each month of revenue equal to the datasets, to the cent.
            page.get_by_role("link", name="Dashboard", exact=True).click()
            currency = page.locator("[data-currency]").get_attribute("data-currency")
            from xero_assets.web.datasets import Kpi
            from xero_assets.web.render import kpi_value

            kpis = _datasets(stack.database_url, "ds_kpis", tenant)
            assert kpis, "the first sync built no KPIs"
            for row in kpis:
                tile = page.locator(f'[data-kpi="{row["kpi"]}"] .tile-value').inner_text()
                value = None if row["value"] is None else Decimal(str(row["value"])).quantize(Decimal("0.01"))
                shown = kpi_value(Kpi(row["kpi"], row["label"], value, row["unit"], row["period"]), currency)
                assert tile == shown, f"{row['kpi']}: page {tile!r}, dataset {shown!r}"
            figures = page.locator('table.figures[data-chart="1"]').text_content()  # in a closed <details>
            income = [r for r in _datasets(stack.database_url, "ds_profit_and_loss_by_month", tenant)
                      if r["line"] == "Total Income"]  # fmt: skip
            assert income
            for row in sorted(income, key=lambda r: r["month"])[-13:]:
                assert money(Decimal(str(row["amount"])).quantize(Decimal("0.01")), currency) in figures
            check_page(page, "10-dashboard")
            page.get_by_role("link", name="Dashboards", exact=True).first.click()
            assert chosen["name"] in page.inner_text("table.rollup")
            check_page(page, "11-rollup")

            # Remove: ellipsis, Remove, confirm; deleted at Xero, shown inactive, data kept.
            page.get_by_role("link", name="Integrations", exact=True).first.click()
            page.locator("details.menu summary").first.click()
            page.get_by_role("link", name="Remove").click()
            check_page(page, "12-remove")
            page.get_by_role("button", name="Remove").click()
            assert "Removed" in page.inner_text(".notice")
            assert "Inactive (removed)" in page.inner_text("table.orgs")
            assert "Not connected" in page.inner_text(".integration .status")
            check_page(page, "13-integrations-removed")
            identity = stack.sandbox.app_state.identity
            ours = [c for c in identity._connections.values()  # type: ignore[attr-defined]
                    if c.tenant_id == tenant and c.client_id == stack.sandbox.info["client_id"]]  # fmt: skip
            assert not ours  # deleted at Xero (the sandbox's custom-connection app keeps its own)
            assert _datasets(stack.database_url, "ds_kpis", tenant)  # kept: no purge was asked for
        finally:
            browser.close()


def _latest_run(page: Any) -> str:
    """The newest run's status on the Detail page ("" while none is listed; Dagster's problem, if any, fails)."""
    problem = page.locator(".warning")
    assert problem.count() == 0, problem.first.inner_text()
    runs = page.locator(".runs li .badge")
    return runs.first.inner_text().strip() if runs.count() else ""


def _cell_text(page: Any, api: str) -> str:
    return page.locator(f"#api-{api} .state").inner_text().strip()
