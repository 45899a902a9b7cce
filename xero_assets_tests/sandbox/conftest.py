"""Sandboxes served over real HTTP on loopback, each with its own state, over the test stand-in books."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
from xero_assets.xero.scopes import all_scopes
from xero_assets_tests.sandbox.helpers import consent, exchange
from xero_assets_tests.sandbox.standin import standin_world


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxHandle]]:
    """Start a sandbox with config overrides; rate limits are off unless a test turns them on."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> SandboxHandle:
            config = SandboxConfig(**{"rate_limits": "off", **overrides})
            return stack.enter_context(running_sandbox(config, world=standin_world()))

        yield start


@pytest.fixture
def sb(start_sandbox: Callable[..., SandboxHandle]) -> SandboxHandle:
    return start_sandbox()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def real() -> Iterator[tuple[SandboxHandle, httpx.Client, str, dict[str, str]]]:
    """A sandbox over the real books (one small organisation per country), a token for every scope and the
    organisations by country: for the route tests that need real data behind the server."""
    with (
        running_sandbox(SandboxConfig(tenants=4, size="small", rate_limits="off")) as sb,
        httpx.Client(timeout=60) as http,
    ):
        access = exchange(http, sb, consent(http, sb, " ".join(all_scopes()))["code"]).json()["access_token"]
        tenants = {b.country: b.tenant_id for b in sb.app_state.world.tenants.values()}
        yield sb, http, access, tenants
