"""The token store: which organisations are connected, and their OAuth tokens, encrypted, refreshed safely.

Xero rotates refresh tokens: every refresh returns a new one and the old one dies 30 minutes later
(https://developer.xero.com/faq/oauth2/). Two workers that refresh the same consent at once, or a new refresh token
that is lost before it is saved, leave the customer to reconnect by hand: `invalid_grant`, the most reported failure of
Xero integrations (XeroAPI/Xero-NetStandard#257, XeroAPI/xero-node#370 and #382). So a refresh here happens only
under a row lock on the consent's token row (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), re-reads
the row, refreshes only if it is still needed, and commits the new refresh token in that same transaction before
anyone uses the new access token. That holds across threads, Dagster run processes and the CLI alike.

One token row per consent (Xero's auth event), covering every tenant chosen in it; one connection row per tenant.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from xero_assets.store.crypto import SECRET_KEY_ENV, Cipher
from xero_assets.store.db import create_missing_tables, metadata
from xero_assets.xero.errors import ReauthorizationRequired, TenantNotConnected, XeroError
from xero_assets.xero.oauth import InvalidGrant, TokenSet, XeroConnection, XeroOAuth, jwt_claim

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=2)  # refresh this long before expiry, so a token never expires mid-call
JUST_REFRESHED = timedelta(seconds=30)  # without knowing the rejected token, a refresh this recent is trusted

xero_tokens = sa.Table(
    "xero_tokens",
    metadata,
    sa.Column("token_id", sa.String(36), primary_key=True),
    sa.Column("auth_event_id", sa.String(64)),
    sa.Column("xero_user_id", sa.String(64)),  # whose consent: Xero's revocation removes all of a user's connections
    sa.Column("access_token_encrypted", sa.Text, nullable=False),
    sa.Column("refresh_token_encrypted", sa.Text),  # None without offline_access
    sa.Column("expires_at", sa.DateTime, nullable=False),  # naive UTC, like every timestamp in our tables
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("last_refresh_at", sa.DateTime),
)

xero_connections = sa.Table(
    "xero_connections",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("connection_id", sa.String(64), nullable=False),
    sa.Column("tenant_name", sa.Text, nullable=False),
    sa.Column("tenant_type", sa.String(32), nullable=False),
    sa.Column("auth_event_id", sa.String(64)),
    sa.Column("token_id", sa.String(36), sa.ForeignKey("xero_tokens.token_id", ondelete="SET NULL")),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("last_refresh_at", sa.DateTime),
)


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    DISCONNECTED_AT_XERO = "disconnected_at_xero"  # Xero answered 403: the connection was removed on Xero's side
    REMOVED = "removed"

    @property
    def label(self) -> str:
        """The words the product page shows."""
        return {
            "active": "Success",
            "needs_reauthorization": "Needs re-authorization",
            "disconnected_at_xero": "Disconnected at Xero",
            "removed": "Removed",
        }[self]

    @property
    def needs_reconnecting(self) -> bool:
        """Only a new consent (`xero-assets connect`) makes the tenant syncable again."""
        return self in (ConnectionStatus.NEEDS_REAUTHORIZATION, ConnectionStatus.DISCONNECTED_AT_XERO)


@dataclass(frozen=True)
class Connection:
    """One connected organisation, as the CLI, the web page and the Dagster sensor see it (no tokens)."""

    tenant_id: str
    tenant_name: str
    tenant_type: str
    status: ConnectionStatus
    scopes: tuple[str, ...]
    connection_id: str
    auth_event_id: str | None
    token_id: str | None
    created_at: datetime
    updated_at: datetime
    last_refresh_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status is ConnectionStatus.ACTIVE


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _to_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _from_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _connection(row: sa.Row) -> Connection:
    return Connection(
        tenant_id=row.tenant_id,
        tenant_name=row.tenant_name,
        tenant_type=row.tenant_type,
        status=ConnectionStatus(row.status),
        scopes=tuple(row.scopes.split()),
        connection_id=row.connection_id,
        auth_event_id=row.auth_event_id,
        token_id=row.token_id,
        created_at=_from_db(row.created_at),  # type: ignore[arg-type]
        updated_at=_from_db(row.updated_at),  # type: ignore[arg-type]
        last_refresh_at=_from_db(row.last_refresh_at),
    )


def stored_token_count(engine: sa.Engine) -> int:
    """Consents whose tokens are stored (0 before the first connect, when the table does not exist yet)."""
    if not sa.inspect(engine).has_table(xero_tokens.name):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(xero_tokens)).scalar_one())


class TokenStore:
    """Connections and encrypted tokens in our database; a `TokenSource` for the Xero client."""

    def __init__(
        self,
        engine: sa.Engine,
        cipher: Cipher,
        oauth: XeroOAuth,
        *,
        create_tables: bool = True,
        owns_engine: bool = False,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.oauth = oauth
        self._cipher = cipher
        self._owns_engine = owns_engine
        self._clock = clock
        # Per thread, a digest of the access token last handed out per consent: when that thread reports it rejected
        # (force_refresh), we can tell "someone already refreshed it" from "the stored token itself is dead".
        self._handed_out = threading.local()
        if create_tables:
            create_missing_tables(engine, [xero_tokens, xero_connections])

    def close(self) -> None:
        self.oauth.close()
        if self._owns_engine:
            self.engine.dispose()

    # --- consent and listing -------------------------------------------------------------------------------------

    def save_consent(self, tokens: TokenSet, connections: Sequence[XeroConnection]) -> list[Connection]:
        """Store one consent's tokens and point each of its organisations at them (a re-consent reactivates)."""
        now = _to_db(self._clock())
        token_id = str(uuid.uuid4())
        scopes = " ".join(tokens.scopes)
        with self.engine.begin() as conn:
            conn.execute(
                xero_tokens.insert().values(
                    token_id=token_id,
                    auth_event_id=tokens.auth_event_id,
                    xero_user_id=jwt_claim(tokens.access_token, "xero_userid") or jwt_claim(tokens.access_token, "sub"),
                    access_token_encrypted=self._encrypt(tokens.access_token),
                    refresh_token_encrypted=self._encrypt(tokens.refresh_token) if tokens.refresh_token else None,
                    expires_at=_to_db(tokens.expires_at),
                    scopes=scopes,
                    created_at=now,
                    updated_at=now,
                    last_refresh_at=None,
                )
            )
            for item in connections:
                values = {
                    "connection_id": item.id,
                    "tenant_name": item.tenant_name,
                    "tenant_type": item.tenant_type,
                    "auth_event_id": item.auth_event_id or tokens.auth_event_id,
                    "token_id": token_id,
                    "scopes": scopes,
                    "status": ConnectionStatus.ACTIVE.value,
                    "updated_at": now,
                }
                found = conn.execute(
                    sa.select(xero_connections.c.tenant_id).where(xero_connections.c.tenant_id == item.tenant_id)
                ).first()
                if found:
                    conn.execute(
                        xero_connections.update().where(xero_connections.c.tenant_id == item.tenant_id).values(values)
                    )
                else:
                    conn.execute(xero_connections.insert().values(tenant_id=item.tenant_id, created_at=now, **values))
            self._drop_orphan_tokens(conn)
        return [c for c in self.list_connections(include_removed=True) if c.token_id == token_id]

    def list_connections(self, include_removed: bool = False) -> list[Connection]:
        """Every connection, oldest first (removed ones only when asked)."""
        query = sa.select(xero_connections).order_by(xero_connections.c.created_at, xero_connections.c.tenant_name)
        if not include_removed:
            query = query.where(xero_connections.c.status != ConnectionStatus.REMOVED.value)
        with self.engine.connect() as conn:
            return [_connection(row) for row in conn.execute(query)]

    def get_connection(self, tenant_id: str) -> Connection | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(xero_connections).where(xero_connections.c.tenant_id == tenant_id)).first()
        return _connection(row) if row else None

    def find_connection(self, tenant: str) -> Connection | None:
        """A connection by tenant id, or else by its exact organisation name (when only one has it)."""
        found = self.get_connection(tenant)
        if found is not None:
            return found
        named = [c for c in self.list_connections(include_removed=True) if c.tenant_name == tenant]
        return named[0] if len(named) == 1 else None

    # --- tokens ----------------------------------------------------------------------------------------------------

    def access_token(self, tenant_id: str, *, force_refresh: bool = False) -> str:
        """A valid access token for the tenant, refreshing (once, across every process) when it is about to expire.

        `force_refresh` is for a 401 TokenExpired on the token this thread was last given: it refreshes unless
        another caller has refreshed it since.
        """
        with self.engine.connect() as conn:
            row = conn.execute(self._token_query(tenant_id)).first()
        token_id = self._usable(tenant_id, row)
        if not force_refresh and not self._expiring(row):
            return self._hand_out(token_id, self._decrypt(row.access_token_encrypted))
        return self._hand_out(token_id, self._refresh(tenant_id, token_id, force_refresh))

    def refresh_token_of(self, token_id: str) -> str | None:
        """The consent's current refresh token, for revoking it (never logged or shown)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(xero_tokens.c.refresh_token_encrypted).where(xero_tokens.c.token_id == token_id)
            ).scalar()
        return self._decrypt(value) if value else None

    def mark_needs_reauthorization(self, tenant_id: str) -> None:
        self._set_status(tenant_id, ConnectionStatus.NEEDS_REAUTHORIZATION)

    def mark_removed(self, tenant_id: str) -> None:
        self._set_status(tenant_id, ConnectionStatus.REMOVED)

    def mark_disconnected_at_xero(self, tenant_id: str) -> None:
        """Xero answered 403 for this tenant: its connection was removed in Xero, so it is not synced again until
        someone reconnects it (instead of every later sync collecting the same refusals)."""
        self._set_status(tenant_id, ConnectionStatus.DISCONNECTED_AT_XERO)

    def undecryptable_tenants(self) -> list[str]:
        """Tenants whose stored tokens the configured key cannot decrypt (wrong or rotated-away key)."""
        query = sa.select(xero_connections.c.tenant_id, xero_tokens.c.access_token_encrypted).join(
            xero_tokens, xero_connections.c.token_id == xero_tokens.c.token_id
        )
        bad = []
        with self.engine.connect() as conn:
            for tenant_id, encrypted in conn.execute(query):
                try:
                    self._cipher.decrypt(encrypted.encode())
                except InvalidToken:
                    bad.append(tenant_id)
        return bad

    def user_has_other_connections(self, token_id: str) -> bool:
        """True when the Xero user behind this consent still has a connection here that is not removed.

        Xero's revocation removes *all* of a user's connections to the app, so we revoke only when none is left.
        """
        with self.engine.connect() as conn:
            user = conn.execute(
                sa.select(xero_tokens.c.xero_user_id).where(xero_tokens.c.token_id == token_id)
            ).scalar()
            same_user = sa.select(xero_tokens.c.token_id).where(
                sa.or_(xero_tokens.c.token_id == token_id, xero_tokens.c.xero_user_id == user)
                if user
                else xero_tokens.c.token_id == token_id
            )
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(xero_connections)
                .where(xero_connections.c.token_id.in_(same_user))
                .where(xero_connections.c.status != ConnectionStatus.REMOVED.value)
            ).scalar_one()
        return count > 0

    def forget_tokens(self, token_id: str) -> None:
        """Delete a consent's tokens (after revocation); its connections keep their history, without tokens."""
        with self.engine.begin() as conn:
            conn.execute(xero_connections.update().where(xero_connections.c.token_id == token_id).values(token_id=None))
            conn.execute(xero_tokens.delete().where(xero_tokens.c.token_id == token_id))

    # --- internals -------------------------------------------------------------------------------------------------

    @staticmethod
    def _token_query(tenant_id: str) -> sa.Select:
        return (
            sa.select(xero_connections.c.status, xero_connections.c.token_id, xero_tokens)
            .select_from(xero_connections.outerjoin(xero_tokens, xero_connections.c.token_id == xero_tokens.c.token_id))
            .where(xero_connections.c.tenant_id == tenant_id)
        )

    @staticmethod
    def _usable(tenant_id: str, row: sa.Row | None) -> str:
        """The connection's token id, or the error that says why it cannot be used."""
        if row is None:
            raise TenantNotConnected(tenant_id, reason="it was never connected here")
        if row.status == ConnectionStatus.REMOVED.value:
            raise TenantNotConnected(tenant_id, reason="it was disconnected")
        if row.status == ConnectionStatus.NEEDS_REAUTHORIZATION.value:
            raise ReauthorizationRequired([tenant_id], "marked earlier")
        if row.status == ConnectionStatus.DISCONNECTED_AT_XERO.value:
            raise TenantNotConnected(tenant_id, reason="Xero removed its connection (it answered 403 on a sync)")
        if row.token_id is None or row.access_token_encrypted is None:
            raise ReauthorizationRequired([tenant_id], "no tokens are stored for it")
        return row.token_id

    def _expiring(self, row: sa.Row) -> bool:
        return _from_db(row.expires_at) - REFRESH_MARGIN <= self._clock()  # type: ignore[operator]

    @contextmanager
    def _locked_token(self, token_id: str) -> Iterator[tuple[sa.Connection, sa.Row | None]]:
        """A transaction holding the write lock on one token row, with the row as it is now (re-read)."""
        with self.engine.connect() as conn:
            dialect = self.engine.dialect.name
            if dialect == "sqlite":
                # SQLite locks the whole database; IMMEDIATE takes the write lock now (queued by busy_timeout),
                # so no other refresher can read the old refresh token between our read and our write.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            query = sa.select(xero_tokens).where(xero_tokens.c.token_id == token_id)
            if dialect != "sqlite":
                query = query.with_for_update()
            try:
                row = conn.execute(query).first()
                yield conn, row
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _refresh(self, tenant_id: str, token_id: str, force: bool) -> str:
        dead: list[str] | None = None
        detail = ""
        with self._locked_token(token_id) as (conn, row):
            if row is None:
                raise ReauthorizationRequired([tenant_id], "its tokens were removed")
            now = self._clock()
            stored = self._decrypt(row.access_token_encrypted)
            if not self._expiring(row) and (not force or self._refreshed_since_rejection(token_id, stored, row, now)):
                return stored  # another caller refreshed while we waited for the lock
            if not row.refresh_token_encrypted:
                raise ReauthorizationRequired([tenant_id], "the consent has no refresh token (offline_access)")
            try:
                fresh = self.oauth.refresh(self._decrypt(row.refresh_token_encrypted))
            except InvalidGrant as exc:
                # Every tenant of this consent shares the dead refresh token; tenants of other consents are untouched.
                dead = list(
                    conn.execute(
                        sa.select(xero_connections.c.tenant_id)
                        .where(xero_connections.c.token_id == token_id)
                        .where(xero_connections.c.status == ConnectionStatus.ACTIVE.value)
                    ).scalars()
                )
                conn.execute(
                    xero_connections.update()
                    .where(xero_connections.c.tenant_id.in_(dead))
                    .values(status=ConnectionStatus.NEEDS_REAUTHORIZATION.value, updated_at=_to_db(now))
                )
                detail = f"Xero answered invalid_grant{f': {exc.description}' if exc.description else ''}"
            else:
                self._store_refreshed(conn, token_id, row, fresh, now)
                log.info("refreshed the access token of consent %s (tenant %s)", token_id, tenant_id)
        if dead is not None:
            log.warning("Xero refused the refresh token for tenant(s) %s; marked needs re-authorization", dead)
            raise ReauthorizationRequired(dead or [tenant_id], detail)
        return fresh.access_token

    def _refreshed_since_rejection(self, token_id: str, stored: str, row: sa.Row, now: datetime) -> bool:
        """For a forced refresh: is the stored token newer than the one this thread found rejected?"""
        rejected = getattr(self._handed_out, token_id, None)
        if rejected is not None:
            return _digest(stored) != rejected
        last = _from_db(row.last_refresh_at)
        return last is not None and now - last < JUST_REFRESHED

    def _hand_out(self, token_id: str, token: str) -> str:
        setattr(self._handed_out, token_id, _digest(token))
        return token

    def _store_refreshed(self, conn: sa.Connection, token_id: str, row: sa.Row, fresh: TokenSet, now: datetime) -> None:
        refresh = self._encrypt(fresh.refresh_token) if fresh.refresh_token else row.refresh_token_encrypted
        conn.execute(
            xero_tokens.update()
            .where(xero_tokens.c.token_id == token_id)
            .values(
                access_token_encrypted=self._encrypt(fresh.access_token),
                refresh_token_encrypted=refresh,
                expires_at=_to_db(fresh.expires_at),
                scopes=" ".join(fresh.scopes) or row.scopes,
                updated_at=_to_db(now),
                last_refresh_at=_to_db(now),
            )
        )
        conn.execute(
            xero_connections.update().where(xero_connections.c.token_id == token_id).values(last_refresh_at=_to_db(now))
        )

    def _set_status(self, tenant_id: str, status: ConnectionStatus) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(
                xero_connections.update()
                .where(xero_connections.c.tenant_id == tenant_id)
                .values(status=status.value, updated_at=_to_db(self._clock()))
            ).rowcount
        if not changed:
            raise TenantNotConnected(tenant_id, reason="it was never connected here")

    @staticmethod
    def _drop_orphan_tokens(conn: sa.Connection) -> None:
        """Token rows no connection points at any more (every tenant re-consented elsewhere) are dead weight."""
        used = sa.select(xero_connections.c.token_id).where(xero_connections.c.token_id.is_not(None))
        conn.execute(xero_tokens.delete().where(xero_tokens.c.token_id.not_in(used)))

    def _encrypt(self, value: str) -> str:
        return self._cipher.encrypt(value.encode()).decode()

    def _decrypt(self, value: str) -> str:
        try:
            return self._cipher.decrypt(value.encode()).decode()
        except InvalidToken:
            raise XeroError(
                f"Stored Xero tokens cannot be decrypted with the configured {SECRET_KEY_ENV}: set the key they were "
                "stored with (list the old key after a new one to rotate), or reconnect the tenants."
            ) from None
