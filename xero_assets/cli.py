"""`xero-assets`: the command line. Each command only parses options and calls the layer that does the work,
imported lazily so `xero-assets --help` stays fast.

Every failure ends with one line a person can act on and an exit code (`xero_assets.exit_codes`); tracebacks are
shown only with `--debug` (Dagster's event log keeps them either way).
"""

from __future__ import annotations

import logging
import sys
import warnings

import click

EXIT_CODES_HELP = (
    "Exit codes: 0 all synced; 1 some API failed (the others synced); 2 bad usage or configuration (nothing "
    "written); 3 a tenant needs reconnecting."
)


class _Group(click.Group):
    """Turns any unexpected exception into one line (exit 1) unless --debug asked for the traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _debugging(ctx):
                raise
            sys.stdout.flush()
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (run again with "
                "--debug for the traceback)"
            ) from exc


def _debugging(ctx: click.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("debug"))


def _quiet_logging(debug: bool) -> None:
    """Without --debug nothing but our lines reaches the terminal: Python's last-resort handler would print the
    sync's warnings (with their tracebacks) to stderr, and Dagster's beta warnings are not for end users."""
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        return
    logging.getLogger().addHandler(logging.NullHandler())
    warnings.filterwarnings("ignore")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks and Dagster's log on the terminal.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Sync every Xero API, per organisation, into a SQL warehouse (a Dagster asset graph)."""
    ctx.obj = {"debug": debug}
    _quiet_logging(debug)
    from xero_assets.memory import bound_heap

    bound_heap()  # before Dagster's imports and threads: see xero_assets.memory


@main.command()
@click.option("--no-ui", is_flag=True, help="Sync and print a summary, then exit instead of serving the UI.")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--tenants", type=int, default=3, show_default=True)
@click.option("--ui-port", type=int, default=3000, show_default=True, help="Dagster's UI.")
@click.option("--web-port", type=int, default=8791, show_default=True, help="The Integrations page.")
def demo(no_ui: bool, size: str, tenants: int, ui_port: int, web_port: int) -> None:
    """Start the sandbox, connect tenants through the real OAuth flow, sync them, then serve Dagster's UI and the
    Integrations page."""
    from xero_assets.web.serve import check_port_free
    from xero_assets.xero.config import ConfigError

    try:
        if not no_ui:  # before importing Dagster and minutes of work: a taken port is known at once
            check_port_free("127.0.0.1", ui_port, "Dagster's UI")
            check_port_free("127.0.0.1", web_port, "the Integrations page")
        from xero_assets.demo import run_demo

        run_demo(no_ui=no_ui, size=size, tenants=tenants, ui_port=ui_port, web_port=web_port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _one_per_country(_ctx: click.Context, _param: click.Parameter, shapes: int) -> int:
    """Shared books come one per country (AU, NZ, GB, US), so each tenant serves books of its own country."""
    from xero_assets.sandbox.books.profiles import COUNTRY_ORDER

    if shapes % len(COUNTRY_ORDER):
        raise click.BadParameter(f"{shapes} is not a multiple of {len(COUNTRY_ORDER)}: give 0, 4, 8, ...")
    return shapes


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8790, show_default=True, help="0 picks a free port.")
@click.option("--tenants", type=int, default=3, show_default=True, help="Organisations, across AU, NZ, GB and US.")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Added to every response.")
@click.option("--fault-rate", type=float, default=0.0, show_default=True, help="Share of data calls that fail.")
@click.option("--rate-limits", type=click.Choice(["on", "off", "starter"]), default="on", show_default=True)
@click.option(
    "--shapes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    callback=_one_per_country,
    help="Generate this many books (a multiple of 4, one per country) and share them, read-only, across the "
    "tenants: a fleet of 1,000 starts in seconds. 0: each tenant its own books.",
)
def sandbox(
    host: str,
    port: int,
    tenants: int,
    size: str,
    seed: int,
    latency_ms: float,
    fault_rate: float,
    rate_limits: str,
    shapes: int,
) -> None:
    """Serve the emulated Xero; prints one JSON line with its base URL and the default app's credentials."""
    from xero_assets.sandbox.server import SandboxConfig, serve_forever

    config = SandboxConfig(
        tenants=tenants, size=size, seed=seed, latency_ms=latency_ms, fault_rate=fault_rate, rate_limits=rate_limits,
        shapes=shapes,
    )  # fmt: skip
    serve_forever(config, host=host, port=port)


