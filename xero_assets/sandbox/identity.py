"""Xero's identity service as state and rules, without HTTP: apps, users, consent, codes, tokens, connections.

The HTTP side (authorize page, token endpoint, /connections) lives in `identity_routes`; this module decides what Xero
would answer. It reproduces what clients get wrong against real Xero, as Xero's OAuth 2.0 docs state it
(https://developer.xero.com/documentation/guides/oauth2/auth-flow/, .../oauth2/pkce-flow/, and the token FAQ at
https://developer.xero.com/faq/oauth2/): single-use codes that expire in 5 minutes, PKCE S256, access tokens that live
1800 s, refresh tokens only with offline_access and rotated on every use (the superseded one keeps working for a
30-minute grace, unused ones die after 60 days), id_tokens only with openid, and revocation that removes the user's
connections to the app.

Every time comes from the sandbox `Clock`, so tests expire tokens by moving the clock. State is guarded by one lock
because uvicorn serves requests concurrently and the books run in worker threads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from xero_assets.catalog import CATALOG
from xero_assets.sandbox.clock import Clock
from xero_assets.sandbox.keys import b64url, sign_jwt
from xero_assets.sandbox.wire import iso7

ACCESS_TOKEN_LIFETIME = timedelta(seconds=1800)
CODE_LIFETIME = timedelta(minutes=5)
REFRESH_GRACE = timedelta(minutes=30)
REFRESH_LIFETIME = timedelta(days=60)
ID_TOKEN_LIFETIME = timedelta(minutes=5)
SESSION_LIFETIME = timedelta(hours=1)

IDENTITY_SCOPES = frozenset({"openid", "profile", "email"})
OFFLINE_ACCESS = "offline_access"

# Scopes Xero knows besides those the catalog reads with (write and non-synced areas): asking for them is valid,
# asking for anything else is invalid_scope. Source: the `security` scopes of Xero's OpenAPI specs (xero_accounting.yaml
# and the payroll specs, XeroAPI/Xero-OpenAPI) and https://developer.xero.com/documentation/guides/oauth2/scopes/.
_OTHER_SCOPES = (
    "accounting.attachments",
    "accounting.attachments.read",
    "accounting.reports.tenninetynine.read",
    "paymentservices",
    "payroll.settings",
    "payroll.settings.read",
    "payroll.timesheets",
    "payroll.timesheets.read",
    "payroll.payruns",
    "payroll.payruns.read",
    "payroll.payslip",
    "payroll.payslip.read",
    "accounting.settings",
    "accounting.contacts",
    "accounting.transactions",
    "accounting.budgets",
)
KNOWN_SCOPES: frozenset[str] = frozenset(
    {scope for api in CATALOG for scope in api.all_scopes()} | set(_OTHER_SCOPES) | IDENTITY_SCOPES | {OFFLINE_ACCESS}
)

_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")

DEFAULT_REDIRECT_URIS = (
    "http://localhost:8791/callback",
    "http://127.0.0.1:8791/callback",
    "http://localhost:8792/callback",
    "http://127.0.0.1:8792/callback",
    "http://localhost:3000/callback",
    "http://localhost:5000/callback",
    "http://localhost:8000/callback",
)
DEFAULT_USER_EMAIL = "demo@sandbox.xero.local"
DEFAULT_USER_PASSWORD = "sandbox"


class OAuthError(Exception):
    """An OAuth error as Xero's identity server returns it: 400 `{"error": ...}` (RFC 6749 §5.2 codes)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        # Xero sends only the code; a description helps a human reading the sandbox's answer and clients ignore it.
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


