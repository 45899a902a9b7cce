"""Sessions, CSRF tokens, the admin password check and login throttling.

Why server-side sessions: the cookie carries only a random session id (HttpOnly, Secure, SameSite=Lax), so nothing
in it can be read, forged or replayed into a different session, and the OAuth state and PKCE verifier of a consent
in progress never leave the server. Lax, not Strict: Xero's redirect back to the callback is a top-level GET from
another site, which must arrive with the session that started it. Sessions live in this process (one worker), so a
restart logs the admin out, which is the safe direction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SESSION_COOKIE = "xero_assets_session"
CSRF_FIELD = "csrf_token"
CONSENT_LIFETIME_SECONDS = 600.0  # an authorize round trip older than this is refused (Xero's codes live 5 minutes)
MAX_PENDING_CONSENTS = 5
MAX_SESSIONS = 10_000  # each visit to the login page starts one: past this, the idlest signed-out ones go first

Clock = Callable[[], float]


@dataclass(frozen=True)
class PendingConsent:
    """A consent this session started: what the callback must match (state) and prove (the PKCE verifier)."""

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...]
    started: float
    # Each already-connected organisation's scopes before this consent, to say afterwards which APIs changed.
    scopes_before: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Every organisation this store knew before (any status): those are re-synced here; new ones by the sensor.
    known_before: frozenset[str] = frozenset()


@dataclass
class Session:
    id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    last_seen: float
    authenticated: bool = False
    pending: list[PendingConsent] = field(default_factory=list)
    notice: str | None = None  # one message shown on the next page (e.g. after a redirect)
    connected: dict[str, Any] | None = None  # what the last consent connected, for the success page

    def add_pending(self, consent: PendingConsent) -> None:
        self.pending = [*self.pending, consent][-MAX_PENDING_CONSENTS:]

    def take_pending(self, state: str, now: float) -> PendingConsent | None:
        """The consent whose state matches, removed so the same callback can never be redeemed twice."""
        found = None
        for consent in self.pending:
            if hmac.compare_digest(consent.state.encode(), state.encode()):
                found = consent
        if found is None:
            return None
        self.pending = [c for c in self.pending if c is not found]
        return found if now - found.started <= CONSENT_LIFETIME_SECONDS else None

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice


class SessionStore:
    """Sessions by id, expired after `idle_seconds` without a request. Thread-safe."""

    def __init__(self, idle_seconds: float, clock: Clock = time.monotonic) -> None:
        self._idle = idle_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock())
        with self._lock:
            self._expire()
            if len(self._sessions) >= MAX_SESSIONS:
                anonymous = sorted(
                    (s for s in self._sessions.values() if not s.authenticated), key=lambda s: s.last_seen
                )
                for old in anonymous[: len(self._sessions) - MAX_SESSIONS + 1]:
                    del self._sessions[old.id]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._clock() - session.last_seen > self._idle:
                del self._sessions[session_id]
                return None
            session.last_seen = self._clock()
            return session

    def rotate(self, session: Session) -> Session:
        """The same session under a new id and CSRF token (on login, so an id planted before login is useless)."""
        with self._lock:
            self._sessions.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf_token = secrets.token_urlsafe(32)
            self._sessions[session.id] = session
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self._idle]:
            del self._sessions[key]


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    """True when the form's token is this session's (constant-time compare)."""
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


def password_ok(expected: str, given: str) -> bool:
    """Constant-time password check (digests first, so the length of the password does not show either)."""
    return hmac.compare_digest(hashlib.sha256(expected.encode()).digest(), hashlib.sha256(given.encode()).digest())


class LoginThrottle:
    """At most `per_client` failed logins per client and `overall` in total within `window` seconds; then login is
    refused, without checking the password, until the oldest failure in the window ages out."""

    def __init__(
        self, per_client: int = 5, overall: int = 50, window: float = 900.0, clock: Clock = time.monotonic
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """0 when `client` may try now, else how long until it may."""
        with self._lock:
            now = self._clock()
            mine = self._recent(self._failures.get(client, deque()), now)
            everyone = self._recent(self._all, now)
            waits = [q[0] + self.window - now for q, limit in ((mine, self.per_client), (everyone, self.overall))
                     if len(q) >= limit]  # fmt: skip
            return max(waits, default=0.0)

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, failures: deque[float], now: float) -> deque[float]:
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