@main.command(epilog=EXIT_CODES_HELP)
@click.option("--tenant", "tenant_id", help="One tenant, by id or name (see `xero-assets connections`).")
@click.option("--all", "all_tenants", is_flag=True, help="Every connected tenant (those needing reconnecting: exit 3).")
@click.option("--select", help="Comma-separated API names from the catalog (default: every granted API).")
@click.option("--full-refresh", is_flag=True, help="Re-read everything and find records Xero no longer returns.")
@click.option(
    "--allow-mass-delete", is_flag=True, help="Let a full refresh flag more than half of an API's records deleted."
)
@click.option("--debug", is_flag=True, help="Show tracebacks and Dagster's log on the terminal.")
@click.pass_context
def sync(
    ctx: click.Context,
    tenant_id: str | None,
    all_tenants: bool,
    select: str | None,
    full_refresh: bool,
    allow_mass_delete: bool,
    debug: bool,
) -> None:
    """Materialize the sync in-process; print a summary table per tenant and, last, one line per tenant saying
    what happened and what to do."""
    if debug and not _debugging(ctx):
        ctx.find_root().obj["debug"] = True
        _quiet_logging(True)
    if bool(tenant_id) == all_tenants:
        raise click.UsageError("give exactly one of --tenant ID or --all")
    from xero_assets.exit_codes import RECONNECT, explained_errors, report
    from xero_assets.preflight import check_select, reconnect_line, sync_targets

    with explained_errors():
        check_select(select.split(",") if select else None)  # refused in a second, before Dagster is imported
        tenants, unusable = sync_targets(tenant_id)
        if unusable and not tenants:  # `--all` with every tenant needing reconnecting: exit 3, no Dagster needed
            ctx.exit(report([(reconnect_line(c), RECONNECT) for c in unusable]))
        from xero_assets.runner import run_sync

        code = run_sync(
            tenant_id=tenant_id,
            select=select.split(",") if select else None,
            full_refresh=full_refresh,
            allow_mass_delete=allow_mass_delete,
            debug=_debugging(ctx),
        )
    ctx.exit(code)


@main.command()
@click.option("--scopes", help="Space- or comma-separated scopes (default: XERO_SCOPES or the default list).")
@click.option("--no-browser", is_flag=True, help="Print the authorize URL instead of opening a browser.")
def connect(scopes: str | None, no_browser: bool) -> None:
    """Connect Xero organisations: opens Xero's consent page and stores the tokens it returns."""
    from xero_assets.connections import connect_interactive

    connect_interactive(scopes=scopes.replace(",", " ").split() if scopes else None, open_browser=not no_browser)


@main.command()
def connections() -> None:
    """The connected tenants with their status, scopes and last token refresh."""
    from xero_assets.connections import print_connections

    print_connections()


@main.command()
@click.argument("tenant")
@click.option("--purge", is_flag=True, help="Also delete the tenant's synced data (kept by default).")
def disconnect(tenant: str, purge: bool) -> None:
    """Remove a tenant's connection in Xero (revoking the consent when it was its last tenant)."""
    from xero_assets.connections import disconnect_tenant

    disconnect_tenant(tenant, purge=purge)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8795, show_default=True)
@click.option("--path", default="/xero/webhooks", show_default=True, help="The URL path registered with Xero.")
def webhooks(host: str, port: int, path: str) -> None:
    """Receive Xero's webhooks (key: XERO_WEBHOOK_KEY) and store their events for the sync sensor."""
    from xero_assets.webhooks.receiver import serve_receiver

    serve_receiver(host, port, path)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8791, show_default=True, help="The port of XERO_REDIRECT_URI's callback.")
def serve(host: str, port: int) -> None:
    """Serve the Integrations page (admin password from XERO_ASSETS_ADMIN_PASSWORD)."""
    from xero_assets.web.serve import serve as serve_web
    from xero_assets.xero.config import ConfigError

    try:
        serve_web(host, port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