class BearerError(Exception):
    """A data or /connections call whose bearer token is missing, unknown or expired (Xero answers 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class App:
    """A registered Xero app. `client_secret` None is an "Auth code with PKCE" app (a public client).

    `custom_connection_tenant_id` makes it a custom connection: client_credentials tokens for that one organisation.
    `allowed_scopes` None allows every scope Xero knows.
    """

    client_id: str
    client_secret: str | None
    name: str
    redirect_uris: tuple[str, ...] = ()
    allowed_scopes: frozenset[str] | None = None
    custom_connection_tenant_id: str | None = None

    def public(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "allowed_scopes": sorted(self.allowed_scopes) if self.allowed_scopes is not None else None,
            "custom_connection_tenant_id": self.custom_connection_tenant_id,
        }


@dataclass
class User:
    """A Xero login. `tenant_ids` None: the user can see every organisation in the sandbox."""

    user_id: str
    email: str
    password: str
    first_name: str = "Sandbox"
    last_name: str = "User"
    tenant_ids: frozenset[str] | None = None


@dataclass
class Connection:
    """One (user, app, organisation) authorisation: what GET /connections lists and DELETE removes."""

    id: str
    user_id: str
    client_id: str
    tenant_id: str
    tenant_name: str
    auth_event_id: str
    created: datetime
    updated: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "authEventId": self.auth_event_id,
            "tenantId": self.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": self.tenant_name,
            "createdDateUtc": iso7(self.created),
            "updatedDateUtc": iso7(self.updated),
        }


@dataclass
class AuthCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    auth_event_id: str
    expires_at: datetime
    code_challenge: str | None
    had_tenants: bool
    nonce: str | None = None
    used: bool = False


@dataclass
class AccessToken:
    token: str = field(repr=False)
    client_id: str
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime
    auth_event_id: str | None


@dataclass
class RefreshToken:
    token: str = field(repr=False)
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    auth_event_id: str
    issued_at: datetime
    had_tenants: bool
    superseded_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class TokenResult:
    """A token endpoint answer, with what the stats need to count it (never the tokens themselves)."""

    body: dict[str, object]
    grant_type: str
    client_id: str


def pkce_challenge(verifier: str) -> str:
    """The S256 code_challenge for a verifier (RFC 7636 §4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def parse_scopes(scope: str | Iterable[str] | None) -> tuple[str, ...]:
    """Scopes from a space-separated string (or a list), in order, once each."""
    items = scope.split() if isinstance(scope, str) else list(scope or ())
    return tuple(dict.fromkeys(items))


def _derived(seed: int, kind: str, length: int) -> str:
    return hashlib.sha256(f"xero-sandbox:{kind}:{seed}".encode()).hexdigest().upper()[:length]


def default_apps(seed: int, custom_connection_tenant_id: str | None) -> list[App]:
    """The apps every sandbox starts with, derived from the seed so a saved .env keeps working across restarts.

    A web app (client id + secret), an "Auth code with PKCE" app (no secret) and, when there is an organisation,
    a custom connection bound to it (client_credentials).
    """
    apps = [
        App(
            _derived(seed, "web", 32), _derived(seed, "web-secret", 48), "xero-assets (sandbox)", DEFAULT_REDIRECT_URIS
        ),
        App(_derived(seed, "pkce", 32), None, "xero-assets PKCE (sandbox)", DEFAULT_REDIRECT_URIS),
    ]
    if custom_connection_tenant_id is not None:
        apps.append(
            App(
                _derived(seed, "custom", 32),
                _derived(seed, "custom-secret", 48),
                "xero-assets custom connection (sandbox)",
                custom_connection_tenant_id=custom_connection_tenant_id,
            )
        )
    return apps


class Identity:
    """All identity state of one sandbox, behind one lock."""

    def __init__(self, clock: Clock, tenants: Mapping[str, str], issuer: str = "https://identity.xero.com") -> None:
        self.clock = clock
        self.tenants = dict(tenants)  # tenant_id -> organisation name
        self.issuer = issuer
        self._lock = threading.RLock()
        self._apps: dict[str, App] = {}
        self._users: dict[str, User] = {}  # by lower-cased email
        self._codes: dict[str, AuthCode] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._connections: dict[str, Connection] = {}
        self._sessions: dict[str, tuple[str, datetime]] = {}  # login session -> (email, expires)

    # --- apps and users ------------------------------------------------------------------------------------------

    def register_app(self, app: App) -> App:
        for scope in app.allowed_scopes or ():
            if scope not in KNOWN_SCOPES:
                raise ValueError(f"unknown scope {scope!r}")
        if app.custom_connection_tenant_id is not None and app.custom_connection_tenant_id not in self.tenants:
            raise ValueError(f"unknown tenant {app.custom_connection_tenant_id!r} for a custom connection")
        with self._lock:
            self._apps[app.client_id] = app
            if app.custom_connection_tenant_id is not None:
                self._connect(self._custom_user(app), app, [app.custom_connection_tenant_id], str(uuid.uuid4()))
        return app

    def update_app(self, client_id: str, add_redirect_uris: Iterable[str] = (), **changes: Any) -> App:
        """Change a registered app in place (everything holding it sees the change); redirect URIs are added."""
        for scope in changes.get("allowed_scopes") or ():
            if scope not in KNOWN_SCOPES:
                raise ValueError(f"unknown scope {scope!r}")
        unknown = set(changes) - {"client_secret", "name", "allowed_scopes"}
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        with self._lock:
            app = self._apps[client_id]
            app.redirect_uris = tuple(dict.fromkeys((*app.redirect_uris, *add_redirect_uris)))
            for name, value in changes.items():
                setattr(app, name, value)
        return app

    def apps(self) -> list[App]:
        with self._lock:
            return list(self._apps.values())

    def app(self, client_id: str) -> App | None:
        with self._lock:
            return self._apps.get(client_id)

    def add_user(self, user: User) -> User:
        with self._lock:
            self._users[user.email.lower()] = user
        return user

    def user(self, email: str) -> User | None:
        with self._lock:
            return self._users.get(email.lower())

    def login(self, email: str, password: str) -> User | None:
        """The user when the password matches (compared in constant time), else None."""
        user = self.user(email)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def open_session(self, user: User) -> str:
        """A login session for the authorize page (a cookie, or a hidden field for scripts that post the forms)."""
        session = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = (user.email, self.clock.now() + SESSION_LIFETIME)
        return session

    def session_user(self, session: str | None) -> User | None:
        with self._lock:
            email, expires = self._sessions.get(session or "", ("", self.clock.now()))
        return self.user(email) if email and self.clock.now() < expires else None

    def tenants_for(self, user: User) -> dict[str, str]:
        """The organisations a user may connect, id -> name, in sandbox order."""
        return {tid: name for tid, name in self.tenants.items() if user.tenant_ids is None or tid in user.tenant_ids}

    # --- authorize and consent -----------------------------------------------------------------------------------

    def check_client(self, client_id: str | None, redirect_uri: str | None) -> App:
        """The app for an authorize request. Raises OAuthError that must NOT be redirected (unknown client/URI)."""
        app = self.app(client_id or "")
        if app is None:
            raise OAuthError("invalid_client", "unknown client_id")
        if not redirect_uri or redirect_uri not in app.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this app (exact match required)")
        return app

    def check_request(
        self,
        app: App,
        response_type: str | None,
        scope: str | Iterable[str] | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
    ) -> tuple[str, ...]:
        """The requested scopes, validated. Raises OAuthError that is redirected back to the app."""
        if not response_type:
            raise OAuthError("invalid_request", "response_type is required")
        if response_type != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code is supported")
        scopes = self._check_scopes(app, scope)
        if code_challenge:
            if (code_challenge_method or "plain") != "S256":
                raise OAuthError("invalid_request", "code_challenge_method must be S256")
            if not _PKCE_CHALLENGE.match(code_challenge):
                raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters")
        elif code_challenge_method:
            raise OAuthError("invalid_request", "code_challenge_method without code_challenge")
        elif app.client_secret is None:
            raise OAuthError("invalid_request", "a PKCE app must send code_challenge")
        return scopes

    def _check_scopes(self, app: App, scope: str | Iterable[str] | None) -> tuple[str, ...]:
        scopes = parse_scopes(scope)
        if not scopes:
            raise OAuthError("invalid_scope", "no scope requested")
        for item in scopes:
            if item not in KNOWN_SCOPES:
                raise OAuthError("invalid_scope", f"unknown scope {item}")
            if app.allowed_scopes is not None and item not in app.allowed_scopes:
                raise OAuthError("invalid_scope", f"Invalid scope for client: {item}")
        return scopes

    def consent(
        self,
        user: User,
        app: App,
        redirect_uri: str,
        scopes: tuple[str, ...],
        tenant_ids: Iterable[str],
        code_challenge: str | None = None,
        nonce: str | None = None,
    ) -> AuthCode:
        """The user clicked "Allow access": connect the chosen organisations and issue a single-use code."""
        chosen = list(dict.fromkeys(tenant_ids))
        allowed = self.tenants_for(user)
        for tenant_id in chosen:
            if tenant_id not in allowed:
                raise OAuthError("access_denied", f"user cannot access tenant {tenant_id}")
        needs_tenant = any(s not in IDENTITY_SCOPES and s != OFFLINE_ACCESS for s in scopes)
        if needs_tenant and not chosen:
            raise OAuthError("access_denied", "no organisation selected")
        auth_event_id = str(uuid.uuid4())
        with self._lock:
            self._connect(user, app, chosen if needs_tenant else [], auth_event_id)
            code = AuthCode(
                code=b64url(secrets.token_bytes(32)),
                client_id=app.client_id,
                user_id=user.user_id,
                redirect_uri=redirect_uri,
                scopes=scopes,
                auth_event_id=auth_event_id,
                expires_at=self.clock.now() + CODE_LIFETIME,
                code_challenge=code_challenge or None,
                had_tenants=bool(chosen) and needs_tenant,
                nonce=nonce or None,
            )
            self._codes[code.code] = code
        return code

    def _connect(self, user: User, app: App, tenant_ids: list[str], auth_event_id: str) -> None:
        now = self.clock.now()
        existing = {
            c.tenant_id: c
            for c in self._connections.values()
            if c.user_id == user.user_id and c.client_id == app.client_id
        }
        for tenant_id in tenant_ids:
            connection = existing.get(tenant_id)
            if connection is not None:  # re-consent: Xero keeps createdDateUtc and the id
                connection.updated = now
                connection.auth_event_id = auth_event_id
                continue
            connection = Connection(
                id=str(uuid.uuid4()),
                user_id=user.user_id,
                client_id=app.client_id,
                tenant_id=tenant_id,
                tenant_name=self.tenants[tenant_id],
                auth_event_id=auth_event_id,
                created=now,
                updated=now,
            )
            self._connections[connection.id] = connection

    # --- the token endpoint --------------------------------------------------------------------------------------

    def authenticate_client(self, form: Mapping[str, str], authorization: str | None) -> App:
        """The calling app, from HTTP Basic or client_id/client_secret in the body (Xero accepts both)."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "malformed Basic authorization") from None
        app = self.app(client_id or "")
        if app is None:
            raise OAuthError("invalid_client")
        if app.client_secret is not None and not hmac.compare_digest(
            (secret or "").encode(), app.client_secret.encode()
        ):
            raise OAuthError("invalid_client")
        return app

    def token(self, form: Mapping[str, str], authorization: str | None) -> TokenResult:
        """POST /connect/token. Raises OAuthError (always 400)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError("unsupported_grant_type")
        app = self.authenticate_client(form, authorization)
        with self._lock:
            if grant_type == "authorization_code":
                body = self._redeem_code(app, form)
            elif grant_type == "refresh_token":
                body = self._refresh_grant(app, form)
            else:
                body = self._client_credentials(app, form)
        return TokenResult(body=body, grant_type=grant_type, client_id=app.client_id)

    def _redeem_code(self, app: App, form: Mapping[str, str]) -> dict[str, object]:
        code = self._codes.get(form.get("code") or "")
        now = self.clock.now()
        if code is None or code.client_id != app.client_id:
            raise OAuthError("invalid_grant")
        if code.used:
            raise OAuthError("invalid_grant", "authorization code already used")
        code.used = True  # single use, even when the rest of this request fails
        if now >= code.expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorize request")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier") or ""
            if not _PKCE_VERIFIER.match(verifier):
                raise OAuthError("invalid_grant", "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
            if not hmac.compare_digest(pkce_challenge(verifier), code.code_challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match code_challenge")
        user = self._user_by_id(code.user_id)
        return self._issue(app, user, code.scopes, code.auth_event_id, code.had_tenants, code.nonce)

    def _refresh_grant(self, app: App, form: Mapping[str, str]) -> dict[str, object]:
        old = self._refresh.get(form.get("refresh_token") or "")
        now = self.clock.now()
        if old is None or old.revoked or old.client_id != app.client_id:
            raise OAuthError("invalid_grant")
        if now >= old.issued_at + REFRESH_LIFETIME:
            raise OAuthError("invalid_grant", "refresh token expired (unused for 60 days)")
        if old.superseded_at is not None and now >= old.superseded_at + REFRESH_GRACE:
            raise OAuthError("invalid_grant", "refresh token was rotated more than 30 minutes ago")
        if old.had_tenants and not self._connections_of(old.user_id, old.client_id):
            raise OAuthError("invalid_grant", "every connection of this grant was removed")
        if old.superseded_at is None:
            old.superseded_at = now
        user = self._user_by_id(old.user_id)
        return self._issue(app, user, old.scopes, old.auth_event_id, old.had_tenants)

    def _client_credentials(self, app: App, form: Mapping[str, str]) -> dict[str, object]:
        if app.custom_connection_tenant_id is None:
            raise OAuthError("unauthorized_client", "client_credentials needs a custom connection app")
        requested = form.get("scope")
        if requested:
            scopes = self._check_scopes(app, requested)
        else:
            scopes = tuple(sorted(app.allowed_scopes or (KNOWN_SCOPES - IDENTITY_SCOPES - {OFFLINE_ACCESS})))
        if OFFLINE_ACCESS in scopes or IDENTITY_SCOPES & set(scopes):
            raise OAuthError("invalid_scope", "custom connections get neither refresh tokens nor identity scopes")
        access = self._new_access(app, self._custom_user(app), scopes, None)
        return {"access_token": access, "expires_in": 1800, "token_type": "Bearer", "scope": " ".join(scopes)}

    def _issue(
        self,
        app: App,
        user: User,
        scopes: tuple[str, ...],
        auth_event_id: str,
        had_tenants: bool,
        nonce: str | None = None,
    ) -> dict[str, object]:
        now = self.clock.now()
        body: dict[str, object] = {}
        access = self._new_access(app, user, scopes, auth_event_id)
        if "openid" in scopes:
            body["id_token"] = self._id_token(app, user, access, scopes, nonce)
        body.update({"access_token": access, "expires_in": 1800, "token_type": "Bearer"})
        if OFFLINE_ACCESS in scopes:
            refresh = RefreshToken(
                token=secrets.token_hex(32),
                client_id=app.client_id,
                user_id=user.user_id,
                scopes=scopes,
                auth_event_id=auth_event_id,
                issued_at=now,
                had_tenants=had_tenants,
            )
            self._refresh[refresh.token] = refresh
            body["refresh_token"] = refresh.token
        body["scope"] = " ".join(scopes)
        return body

    def _new_access(self, app: App, user: User, scopes: tuple[str, ...], auth_event_id: str | None) -> str:
        """An access token shaped like Xero's (a JWT a client may decode for exp and authentication_event_id)."""
        now = self.clock.now()
        expires = now + ACCESS_TOKEN_LIFETIME
        claims: dict[str, object] = {
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": self.issuer,
            "aud": f"{self.issuer}/resources",
            "client_id": app.client_id,
            "sub": user.user_id,
            "auth_time": int(now.timestamp()),
            "jti": uuid.uuid4().hex,
            "scope": list(scopes),
        }
        if not user.user_id.startswith("custom:"):
            claims["xero_userid"] = user.user_id
        if auth_event_id is not None:
            claims["authentication_event_id"] = auth_event_id
        token = sign_jwt(claims)
        self._access[token] = AccessToken(token, app.client_id, user.user_id, frozenset(scopes), expires, auth_event_id)
        return token

    def _id_token(self, app: App, user: User, access: str, scopes: tuple[str, ...], nonce: str | None) -> str:
        now = self.clock.now()
        digest = hashlib.sha256(access.encode()).digest()
        claims: dict[str, object] = {
            "nbf": int(now.timestamp()),
            "exp": int((now + ID_TOKEN_LIFETIME).timestamp()),
            "iss": self.issuer,
            "aud": app.client_id,
            "iat": int(now.timestamp()),
            "at_hash": b64url(digest[:16]),
            "sub": user.user_id,
            "auth_time": int(now.timestamp()),
            "xero_userid": user.user_id,
        }
        if nonce:  # OpenID clients check the nonce they sent to the authorize page comes back
            claims["nonce"] = nonce
        if "email" in scopes:
            claims.update({"email": user.email, "preferred_username": user.email})
        if "profile" in scopes:
            claims.update(
                {
                    "given_name": user.first_name,
                    "family_name": user.last_name,
                    "name": f"{user.first_name} {user.last_name}",
                }
            )
        return sign_jwt(claims)

    # --- revocation, bearer tokens, connections ------------------------------------------------------------------

    def revoke(self, form: Mapping[str, str], authorization: str | None) -> str:
        """POST /connect/revocation: revoke the user's tokens for the app and remove their connections.

        Returns the client id (for the stats). An unknown token is not an error (RFC 7009 §2.2).
        """
        app = self.authenticate_client(form, authorization)
        token = form.get("token") or ""
        with self._lock:
            owner = self._refresh.get(token) or self._access.get(token)
            if owner is None or owner.client_id != app.client_id:
                return app.client_id
            for refresh in self._refresh.values():
                if refresh.user_id == owner.user_id and refresh.client_id == app.client_id:
                    refresh.revoked = True
            for connection in self._connections_of(owner.user_id, app.client_id):
                del self._connections[connection.id]
        return app.client_id

    def bearer(self, authorization: str | None) -> AccessToken:
        """The access token of an API call. Raises BearerError with Xero's Detail text."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise BearerError("AuthenticationUnsuccessful")
        with self._lock:
            access = self._access.get(authorization[7:].strip())
        if access is None:
            raise BearerError("AuthenticationUnsuccessful")
        if self.clock.now() >= access.expires_at:
            raise BearerError(f"TokenExpired: token expired at {access.expires_at.strftime('%m/%d/%Y %H:%M:%S')}")
        return access

    def connections(self, access: AccessToken, auth_event_id: str | None = None) -> list[Connection]:
        """GET /connections: the user's connections to the calling app, oldest first."""
        with self._lock:
            found = self._connections_of(access.user_id, access.client_id)
        if auth_event_id:
            found = [c for c in found if c.auth_event_id == auth_event_id]
        return sorted(found, key=lambda c: c.created)

    def connections_by_event(self, auth_event_id: str) -> list[Connection]:
        """The connections one consent created or renewed (what its authEventId groups)."""
        with self._lock:
            return [c for c in self._connections.values() if c.auth_event_id == auth_event_id]

    def disconnect(self, access: AccessToken, connection_id: str) -> bool:
        """DELETE /connections/{id}: False when the id is not one of this user's connections to this app."""
        with self._lock:
            connection = self._connections.get(connection_id)
            if connection is None or (connection.user_id, connection.client_id) != (access.user_id, access.client_id):
                return False
            del self._connections[connection_id]
        return True

    def connected_tenant_ids(self, access: AccessToken) -> set[str]:
        with self._lock:
            return {c.tenant_id for c in self._connections_of(access.user_id, access.client_id)}

    def app_connected(self, client_id: str, tenant_id: str) -> bool:
        """Whether any user (or the app itself, for a custom connection) has connected the app to the organisation:
        the organisations whose changes the app's webhook hears about."""
        with self._lock:
            return any(c.client_id == client_id and c.tenant_id == tenant_id for c in self._connections.values())

    def _connections_of(self, user_id: str, client_id: str) -> list[Connection]:
        return [c for c in self._connections.values() if c.user_id == user_id and c.client_id == client_id]

    def user_by_id(self, user_id: str) -> User | None:
        with self._lock:
            return next((u for u in self._users.values() if u.user_id == user_id), None)

    def _user_by_id(self, user_id: str) -> User:
        if user_id.startswith("custom:"):
            return User(user_id, "", "")
        user = self.user_by_id(user_id)
        assert user is not None, "tokens are only issued to known users"
        return user

    @staticmethod
    def _custom_user(app: App) -> User:
        # A custom connection has no Xero user; its connection belongs to the app itself.
        return User(f"custom:{app.client_id}", "", "")
