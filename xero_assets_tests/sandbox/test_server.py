"""Starting the sandbox: `xero-assets sandbox`, `running_sandbox`, seeded default credentials, books locking."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from xero_assets.sandbox.server import SandboxConfig, create_app, running_sandbox
from xero_assets.sandbox.state import ReadWriteLock
from xero_assets_tests.sandbox.standin import standin_world

CLI = Path(sys.executable).parent / "xero-assets"


def test_sandbox_command_prints_one_json_line_with_credentials_then_serves():
    process = subprocess.Popen(
        [str(CLI), "sandbox", "--port", "0", "--tenants", "2", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        for key in ("base_url", "client_id", "client_secret", "redirect_uri", "user_email", "user_password"):
            assert info[key], key
        assert info["redirect_uri"].startswith("http://localhost:")
        tenants = httpx.get(f"{info['base_url']}/_sandbox/tenants", timeout=10).json()["tenants"]
        assert [t["tenant_id"] for t in tenants] == [t["tenant_id"] for t in info["tenants"]] and len(tenants) == 2
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_sandbox_command_shares_a_few_books_across_many_tenants_and_refuses_a_shape_count_per_country():
    process = subprocess.Popen(
        [str(CLI), "sandbox", "--port", "0", "--tenants", "12", "--shapes", "4", "--rate-limits", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        tenants = httpx.get(f"{info['base_url']}/_sandbox/tenants", timeout=10).json()["tenants"]
        assert len(tenants) == 12
        counts = [httpx.get(f"{info['base_url']}/_sandbox/truth/{t['tenant_id']}", timeout=30).json()["counts"]
                  for t in tenants]  # fmt: skip
        assert counts[0] == counts[4] == counts[8] and counts[0] != counts[1]  # tenant i serves shape i mod 4
    finally:
        process.terminate()
        process.wait(timeout=20)
    refused = subprocess.run([str(CLI), "sandbox", "--shapes", "6"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "6 is not a multiple of 4" in refused.stderr


def test_running_sandbox_serves_over_loopback_and_stops_when_the_block_ends():
    with running_sandbox(SandboxConfig(), world=standin_world()) as sb:
        assert sb.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{sb.base_url}/_sandbox/tenants").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sb.base_url}/_sandbox/tenants")


def test_default_app_credentials_depend_only_on_the_seed():
    def credentials(seed: int) -> tuple[str, str | None]:
        state = create_app(SandboxConfig(seed=seed), world=standin_world()).state.sandbox
        return state.web_app.client_id, state.web_app.client_secret

    assert credentials(1) == credentials(1)
    assert credentials(1) != credentials(2)


def test_extra_redirect_uris_from_the_config_are_registered_on_the_default_apps():
    state = create_app(SandboxConfig(redirect_uris=("http://localhost:7000/cb",)), world=standin_world()).state.sandbox
    assert "http://localhost:7000/cb" in state.web_app.redirect_uris
    assert "http://localhost:7000/cb" in state.pkce_app.redirect_uris


def test_books_lock_lets_readers_share_and_keeps_a_writer_alone():
    lock = ReadWriteLock()
    events: list[str] = []
    reader_in = threading.Event()
    release_reader = threading.Event()

    def reader() -> None:
        with lock.reading():
            events.append("read-start")
            reader_in.set()
            release_reader.wait(10)
            events.append("read-end")

    def writer() -> None:
        with lock.writing():
            events.append("write")

    first = threading.Thread(target=reader)
    first.start()
    assert reader_in.wait(10)
    with lock.reading():  # a second reader is not blocked by the first
        events.append("second-read")
    second = threading.Thread(target=writer)
    second.start()
    time.sleep(0.05)  # give the writer a chance to (wrongly) run; ordering below is what the test asserts
    release_reader.set()
    first.join(10)
    second.join(10)
    assert events == ["read-start", "second-read", "read-end", "write"]
