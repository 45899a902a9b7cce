"""Connecting, listing and removing Xero organisations: the OAuth flow wired to the token store (no Dagster).

`xero-assets connect` runs Xero's authorization-code flow with state and PKCE: it prints (or opens) the authorize URL
and receives the redirect on a small local server bound to XERO_REDIRECT_URI's port, which answers the browser with
"Xero oauth redirect success!" as the product page promises. `disconnect` removes the connection in Xero and revokes
the consent only when nothing else of that Xero user is still connected, because Xero's revocation removes *all*
of a user's connections to the app.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
import webbrowser
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

import click

from xero_assets.preflight import check_database, check_tokens_readable
from xero_assets.store.crypto import cipher_from_env
from xero_assets.store.db import database_url_from_env, make_engine
from xero_assets.store.tokens import Connection, ConnectionStatus, TokenStore, stored_token_count
from xero_assets.xero.config import XeroAppConfig
from xero_assets.xero.errors import ReauthorizationRequired, XeroError
from xero_assets.xero.oauth import AuthorizationRequest, XeroOAuth

log = logging.getLogger(__name__)

SUCCESS_TEXT = "Xero oauth redirect success!"
CALLBACK_TIMEOUT_SECONDS = 600.0

Echo = Callable[[str], None]
P = ParamSpec("P")
R = TypeVar("R")


class ConnectError(XeroError):
    """The connect flow did not complete; the message says why and what to do."""


@dataclass
class CallbackResult:
    """What arrived on the redirect URI: a code (state already checked) or Xero's error."""

    code: str | None = None
    error: str | None = None


