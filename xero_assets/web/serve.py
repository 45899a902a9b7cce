"""`xero-assets serve`: the Integrations page and Xero's webhook receiver on one port, refusing clearly when that
port is taken (rather than printing a URL that some other program answers)."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Sequence

from starlette.routing import BaseRoute

from xero_assets.web.settings import WebSettings
from xero_assets.webhooks.receiver import WEBHOOK_PATH
from xero_assets.webhooks.signature import WEBHOOK_KEY_ENV
from xero_assets.xero.config import ConfigError


def check_port_free(host: str, port: int, what: str = "the Integrations page") -> None:
    """Raise ConfigError naming the port when something already listens there."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            raise ConfigError(
                f"cannot serve {what} on {host}:{port}: "
                + ("another program is already listening there; stop it or choose another port with --port"
                   if taken else f"{exc.strerror}")
            ) from None  # fmt: skip


def webhooks_line(settings: WebSettings, host: str, port: int) -> str:
    """Where Xero's webhooks are received, or why they are not: said at start, not found out when Xero gives up."""
    if settings.webhook_key:
        return f"Xero's webhooks at http://{host}:{port}{WEBHOOK_PATH} (register its public https URL with Xero)"
    return f"no Xero webhooks received: set {WEBHOOK_KEY_ENV} to your webhook key to receive them at {WEBHOOK_PATH}"


def serve(host: str, port: int, *, extra_routes: Sequence[BaseRoute] = ()) -> None:
    """Serve until interrupted. Settings come from the environment (see xero_assets.web.settings)."""
    import uvicorn

    from xero_assets.web.app import create_app

    settings = WebSettings.from_env()
    check_port_free(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings, extra_routes=extra_routes)
    print(f"the Integrations page at http://{host}:{port}/; {webhooks_line(settings, host, port)}", flush=True)
    # access_log off: uvicorn's line carries the query string, and the OAuth callback's holds the code. The app
    # logs each request itself, path only.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
