"""The Integrations page refuses what it must: no session, a missing or wrong CSRF token, a wrong OAuth state, a
replayed callback, too many wrong passwords; and no token or secret reaches a page, a log line or a cookie."""

from __future__ import annotations

import logging
import re
import time

import pytest

from xero_assets.store.tokens import ConnectionStatus
from xero_assets.web.security import SESSION_COOKIE
from xero_assets_tests.web.conftest import ADMIN_PASSWORD, Web

DEFAULTS = ["offline_access", "accounting.settings.read", "accounting.reports.read", "accounting.contacts.read",
            "accounting.transactions.read"]  # fmt: skip


def _connect(web: Web, permissions: list[str] = DEFAULTS, tenant_ids: list[str] | None = None) -> str:
    """The whole consent; returns the callback (path and query) that completed it."""
    callback = web.consent_at_xero(web.start_connect(permissions), tenant_ids)
    answer = web.client.get(callback, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/integrations/xero/connected", answer.text
    return callback


def _store(web: Web):  # type: ignore[no-untyped-def]
    return web.client.app.state.web.store  # type: ignore[attr-defined]


def test_every_page_and_form_without_a_session_is_refused(web: Web) -> None:
    for path in ("/integrations", "/integrations/xero/connect", "/organisations/x", "/dashboards"):
        answer = web.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    for path in ("/integrations/xero/connect", "/organisations/x/sync", "/organisations/x/remove", "/logout"):
        assert web.client.post(path, data={"csrf_token": "x"}).status_code == 403, path
    assert web.client.get("/callback?code=abc&state=def").status_code == 403


def test_a_signed_out_visitor_is_sent_to_login_and_back() -> None:
    from xero_assets.web.routes.auth import _safe_next

    assert _safe_next("/organisations/abc") == "/organisations/abc"
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", None, ""):
        assert _safe_next(hostile) == "/integrations"


def test_forms_without_or_with_a_wrong_csrf_token_are_refused_and_do_nothing(web: Web) -> None:
    assert web.client.post("/login", data={"password": ADMIN_PASSWORD}).status_code == 403
    web.login()
    for data in ({"permission": DEFAULTS}, {"permission": DEFAULTS, "csrf_token": "forged"}):
        answer = web.client.post("/integrations/xero/connect", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert web.client.app.state.web.sessions  # type: ignore[attr-defined]
    session = next(iter(web.client.app.state.web.sessions._sessions.values()))  # type: ignore[attr-defined]
    assert session.pending == []  # no authorize request was started


def test_login_rotates_the_session_and_sets_a_secure_httponly_samesite_cookie(web: Web) -> None:
    web.client.get("/login")
    before = web.client.cookies.get(SESSION_COOKIE)
    answer = web.login()
    assert answer.status_code == 200  # followed to Integrations
    after = web.client.cookies.get(SESSION_COOKIE)
    assert before and after and before != after
    set_cookie = answer.history[0].headers["set-cookie"].lower()
    for attribute in ("httponly", "secure", "samesite=lax", "path=/"):
        assert attribute in set_cookie


def test_wrong_passwords_are_throttled_even_when_the_right_one_follows(web: Web) -> None:
    for _ in range(5):
        assert web.login("not the password").status_code == 401
    throttled = web.login(ADMIN_PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text
    assert web.client.get("/integrations", follow_redirects=False).status_code == 303  # still signed out


def test_a_wrong_oauth_state_is_refused_and_connects_nothing(web: Web) -> None:
    web.login()
    callback = web.consent_at_xero(web.start_connect(DEFAULTS))
    forged = re.sub(r"state=[^&]+", "state=forged-state", callback)
    answer = web.client.get(forged, follow_redirects=False)
    assert answer.status_code == 403 and "state" in answer.text
    assert _store(web).list_connections() == []


def test_a_callback_in_another_session_is_refused(web: Web) -> None:
    web.login()
    callback = web.consent_at_xero(web.start_connect(DEFAULTS))
    web.client.cookies.clear()
    assert web.client.get(callback, follow_redirects=False).status_code == 403
    assert _store(web).list_connections() == []


def test_a_replayed_callback_is_refused(web: Web) -> None:
    web.login()
    callback = _connect(web)
    connections = _store(web).list_connections()
    assert {c.status for c in connections} == {ConnectionStatus.ACTIVE} and len(connections) == 2
    replay = web.client.get(callback, follow_redirects=False)
    assert replay.status_code == 403
    assert len(_store(web).list_connections()) == 2


def test_connect_shows_success_then_integrations_shows_success(web: Web) -> None:
    web.login()
    _connect(web)
    page = web.client.get("/integrations/xero/connected")
    assert "Xero oauth redirect success!" in page.text
    assert "starts within a minute" in page.text  # new organisations: the sensor's first sync
    integrations = web.client.get("/integrations").text
    assert re.search(r"Status: <span class=\"badge badge-success\">Success</span>", integrations)
    for connection in _store(web).list_connections():
        assert connection.tenant_name in integrations


def test_reconnecting_with_an_optional_permission_says_which_apis_it_adds(web: Web) -> None:
    web.login()
    tenant = web.sandbox.info["tenants"][0]["tenant_id"]
    _connect(web, tenant_ids=[tenant])
    _connect(web, [*DEFAULTS, "accounting.journals.read"], tenant_ids=[tenant])
    page = web.client.get("/integrations/xero/connected").text
    for _ in range(100):  # Dagster is not running here: the page says so (the re-sync starts in the background)
        if "could not start" in page:
            break
        time.sleep(0.1)
        page = web.client.get("/integrations/xero/connected").text
    assert "The sync after reconnecting could not start" in page
    assert "Permissions changed for" in page
    assert "Adds: Journals (general ledger)" in page
    assert "accounting.journals.read" in _store(web).get_connection(tenant).scopes


def test_no_token_or_secret_reaches_a_page_a_log_line_or_a_cookie(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pages = [web.login().text]
    callback = _connect(web, [*DEFAULTS, "payroll.employees.read"])
    code = dict(part.split("=", 1) for part in callback.split("?", 1)[1].split("&"))["code"]
    store = _store(web)
    connections = store.list_connections()
    tenant = connections[0].tenant_id
    org = f"/organisations/{tenant}"
    for path in ("/integrations/xero/connected", "/integrations", "/integrations/xero/connect", org,
                 f"{org}/dashboard", f"{org}/remove", "/dashboards"):  # fmt: skip
        answer = web.client.get(path)
        assert answer.status_code == 200, path
        pages.append(answer.text)
    secrets = {
        "access token": store.access_token(tenant),
        "refresh token": store.refresh_token_of(connections[0].token_id),
        "client secret": web.env["XERO_CLIENT_SECRET"],
        "token key": web.env["XERO_ASSETS_SECRET_KEY"],
        "admin password": ADMIN_PASSWORD,
        "authorization code": code,
    }
    cookies = " ".join(f"{c.name}={c.value}" for c in web.client.cookies.jar)
    # Everything logged but the test client's own request lines (it plays the browser, whose URL bar holds the code).
    logs = "\n".join(r.getMessage() for r in caplog.records if "https://testserver" not in r.getMessage())
    for name, value in secrets.items():
        assert value and len(value) > 8, name
        for where, text in (("a page", "\n".join(pages)), ("a cookie", cookies), ("the log", logs)):
            assert value not in text, f"the {name} appears in {where}"