def _explained(command: Callable[P, R]) -> Callable[P, R]:
    """Our errors already say what to do: show them as a one-line CLI error, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from xero_assets.exit_codes import explained_errors

        with explained_errors():
            return command(*args, **kwargs)

    return run


def open_store(config: XeroAppConfig | None = None, *, verify_key: bool = False) -> TokenStore:
    """The token store over XERO_ASSETS_DATABASE_URL with the app from the environment (the CLI's wiring).

    Checked first: the database answers, and a missing key is never replaced while tokens are stored; with
    `verify_key`, every stored consent must decrypt (commands that read tokens; not `connect`, which may be how a
    lost key is recovered from)."""
    config = config or XeroAppConfig.from_env()
    engine = make_engine(database_url_from_env())
    try:
        check_database(engine)
        cipher = cipher_from_env(stored_tokens=lambda: stored_token_count(engine))
        store = TokenStore(engine, cipher, XeroOAuth(config), owns_engine=True)
        if verify_key:
            check_tokens_readable(store)
    except BaseException:
        engine.dispose()
        raise
    return store


# --- connect ---------------------------------------------------------------------------------------------------------


class _CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], path: str, state: str) -> None:
        super().__init__(address, _CallbackHandler)
        self.expected_path = path
        self.expected_state = state
        self.result: CallbackResult | None = None
        self.done = threading.Event()


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # http.server calls do_<METHOD>
        url = urlsplit(self.path)
        if url.path != self.server.expected_path:
            self._answer(404, "Not the Xero redirect path.")
            return
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if not hmac.compare_digest(query.get("state", ""), self.server.expected_state):
            # A redirect we did not start (or a forged one): refuse it and keep waiting for ours.
            self._answer(400, "The state does not match this connect attempt; start `xero-assets connect` again.")
            return
        if query.get("error"):
            result = CallbackResult(error=query["error"])
            self._answer(400, f"Xero did not connect: {query['error']}. You can close this window.")
        elif query.get("code"):
            result = CallbackResult(code=query["code"])
            self._answer(200, SUCCESS_TEXT)
        else:
            self._answer(400, "The redirect carries neither a code nor an error.")
            return
        self.server.result = result
        self.server.done.set()

    def _answer(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>Xero</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the query holds the code: keep it out of stderr
        log.debug("callback server: %s", self.command)


@contextmanager
def callback_server(request: AuthorizationRequest) -> Iterator[_CallbackServer]:
    """A local HTTP server on the redirect URI's host and port, for as long as the flow waits."""
    url = urlsplit(request.redirect_uri)
    if url.scheme != "http" or url.hostname not in ("localhost", "127.0.0.1"):
        raise ConnectError(
            f"the redirect URI {request.redirect_uri} is not local: set XERO_REDIRECT_URI to an http://localhost:PORT/"
            "path URI registered on the Xero app, so this command can receive the redirect"
        )
    host = "127.0.0.1" if url.hostname == "localhost" else url.hostname
    try:
        server = _CallbackServer((host, url.port or 80), url.path or "/", request.state)
    except OSError as exc:
        raise ConnectError(
            f"cannot listen on {host}:{url.port} for the Xero redirect ({exc.strerror}); free that port or set "
            "XERO_REDIRECT_URI to another registered localhost URI"
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="xero-callback", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def finish_consent(store: TokenStore, code: str, code_verifier: str, redirect_uri: str) -> list[Connection]:
    """Redeem a callback's code with its PKCE verifier and store the organisations the consent covers (the CLI's
    local callback and the web page's share this)."""
    tokens = store.oauth.exchange_code(code, code_verifier, redirect_uri)
    found = store.oauth.list_connections(tokens.access_token, tokens.auth_event_id)
    if not found:
        raise ConnectError("the consent covers no organisation; choose at least one on Xero's consent page")
    return store.save_consent(tokens, found)


@_explained
def connect_interactive(
    scopes: Iterable[str] | None = None,
    open_browser: bool = True,
    *,
    timeout: float = CALLBACK_TIMEOUT_SECONDS,
    echo: Echo = click.echo,
) -> list[Connection]:
    """Run the consent flow end to end and store the organisations the user chose."""
    config = XeroAppConfig.from_env()
    store = open_store(config)
    try:
        request = store.oauth.authorization_request(list(scopes) if scopes else None)
        with callback_server(request) as server:
            echo("Open this URL to connect Xero organisations:")
            echo(request.url)
            echo(f"Waiting for Xero to redirect to {request.redirect_uri} ...")
            if open_browser:
                webbrowser.open(request.url)
            if not server.done.wait(timeout):
                raise ConnectError(f"no redirect from Xero within {timeout:.0f}s; run `xero-assets connect` again")
            result = server.result
        if result is None or not result.code:
            error = result.error if result else "no code"
            raise ConnectError(f"Xero did not connect ({error}); run `xero-assets connect` to try again")
        saved = finish_consent(store, result.code, request.code_verifier, request.redirect_uri)
        for connection in saved:
            echo(f"Connected {connection.tenant_name} ({connection.tenant_id}) with {' '.join(connection.scopes)}")
        return saved
    finally:
        store.close()


# --- list ------------------------------------------------------------------------------------------------------------


def connection_rows(connections: Iterable[Connection]) -> list[dict[str, str]]:
    """Connections as the CLI and the web page show them (status in the product page's words)."""
    return [
        {
            "tenant_id": c.tenant_id,
            "name": c.tenant_name,
            "status": c.status.label,
            "scopes": " ".join(c.scopes),
            "last_refresh": c.last_refresh_at.isoformat(timespec="seconds") if c.last_refresh_at else "never",
        }
        for c in connections
    ]


@_explained
def print_connections(*, include_removed: bool = False, echo: Echo = click.echo) -> None:
    """`xero-assets connections`: one line per tenant with status, scopes and last token refresh."""
    store = open_store(verify_key=True)
    try:
        rows = connection_rows(store.list_connections(include_removed=include_removed))
    finally:
        store.close()
    if not rows:
        echo("No Xero organisations are connected; run `xero-assets connect`.")
        return
    headers = {
        "tenant_id": "TENANT ID",
        "name": "NAME",
        "status": "STATUS",
        "scopes": "SCOPES",
        "last_refresh": "LAST REFRESH",
    }
    widths = {key: max(len(headers[key]), *(len(row[key]) for row in rows)) for key in headers}
    order = ("tenant_id", "name", "status", "last_refresh", "scopes")
    echo("  ".join(headers[key].ljust(widths[key]) for key in order).rstrip())
    for row in rows:
        echo("  ".join(row[key].ljust(widths[key]) for key in order).rstrip())


# --- disconnect ------------------------------------------------------------------------------------------------------


@_explained
def disconnect_tenant(tenant: str, purge: bool = False, *, echo: Echo = click.echo) -> None:
    """`xero-assets disconnect TENANT`: remove the connection in Xero and here; revoke the consent if it was the
    last thing of that Xero user still connected; delete the synced data only with `purge`."""
    store = open_store()
    try:
        connection = store.find_connection(tenant)
        if connection is None:
            raise click.ClickException(f"no connection for {tenant!r}; `xero-assets connections` lists them")
        if connection.status is not ConnectionStatus.REMOVED:
            _remove_in_xero(store, connection, echo)
            store.mark_removed(connection.tenant_id)
            echo(f"Disconnected {connection.tenant_name} ({connection.tenant_id}).")
        else:
            echo(f"{connection.tenant_name} ({connection.tenant_id}) was already disconnected.")
        # Also on a re-run, so a revocation that failed last time (Xero unreachable) is finished now.
        if connection.token_id and not store.user_has_other_connections(connection.token_id):
            refresh = store.refresh_token_of(connection.token_id)
            if refresh:
                store.oauth.revoke(refresh)
            store.forget_tokens(connection.token_id)
            echo("That was the consent's last organisation: revoked its tokens.")
        if purge:
            _purge(store, connection.tenant_id)
            echo(f"Deleted the synced data of {connection.tenant_id}.")
        else:
            echo("Synced data is kept (use --purge to delete it).")
    finally:
        store.close()


def _remove_in_xero(store: TokenStore, connection: Connection, echo: Echo) -> None:
    try:
        access = store.access_token(connection.tenant_id)
    except ReauthorizationRequired:
        echo("Xero no longer accepts this consent, so it already has no access; removing the connection here only.")
        return
    if not store.oauth.delete_connection(access, connection.connection_id):
        echo("Xero had already removed this connection.")


def _purge(store: TokenStore, tenant_id: str) -> None:
    """Delete the tenant's synced data through the warehouse, which owns those tables."""
    from xero_assets.store.warehouse import Warehouse

    target = Warehouse(store.engine)
    target.create()  # a tenant disconnected before its first sync has no tables to purge yet
    target.purge_tenant(tenant_id)
