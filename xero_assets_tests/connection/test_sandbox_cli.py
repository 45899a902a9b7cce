"""Done-when: connect, connections, a data call (sync) and disconnect, driven through the CLI against the sandbox.

`xero-assets connect --no-browser` runs as a real subprocess: it prints the authorize URL and listens on the redirect
URI's port; the test consents through the sandbox (as a user clicking "Allow access" would) and follows the redirect
to that local callback, which must check state and answer "Xero oauth redirect success!".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from xero_assets.cli import main
from xero_assets.defs.resources import XeroResource
from xero_assets.store.db import make_engine
from xero_assets.store.warehouse import Warehouse
from xero_assets.xero.scopes import default_scopes
from xero_assets_tests.connection.conftest import SANDBOX_LIMITS, Sandbox

REDIRECT_URI = "http://127.0.0.1:8792/callback"


@pytest.fixture
def cli_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return {
        "XERO_CLIENT_ID": sandbox.info["client_id"],
        "XERO_CLIENT_SECRET": sandbox.info["client_secret"],
        "XERO_REDIRECT_URI": REDIRECT_URI,
        "XERO_LOGIN_URL": sandbox.base_url,
        "XERO_IDENTITY_URL": sandbox.base_url,
        "XERO_API_URL": sandbox.base_url,
        "XERO_ASSETS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "XERO_ASSETS_SECRET_KEY": Fernet.generate_key().decode(),
    }


def _connect_through_the_cli(sandbox: Sandbox, env: dict[str, str], tenant_ids: list[str]) -> str:
    command = [sys.executable, "-c", "from xero_assets.cli import main; main()", "connect", "--no-browser"]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if "/identity/connect/authorize?" in line:
                url = line.strip()
                break
        assert url.startswith(f"{sandbox.base_url}/identity/connect/authorize?"), process.stderr
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["code_challenge_method"] == "S256" and query["redirect_uri"] == REDIRECT_URI
        assert query["scope"].split() == default_scopes()

        # A redirect with the wrong state is refused, and the command keeps waiting for the real one.
        forged = httpx.get(f"{REDIRECT_URI}?{urlencode({'code': 'stolen', 'state': 'not-ours'})}")
        assert forged.status_code == 400

        consent = sandbox.control.post(
            "/_sandbox/consent",
            json={k: query[k] for k in ("client_id", "redirect_uri", "scope", "state", "code_challenge")}
            | {"code_challenge_method": "S256", "tenant_ids": tenant_ids},
        )
        consent.raise_for_status()
        callback = httpx.get(consent.json()["redirect_url"])
        assert callback.status_code == 200
        assert "Xero oauth redirect success!" in callback.text

        rest, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    return rest


def test_connect_list_read_and_disconnect_through_the_cli(sandbox: Sandbox, cli_env: dict[str, str]) -> None:
    first, second = sandbox.tenant("AU"), sandbox.tenant("GB")
    printed = _connect_through_the_cli(sandbox, cli_env, [first, second])
    assert first in printed and second in printed

    runner = CliRunner()
    listed = runner.invoke(main, ["connections"], env=cli_env)
    assert listed.exit_code == 0, listed.output
    assert "LAST REFRESH" in listed.output and "never" in listed.output
    for tenant in (first, second):
        line = next(line for line in listed.output.splitlines() if tenant in line)
        assert "Success" in line and "accounting.transactions.read" in line

    # A data call with what the CLI stored, through the Dagster resource, after the access token expired in Xero:
    # the client gets 401 TokenExpired, refreshes once and retries.
    sandbox.advance_clock(1801)
    before = sandbox.stats()
    resource = XeroResource(
        client_id=cli_env["XERO_CLIENT_ID"],
        client_secret=cli_env["XERO_CLIENT_SECRET"],
        login_url=sandbox.base_url,
        identity_url=sandbox.base_url,
        api_url=sandbox.base_url,
        database_url=cli_env["XERO_ASSETS_DATABASE_URL"],
        secret_key=cli_env["XERO_ASSETS_SECRET_KEY"],
        per_minute=SANDBOX_LIMITS.per_minute,
        minute_seconds=SANDBOX_LIMITS.minute_seconds,
    )
    client = resource.client_for(first)
    organisation = client.get_json("/api.xro/2.0/Organisation")
    resource.close()
    assert organisation["Organisations"][0]["CountryCode"] == "AU"
    after = sandbox.stats()
    assert after["token_grants"]["refresh_token"] - before["token_grants"].get("refresh_token", 0) == 1
    assert client.stats.calls == 2 and client.stats.pages == 1

    listed = runner.invoke(main, ["connections"], env=cli_env)
    assert "never" not in listed.output  # the refresh is shown

    # The same data call through the CLI's sync, for both organisations, so removal has data to keep or purge.
    warehouse = Warehouse(make_engine(cli_env["XERO_ASSETS_DATABASE_URL"]))
    for tenant in (first, second):
        synced = runner.invoke(main, ["sync", "--tenant", tenant, "--select", "organisation"], env=cli_env)
        assert synced.exit_code == 0, synced.output
        assert warehouse.count(tenant, "organisation") == 1

    # Removing the first organisation deletes its connection in Xero but keeps the consent for the second.
    removed = runner.invoke(main, ["disconnect", first], env=cli_env)
    assert removed.exit_code == 0, removed.output
    assert "Synced data is kept" in removed.output and "revoked" not in removed.output
    assert warehouse.count(first, "organisation") == 1
    revocations = sandbox.stats()["by_route"].get("POST /connect/revocation", 0)
    listed = runner.invoke(main, ["connections"], env=cli_env)
    assert first not in listed.output and second in listed.output

    # The consent's last organisation: delete, then revoke, and purge its data on request.
    removed = runner.invoke(main, ["disconnect", second, "--purge"], env=cli_env)
    assert removed.exit_code == 0, removed.output
    assert "revoked its tokens" in removed.output and "Deleted the synced data" in removed.output
    assert warehouse.count(second, "organisation") == 0 and warehouse.count(first, "organisation") == 1
    final = sandbox.stats()
    assert final["by_route"].get("POST /connect/revocation", 0) == revocations + 1
    assert (
        final["by_route"].get("DELETE /connections/{id}", 0) - before["by_route"].get("DELETE /connections/{id}", 0)
        == 2
    )
    listed = runner.invoke(main, ["connections"], env=cli_env)
    assert "No Xero organisations are connected" in listed.output

    unknown = runner.invoke(main, ["disconnect", "no-such-tenant"], env=cli_env)
    assert unknown.exit_code != 0 and "xero-assets connections" in unknown.output


def test_a_missing_setting_is_a_one_line_error_not_a_traceback(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["connections"], env={**cli_env, "XERO_CLIENT_ID": ""})
    assert result.exit_code == 2  # bad configuration
    assert "Error: XERO_CLIENT_ID is not set" in result.output and "Traceback" not in result.output
