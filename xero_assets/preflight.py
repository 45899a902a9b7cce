"""Startup checks before a command touches anything: each problem is one message saying what is wrong and what to
do, instead of a traceback from deep inside the first query (or, worse, a new key silently replacing the old one).

No Dagster here: `xero-assets sync` runs these before it imports Dagster, so a bad setting, an unknown `--select`
name or an unknown tenant is refused in a second, before any partition or run exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from xero_assets import catalog
from xero_assets.exit_codes import BAD_USAGE, RECONNECT, CommandFailed, ConfigProblem
from xero_assets.store.crypto import SECRET_KEY_ENV
from xero_assets.store.tokens import Connection, ConnectionStatus, TokenStore


def shown_url(url: str) -> str:
    """The database URL as it may be printed: never its password."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unparseable URL)"


def check_database(engine: sa.Engine) -> None:
    """One round trip, so an unreachable or misspelt database fails here with its URL, not mid-sync."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigProblem(
            f"cannot reach the database {shown_url(str(engine.url))} ({reason}); check XERO_ASSETS_DATABASE_URL and "
            "that the database server is running"
        ) from None


def check_tokens_readable(store: TokenStore) -> None:
    """Every stored consent must decrypt with the configured key: a wrong key is a setting to fix, not a tenant to
    reconnect, and it must be said before any tenant is reported as connected."""
    bad = store.undecryptable_tenants()
    if bad:
        raise ConfigProblem(
            f"{SECRET_KEY_ENV} cannot decrypt the stored tokens of {len(bad)} tenant(s) ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): set it to the key they were stored with (to rotate, list the old key "
            "after the new one, comma-separated), or reconnect them with `xero-assets connect`"
        )


def check_select(select: Sequence[str] | None) -> list[str]:
    """The `--select` API names, each one the sync can materialize (anything else is bad usage, exit 2): a name the
    catalog keeps only to explain it (an API Xero removed) is refused with that explanation."""
    names = [name.strip() for name in select or () if name.strip()]
    syncable = {api.name for api in catalog.SYNCABLE}
    for name in names:
        if name in syncable:
            continue
        known = catalog.BY_NAME.get(name)
        why = f"{known.description.rstrip('.')}" if known is not None else "no such API in the catalog"
        raise CommandFailed(
            f"--select {name!r} cannot be synced ({why}); the APIs that can be: {', '.join(sorted(syncable))}",
            BAD_USAGE,
        )
    return names


def reconnect_line(connection: Connection) -> str:
    """What to say about a tenant that only a new consent can make syncable again."""
    what = "it was disconnected here" if connection.status is ConnectionStatus.REMOVED else connection.status.label
    name = f"{connection.tenant_name} ({connection.tenant_id})"
    return f"{name}: {what}; not synced. Reconnect it with `xero-assets connect`"


def sync_targets(tenant: str | None) -> tuple[list[Connection], list[Connection]]:
    """(connections to sync, connections that need reconnecting) for `--tenant` (id or name) or `--all`.

    A tenant that is unknown (exit 2) or not active (exit 3) is refused here, before anything is written for it."""
    from xero_assets.connections import open_store  # connections imports this module

    store = open_store(verify_key=True)
    try:
        if tenant is None:
            every = store.list_connections()
            return [c for c in every if c.active], [c for c in every if not c.active]
        connection = store.find_connection(tenant)
    finally:
        store.close()
    if connection is None:
        raise CommandFailed(
            f"no connection for tenant {tenant!r}: `xero-assets connections` lists the connected organisations and "
            "`xero-assets connect` adds one",
            BAD_USAGE,
        )
    if not connection.active:
        raise CommandFailed(reconnect_line(connection), RECONNECT)
    return [connection], []
