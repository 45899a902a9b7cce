"""Xero's OAuth 2.0 identity calls: authorize URL (state + PKCE S256), code exchange, refresh, revocation, and the
/connections list that says which organisations a consent covers.

This module only speaks HTTP to the identity service; storing and rotating tokens safely is the token store's job.
Token values live only in `TokenSet` fields whose repr hides them, and errors carry Xero's error code, never a body
that could hold a token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.dates import parse as parse_date
from xero_assets.xero.errors import BadResponse, OAuthFailed, XeroUnavailable
from xero_assets.xero.limiter import backoff_delay

log = logging.getLogger(__name__)

TOKEN_RETRIES = 3
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class InvalidGrant(OAuthFailed):
    """The identity server answered invalid_grant: the code or refresh token is dead and only a new consent helps."""

    def __init__(self, what: str, description: str = "") -> None:
        super().__init__(what, "invalid_grant", description)


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint answer. The repr never shows the tokens (they end up in logs and tracebacks otherwise)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...]
    auth_event_id: str | None = None


@dataclass(frozen=True)
class AuthorizationRequest:
    """One authorize redirect: the URL to open and the state and PKCE verifier the callback must match."""

    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str = ""


@dataclass(frozen=True)
class XeroConnection:
    """One organisation a consent covers, as GET /connections lists it."""

    id: str
    tenant_id: str
    tenant_name: str
    tenant_type: str
    auth_event_id: str | None
    created: datetime | None
    updated: datetime | None


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (64 url-safe characters) and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def jwt_claim(token: str, name: str) -> Any:
    """One claim of a JWT access token, read without verifying it (we only use it to match /connections)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    return claims.get(name) if isinstance(claims, dict) else None


class XeroOAuth:
    """The identity-service client for one Xero app. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        config: XeroAppConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 0.5,
    ) -> None:
        self.config = config
        self._backoff_base = backoff_base
        self._http = httpx.Client(
            transport=transport, timeout=TIMEOUT, headers={"Accept": "application/json"}, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    # --- the consent flow ----------------------------------------------------------------------------------------

    def authorization_request(
        self, scopes: Iterable[str] | None = None, redirect_uri: str | None = None
    ) -> AuthorizationRequest:
        """The URL to send the user to, with a fresh state and PKCE S256 challenge (checked on the callback)."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        redirect = redirect_uri or self.config.redirect_uri
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect,
            "scope": " ".join(scopes or self.config.scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return AuthorizationRequest(f"{self.config.authorize_url}?{urlencode(query)}", state, verifier, redirect)

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str | None = None) -> TokenSet:
        """Redeem an authorization code (single-use, 5 minutes) for tokens."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.config.redirect_uri,
            "code_verifier": code_verifier,
        }
        return self._token("authorization code exchange", form, retry=False)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token and a new (rotated) refresh token. Raises InvalidGrant when the old one is dead.

        Retried on 5xx and dropped connections: if Xero rotated but the answer was lost, the old refresh token
        still works for a 30-minute grace period, so the retry gets a usable pair.
        """
        return self._token("token refresh", {"grant_type": "refresh_token", "refresh_token": refresh_token}, retry=True)

    def revoke(self, refresh_token: str) -> None:
        """Revoke a consent's refresh token: Xero removes all that user's connections to this app."""
        response = self._post_form(self.config.revocation_url, {"token": refresh_token}, "token revocation", retry=True)
        if response.status_code != 200:
            self._raise_oauth("token revocation", response)

    # --- connections ---------------------------------------------------------------------------------------------

    def list_connections(self, access_token: str, auth_event_id: str | None = None) -> list[XeroConnection]:
        """GET /connections: the organisations this token may read (only those of `auth_event_id` when given)."""
        params = {"authEventId": auth_event_id} if auth_event_id else None
        response = self._http.get(
            self.config.connections_url, params=params, headers={"Authorization": f"Bearer {access_token}"}
        )
        if response.status_code != 200:
            raise OAuthFailed("connections list", f"HTTP {response.status_code}", _error_text(response))
        try:
            rows = response.json()
        except ValueError:
            raise BadResponse(None, "/connections", "a body that is not JSON") from None
        if not isinstance(rows, list):
            raise BadResponse(None, "/connections", "a JSON object where Xero sends an array")
        return [_connection(row) for row in rows if isinstance(row, dict)]

    def delete_connection(self, access_token: str, connection_id: str) -> bool:
        """DELETE /connections/{id}; False when Xero no longer knows it (already removed)."""
        response = self._http.delete(
            f"{self.config.connections_url}/{connection_id}", headers={"Authorization": f"Bearer {access_token}"}
        )
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        raise OAuthFailed("connection removal", f"HTTP {response.status_code}", _error_text(response))

    # --- plumbing ------------------------------------------------------------------------------------------------

    def _token(self, what: str, form: dict[str, str], *, retry: bool) -> TokenSet:
        received = datetime.now(UTC)
        response = self._post_form(self.config.token_url, form, what, retry=retry)
        if response.status_code != 200:
            self._raise_oauth(what, response)
        try:
            body = response.json()
            access = body["access_token"]
            expires_in = int(body.get("expires_in", 1800))
        except (ValueError, KeyError, TypeError):
            raise BadResponse(None, "/connect/token", "a token response without access_token/expires_in") from None
        return TokenSet(
            access_token=access,
            refresh_token=body.get("refresh_token"),
            expires_at=received + timedelta(seconds=expires_in),
            scopes=tuple(str(body.get("scope", "")).split()),
            auth_event_id=jwt_claim(access, "authentication_event_id"),
        )

    def _post_form(self, url: str, form: dict[str, str], what: str, *, retry: bool) -> httpx.Response:
        """POST to the identity service with client authentication; retries transient failures when asked."""
        config = self.config
        auth = None
        body = dict(form)
        if config.client_secret:
            auth = httpx.BasicAuth(config.client_id, config.client_secret)
        else:  # an "Auth code with PKCE" app has no secret and names itself in the body
            body["client_id"] = config.client_id
        attempts = TOKEN_RETRIES if retry else 1
        problem = ""
        for attempt in range(attempts):
            try:
                response = self._http.post(url, data=body, auth=auth)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__} (timeout or dropped connection)"
            else:
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt + 1 < attempts:
                log.info("%s failed with %s; retrying", what, problem)
                time.sleep(backoff_delay(attempt, self._backoff_base))
        raise XeroUnavailable(None, httpx.URL(url).path, f"{what}: {problem}", attempts)

    @staticmethod
    def _raise_oauth(what: str, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error") or f"HTTP {response.status_code}") if isinstance(body, dict) else "error"
        description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        if error == "invalid_grant":
            raise InvalidGrant(what, description)
        raise OAuthFailed(what, error, description)


def _error_text(response: httpx.Response) -> str:
    """A short reason for a non-token endpoint's error (these bodies never carry tokens)."""
    text = response.text.strip().replace("\n", " ")
    return text[:200]


def _connection(row: dict[str, Any]) -> XeroConnection:
    return XeroConnection(
        id=str(row.get("id", "")),
        tenant_id=str(row.get("tenantId", "")),
        tenant_name=str(row.get("tenantName") or ""),
        tenant_type=str(row.get("tenantType") or "ORGANISATION"),
        auth_event_id=row.get("authEventId"),
        created=parse_date(row.get("createdDateUtc")),
        updated=parse_date(row.get("updatedDateUtc")),
    )
