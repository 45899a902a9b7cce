"""Fixtures for the Integrations page: a real sandbox over loopback, the real app over Starlette's test client
(HTTPS base URL, so the Secure session cookie is sent as a browser would), and Xero's consent pages posted as a
browser posts them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from xero_assets import sandbox_connect
from xero_assets.sandbox.identity import DEFAULT_USER_EMAIL, DEFAULT_USER_PASSWORD
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.web.app import create_app
from xero_assets.web.settings import WebSettings
from xero_assets_tests.sync.conftest import fast_config

ADMIN_PASSWORD = "correct horse battery staple"
BASE = "https://testserver"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Web:
    """The app under test, its sandbox and what it was configured with."""

    client: TestClient
    sandbox: SandboxHandle
    env: dict[str, str]
    database_url: str

    def csrf(self, path: str = "/integrations") -> str:
        page = self.client.get(path)
        found = CSRF.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def login(self, password: str = ADMIN_PASSWORD) -> httpx.Response:
        token = self.csrf("/login")
        return self.client.post("/login", data={"csrf_token": token, "password": password, "next": "/integrations"})

    def start_connect(self, permissions: list[str]) -> str:
        """Submit the permission list; returns Xero's authorize URL the app redirected to."""
        token = self.csrf("/integrations/xero/connect")
        answer = self.client.post(
            "/integrations/xero/connect", data={"csrf_token": token, "permission": permissions}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def consent_at_xero(self, authorize_url: str, tenant_ids: list[str] | None = None) -> str:
        """Log in and click "Allow access" on the sandbox's pages; returns the redirect back to the app (path+query)."""
        return consent_at_xero(authorize_url, tenant_ids)


def consent_at_xero(authorize_url: str, tenant_ids: list[str] | None = None) -> str:
    params = dict(parse_qsl(urlsplit(authorize_url).query))
    base = authorize_url.split("?")[0]
    with httpx.Client(timeout=30) as browser:
        page = browser.post(
            base, data={**params, "step": "login", "email": DEFAULT_USER_EMAIL, "password": DEFAULT_USER_PASSWORD}
        )
        session = unescape(re.search(r'name="session" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        offered = [unescape(t) for t in re.findall(r'name="tenant_id" value="([^"]+)"', page.text)]
        chosen = offered if tenant_ids is None else tenant_ids
        body = [*params.items(), ("step", "consent"), ("session", session), ("action", "allow")]
        body += [("tenant_id", t) for t in chosen]
        answer = browser.post(base, content=httpx.QueryParams(body).__str__().encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 302, answer.text
    target = urlsplit(answer.headers["location"])
    return f"{target.path}?{target.query}"


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    key = Fernet.generate_key().decode()
    with running_sandbox(fast_config(tenants=2, size="small")) as sandbox:
        redirect = f"{BASE}/callback"
        sandbox.app_state.identity.update_app(str(sandbox.info["client_id"]), [redirect])
        env = {
            **sandbox_connect.sandbox_env(sandbox.info, database_url, key),
            "XERO_REDIRECT_URI": redirect,
            "XERO_ASSETS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "XERO_ASSETS_DAGSTER_URL": "http://127.0.0.1:9",  # nothing listens: pages must say so, not fail
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app = create_app(WebSettings.from_env())
        with TestClient(app, base_url=BASE) as client:
            yield Web(client, sandbox, env, database_url)
