"""Sandboxes served over real HTTP on loopback, each with its own state, over the test stand-in books."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from xero_assets.sandbox.server import SandboxConfig, SandboxHandle, running_sandbox
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
