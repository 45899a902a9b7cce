"""What the web app needs from the environment, read once at start so a missing setting fails `serve` at once with
a message naming the variable, never on the first click."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from xero_assets.webhooks.signature import WEBHOOK_KEY_ENV
from xero_assets.xero.config import ConfigError, XeroAppConfig
from xero_assets.xero.scopes import ScopeStyle

ADMIN_PASSWORD_ENV = "XERO_ASSETS_ADMIN_PASSWORD"
DAGSTER_URL_ENV = "XERO_ASSETS_DAGSTER_URL"
SCOPE_STYLE_ENV = "XERO_SCOPE_STYLE"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class WebSettings:
    """The admin password, the Xero app, where Dagster's webserver answers, which scope style the app uses, and the
    app's webhook key (empty: `serve` receives no webhooks, since it could verify none)."""

    admin_password: str = field(repr=False)
    xero: XeroAppConfig
    dagster_url: str = DEFAULT_DAGSTER_URL
    scope_style: ScopeStyle = ScopeStyle.BROAD
    session_idle_seconds: float = 8 * 3600.0
    webhook_key: str = field(default="", repr=False)

    @property
    def callback_path(self) -> str:
        """The path of the registered redirect URI: the app serves Xero's redirect there, whatever it is."""
        return urlsplit(self.xero.redirect_uri).path or "/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if env is None else env
        password = env.get(ADMIN_PASSWORD_ENV, "")
        if len(password) < MIN_PASSWORD_LENGTH:
            state = "is not set" if not password else f"is shorter than {MIN_PASSWORD_LENGTH} characters"
            raise ConfigError(
                f"{ADMIN_PASSWORD_ENV} {state}: set it to the admin password of the Integrations page "
                f"(at least {MIN_PASSWORD_LENGTH} characters, e.g. `openssl rand -base64 18`)"
            )
        style_text = env.get(SCOPE_STYLE_ENV, "").strip().lower() or ScopeStyle.BROAD.value
        try:
            style = ScopeStyle(style_text)
        except ValueError:
            raise ConfigError(
                f"{SCOPE_STYLE_ENV}={style_text!r} is not a scope style: set it to `broad` (Xero apps created before "
                "2 March 2026) or `granular` (apps created after)"
            ) from None
        dagster_url = (env.get(DAGSTER_URL_ENV, "").strip() or DEFAULT_DAGSTER_URL).rstrip("/")
        if urlsplit(dagster_url).scheme not in ("http", "https"):
            raise ConfigError(f"{DAGSTER_URL_ENV}={dagster_url!r} is not a URL: set it to Dagster's webserver URL")
        return cls(password, XeroAppConfig.from_env(env), dagster_url, style, webhook_key=env.get(WEBHOOK_KEY_ENV, ""))
