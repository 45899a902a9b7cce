"""`xero-assets`: the command line. Each command is thin; the work lives in the layer it names."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Sync every Xero API, per organisation, into a SQL warehouse (a Dagster asset graph)."""


@main.command()
@click.option("--no-ui", is_flag=True, help="Sync and print a summary, then exit instead of serving the UI.")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--tenants", type=int, default=3, show_default=True)
def demo(no_ui: bool, size: str, tenants: int) -> None:
    """Start the sandbox, connect tenants through OAuth, sync them, and serve the UI."""
    click.echo("xero-assets demo: not built yet (see the open issues).")
