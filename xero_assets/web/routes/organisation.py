"""One organisation: Detail (a row per Xero API with a Sync Data button), Sync all, and Remove.

Sync Data launches a Dagster run of that API's asset for the tenant's partition, with the dashboard datasets built
from it and their checks (as a webhook run does); the page then shows the run's
progress (refreshing itself while a run is queued or running, no script needed) and links to it in Dagster's UI.
Remove deletes the connection at Xero and marks the organisation inactive here; its data stays unless the admin
also ticks "delete its synced data".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from xero_assets import catalog
from xero_assets.store.tokens import Connection
from xero_assets.web.dagster_runs import DagsterUnavailable, RunView
from xero_assets.web.guard import admin_form, admin_page, session_of
from xero_assets.web.organisations import Organisation, api_rows, organisations
from xero_assets.web.render import render
from xero_assets.xero.errors import XeroError

log = logging.getLogger(__name__)


@functools.cache
def tenant_asset_keys() -> tuple[str, ...]:
    """Every asset partitioned by tenant (raw APIs and the tenant's datasets, not the cross-tenant rollup), from the
    one Definitions Dagster loads: what "Sync all" runs for one organisation."""
    from xero_assets.definitions import defs
    from xero_assets.defs.partitions import tenant_partitions

    graph = defs.resolve_asset_graph()
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def == tenant_partitions]
    return tuple(sorted(key.to_user_string() for key in keys))


def sync_asset_keys(api: str | None) -> tuple[str, ...]:
    """What a sync of one API launches (the webhook sensor's selection: the API and the datasets built from it, so
    the dashboards show what was just synced) or, for None, every asset of the organisation. The launch names no
    checks: Dagster then runs every check of the selected datasets, which is what that selection's checks are."""
    if api is None:
        return tenant_asset_keys()
    from xero_assets.defs.dashboards import run_selection

    assets, _checks = run_selection([catalog.get(api).name])
    return tuple(key.to_user_string() for key in assets)


def launch_sync(state, connection: Connection, api: str | None, *, source: str = "web") -> str:  # type: ignore[no-untyped-def]
    """Start a run for one API (`api`) and the datasets it feeds, or the whole organisation (None); returns the run
    id."""
    keys = sync_asset_keys(api)
    return state.dagster.launch(connection.tenant_id, connection.tenant_name, keys, source=source)


def of_organisation(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Hand the handler the organisation named by the path's tenant id, or answer 404 when there is none."""

    @functools.wraps(handler)
    def with_organisation(request: Request, *args: Any) -> Response:
        state = request.app.state.web
        connection = state.store.get_connection(request.path_params["tenant_id"])
        if connection is None:
            return render(request, "message.html", status_code=404, title="Organisation not found",
                          message="No organisation with that id is connected here.")  # fmt: skip
        return handler(request, *args, organisations([connection], state.warehouse)[0])

    return with_organisation


def _run_state(runs: list[RunView]) -> tuple[set[str], dict[str, str]]:
    """Asset keys being synced now, and those whose latest run failed (with the reason)."""
    running: set[str] = set()
    failed: dict[str, str] = {}
    settled: set[str] = set()
    for run in runs:  # newest first: an older run says nothing about an asset a newer one covers
        if not run.finished:
            running |= set(run.selected) - set(run.materialized)
        elif run.status == "FAILURE":
            for key in set(run.selected) - set(run.materialized) - settled:
                failed.setdefault(key, run.failure or "the run failed")
        settled |= set(run.selected)
    return running, failed


@admin_page
@of_organisation
def detail(request: Request, org: Organisation) -> Response:
    state = request.app.state.web
    runs: list[RunView] = []
    dagster_problem = None
    try:
        runs = state.dagster.runs(org.tenant_id)
    except DagsterUnavailable as exc:
        dagster_problem = str(exc)
    running, failed = _run_state(runs)
    rows = api_rows(org, state.warehouse, running=running, failed=failed)
    in_flight = any(not run.finished for run in runs)
    return render(
        request,
        "organisation.html",
        org=org,
        rows=rows,
        runs=runs,
        refresh=in_flight,
        dagster_problem=dagster_problem,
        runs_url=state.dagster.runs_url(org.name),
        dagster=state.dagster,
    )


@admin_form
@of_organisation
def sync(request: Request, form: ImmutableMultiDict, org: Organisation) -> Response:
    state = request.app.state.web
    session = session_of(request)
    api = form.get("api") or None
    if not org.syncable:
        session.notice = f"{org.name} is {org.status.lower()}; reconnect it before syncing."  # type: ignore[union-attr]
    elif api and api not in catalog.BY_NAME:
        session.notice = f"There is no Xero API called {api!r}."  # type: ignore[union-attr]
    else:
        try:
            run_id = launch_sync(state, org.connection, api)
            what = catalog.get(api).title if api else "every API"
            session.notice = f"Sync of {what} for {org.name} started (run {run_id[:8]})."  # type: ignore[union-attr]
        except DagsterUnavailable as exc:
            session.notice = str(exc)  # type: ignore[union-attr]
    return RedirectResponse(f"/organisations/{org.tenant_id}", status_code=303)


@admin_page
@of_organisation
def remove_page(request: Request, org: Organisation) -> Response:
    return render(request, "remove.html", org=org)


@admin_form
@of_organisation
def remove(request: Request, form: ImmutableMultiDict, org: Organisation) -> Response:
    """Disconnect through the same code as `xero-assets disconnect` (revoking the consent when it was its last)."""
    from xero_assets.connections import disconnect_tenant

    state = request.app.state.web
    purge = form.get("purge") == "yes"
    said: list[str] = []
    try:
        disconnect_tenant(org.tenant_id, purge=purge, echo=said.append)
    except (click.ClickException, XeroError) as exc:
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        session_of(request).notice = f"{org.name} could not be removed: {message}"  # type: ignore[union-attr]
        return RedirectResponse(f"/organisations/{org.tenant_id}/remove", status_code=303)
    removed = state.store.get_connection(org.tenant_id)
    if removed is not None and not purge:
        state.warehouse.set_tenant_status([(removed.tenant_id, removed.tenant_name, str(removed.status))])
    kept = "Its synced data was deleted." if purge else "Its synced data is kept."
    session_of(request).notice = f"Removed {org.name} from Xero. {kept}"  # type: ignore[union-attr]
    return RedirectResponse("/integrations", status_code=303)


ROUTES = [
    Route("/organisations/{tenant_id}", detail),
    Route("/organisations/{tenant_id}/sync", sync, methods=["POST"]),
    Route("/organisations/{tenant_id}/remove", remove_page, methods=["GET"]),
    Route("/organisations/{tenant_id}/remove", remove, methods=["POST"]),
]
