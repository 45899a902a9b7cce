"""Which Xero app we are and where Xero lives, from the environment.

Base URLs are configurable so the same code talks to Xero or to the sandbox: the sandbox serves Xero's own paths
on one base URL, so only the three bases change, never the paths below them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from xero_assets.xero.scopes import default_scopes

DEFAULT_LOGIN_URL = "https://login.xero.com"
DEFAULT_IDENTITY_URL = "https://identity.xero.com"
DEFAULT_API_URL = "https://api.xero.com"
DEFAULT_REDIRECT_URI = "http://localhost:8791/callback"


class ConfigError(ValueError):
    """A required setting is missing or malformed; the message names the environment variable to set."""


def parse_scopes(value: str | None) -> tuple[str, ...]:
    """Scopes from a space- or comma-separated string, in order, once each."""
    if not value:
        return ()
    return tuple(dict.fromkeys(value.replace(",", " ").split()))


@dataclass(frozen=True)
class XeroAppConfig:
    """The registered Xero app (client id/secret, redirect URI, scopes) and the three Xero base URLs."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: tuple[str, ...] = field(default_factory=lambda: tuple(default_scopes()))
    login_url: str = DEFAULT_LOGIN_URL
    identity_url: str = DEFAULT_IDENTITY_URL
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> XeroAppConfig:
        """Read XERO_CLIENT_ID, XERO_CLIENT_SECRET, XERO_REDIRECT_URI, XERO_SCOPES and the XERO_*_URL bases."""
        env = os.environ if env is None else env
        client_id = env.get("XERO_CLIENT_ID", "").strip()
        if not client_id:
            raise ConfigError(
                "XERO_CLIENT_ID is not set: set it (and XERO_CLIENT_SECRET) to your Xero app's credentials, "
                "or to the sandbox app's that `xero-assets sandbox` prints"
            )
        return cls(
            client_id=client_id,
            client_secret=env.get("XERO_CLIENT_SECRET", "").strip(),
            redirect_uri=env.get("XERO_REDIRECT_URI", "").strip() or DEFAULT_REDIRECT_URI,
            scopes=parse_scopes(env.get("XERO_SCOPES")) or tuple(default_scopes()),
            login_url=_base(env, "XERO_LOGIN_URL", DEFAULT_LOGIN_URL),
            identity_url=_base(env, "XERO_IDENTITY_URL", DEFAULT_IDENTITY_URL),
            api_url=_base(env, "XERO_API_URL", DEFAULT_API_URL),
        )

    @property
    def authorize_url(self) -> str:
        return f"{self.login_url}/identity/connect/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.identity_url}/connect/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.identity_url}/connect/revocation"

    @property
    def connections_url(self) -> str:
        return f"{self.api_url}/connections"


def _base(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={value!r} is not a URL: set it to an http(s) base URL such as {default}")
    return value.rstrip("/")
