"""App settings from the environment, encryption keys, the OAuth URL and scope hints: no server needed."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from xero_assets.store.crypto import SecretKeyError, cipher_from_env, cipher_from_keys, load_or_create_key
from xero_assets.xero.config import ConfigError, XeroAppConfig
from xero_assets.xero.errors import scope_hint
from xero_assets.xero.oauth import TokenSet, XeroOAuth, jwt_claim, pkce_pair
from xero_assets.xero.scopes import default_scopes


def test_config_defaults_to_xero_s_real_hosts_and_the_default_permissions() -> None:
    config = XeroAppConfig.from_env({"XERO_CLIENT_ID": "id", "XERO_CLIENT_SECRET": "secret"})
    assert config.authorize_url == "https://login.xero.com/identity/connect/authorize"
    assert config.token_url == "https://identity.xero.com/connect/token"
    assert config.revocation_url == "https://identity.xero.com/connect/revocation"
    assert config.connections_url == "https://api.xero.com/connections"
    assert list(config.scopes) == default_scopes()
    assert "secret" not in repr(config)


def test_config_points_every_base_at_the_sandbox() -> None:
    base = "http://127.0.0.1:9999"
    env = {"XERO_CLIENT_ID": "id", "XERO_SCOPES": "offline_access, accounting.settings.read"}
    env |= {"XERO_LOGIN_URL": base, "XERO_IDENTITY_URL": base + "/", "XERO_API_URL": base}
    config = XeroAppConfig.from_env(env)
    assert config.authorize_url == f"{base}/identity/connect/authorize"
    assert config.token_url == f"{base}/connect/token"
    assert config.scopes == ("offline_access", "accounting.settings.read")


def test_config_errors_say_which_variable_to_set() -> None:
    with pytest.raises(ConfigError, match="XERO_CLIENT_ID"):
        XeroAppConfig.from_env({})
    with pytest.raises(ConfigError, match="XERO_API_URL"):
        XeroAppConfig.from_env({"XERO_CLIENT_ID": "id", "XERO_API_URL": "api.xero.com"})


def test_the_authorize_url_carries_state_and_an_s256_pkce_challenge() -> None:
    oauth = XeroOAuth(XeroAppConfig(client_id="id", client_secret="s"))
    request = oauth.authorization_request(["offline_access", "accounting.contacts.read"])
    query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "id"
    assert query["scope"] == "offline_access accounting.contacts.read"
    assert query["state"] == request.state and len(request.state) >= 32
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] != request.code_verifier
    assert request.code_verifier not in repr(request) and request.code_verifier not in request.url
    assert oauth.authorization_request().state != request.state
    oauth.close()


def test_pkce_verifiers_follow_rfc_7636() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and len(challenge) == 43


def test_token_sets_never_show_their_tokens() -> None:
    tokens = TokenSet("access-secret", "refresh-secret", expires_at=None, scopes=("a",))  # type: ignore[arg-type]
    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


def test_jwt_claims_are_read_and_garbage_is_none() -> None:
    assert jwt_claim("not-a-jwt", "sub") is None
    assert jwt_claim("x.eyJzdWIiOiAidSJ9.y", "sub") == "u"


def test_scope_hints_come_from_the_catalog() -> None:
    assert scope_hint("/api.xro/2.0/Invoices") == "accounting.transactions.read"
    assert scope_hint("/api.xro/2.0/Invoices/abc") == "accounting.transactions.read"
    assert scope_hint("/payroll.xro/2.0/Employees/e1/Leave") == "payroll.employees.read"
    assert scope_hint("/api.xro/2.0/Reports/BalanceSheet") == "accounting.reports.read"
    assert scope_hint("/nowhere") is None


def test_a_generated_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    cipher = cipher_from_env({}, key_file=path)
    assert cipher.decrypt(cipher.encrypt(b"x")) == b"x"


def test_the_env_key_wins_and_old_keys_still_decrypt(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = cipher_from_keys(old).encrypt(b"refresh")
    rotated = cipher_from_env({"XERO_ASSETS_SECRET_KEY": f"{new},{old}"}, key_file=tmp_path / "unused")
    assert rotated.decrypt(sealed) == b"refresh"
    assert not (tmp_path / "unused").exists()


def test_a_bad_key_is_explained_without_echoing_it() -> None:
    with pytest.raises(SecretKeyError, match="generate_key") as raised:
        cipher_from_keys("not-a-key-at-all")
    assert "not-a-key-at-all" not in str(raised.value)
