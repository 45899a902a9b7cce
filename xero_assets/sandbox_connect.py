"""Connect sandbox organisations through the real OAuth flow, without a browser (the demo's and the tests' way in).

The authorize request (state + PKCE S256), the code exchange, GET /connections and the encrypted token store are
the production code paths of `xero_assets.xero.oauth` and `xero_assets.store.tokens`; only the "Allow access" click
is replaced by the sandbox's POST /_sandbox/consent, which applies the same checks as its consent page.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import httpx

from xero_assets.store.crypto import cipher_from_keys
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import Connection, TokenStore
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.oauth import XeroOAuth
from xero_assets.xero.scopes import all_scopes


def sandbox_app_config(info: dict[str, object], scopes: Sequence[str] | None = None) -> XeroAppConfig:
    """The sandbox's default web app, with every base URL pointing at the sandbox."""
    base = str(info["base_url"])
    return XeroAppConfig(
        client_id=str(info["client_id"]),
        client_secret=str(info["client_secret"]),
        redirect_uri=str(info["redirect_uri"]),
        scopes=tuple(scopes or all_scopes()),
        login_url=base,
        identity_url=base,
        api_url=base,
    )


def sandbox_env(info: dict[str, object], database_url: str, secret_key: str) -> dict[str, str]:
    """Environment variables that point every part of xero-assets (CLI, Dagster runs) at this sandbox."""
    base = str(info["base_url"])
    return {
        "XERO_CLIENT_ID": str(info["client_id"]),
        "XERO_CLIENT_SECRET": str(info["client_secret"]),
        "XERO_REDIRECT_URI": str(info["redirect_uri"]),
        "XERO_LOGIN_URL": base,
        "XERO_IDENTITY_URL": base,
        "XERO_API_URL": base,
        "XERO_ASSETS_DATABASE_URL": database_url,
        "XERO_ASSETS_SECRET_KEY": secret_key,
    }


def open_token_store(config: XeroAppConfig, database_url: str, secret_key: str) -> TokenStore:
    return TokenStore(make_engine(database_url), cipher_from_keys(secret_key), XeroOAuth(config), owns_engine=True)


def consent(
    store: TokenStore, tenant_ids: Sequence[str] | None = None, scopes: Sequence[str] | None = None
) -> list[Connection]:
    """Authorize `tenant_ids` (default: every organisation of the sandbox user) with `scopes`, and store the tokens."""
    config = store.oauth.config
    request = store.oauth.authorization_request(scopes)
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    body: dict[str, object] = {
        "client_id": query["client_id"],
        "redirect_uri": query["redirect_uri"],
        "scope": query["scope"],
        "state": query["state"],
        "code_challenge": query["code_challenge"],
        "code_challenge_method": query["code_challenge_method"],
    }
    if tenant_ids is not None:
        body["tenant_ids"] = list(tenant_ids)
    answer = httpx.post(f"{config.login_url}/_sandbox/consent", json=body, timeout=30)
    answer.raise_for_status()
    redirect = parse_qs(urlsplit(answer.json()["redirect_url"]).query)
    if redirect.get("state", [None])[0] != request.state:
        raise RuntimeError("the consent redirect carried a different state: refusing its code")
    tokens = store.oauth.exchange_code(redirect["code"][0], request.code_verifier, request.redirect_uri)
    found = store.oauth.list_connections(tokens.access_token, tokens.auth_event_id)
    return store.save_consent(tokens, found)
