"""Dashboards: one per organisation (KPI tiles, four charts, the status of the datasets' checks) and a rollup
across organisations, with totals per currency (amounts in different currencies are never added together)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xero_assets.web.charts import bar_chart
from xero_assets.web.dagster_runs import DagsterUnavailable
from xero_assets.web.guard import admin_page
from xero_assets.web.organisations import Organisation, organisations
from xero_assets.web.render import render
from xero_assets.web.routes.organisation import of_organisation, tenant_asset_keys

ROLLUP_KPIS = ("revenue", "net_profit", "accounts_receivable", "accounts_payable", "cash")


@admin_page
@of_organisation
def dashboard(request: Request, org: Organisation) -> Response:
    state = request.app.state.web
    figures = state.datasets.dashboard(org.tenant_id)
    charts = [
        bar_chart("Revenue by month", figures.revenue_by_month),
        bar_chart("Accounts receivable ageing", figures.ar_ageing),
        bar_chart("Cash by month", figures.cash_by_month),
        bar_chart("Monthly recurring revenue", figures.mrr_by_month),
    ]
    checks, checks_problem = [], None
    try:
        datasets = [key for key in tenant_asset_keys() if key.startswith("dashboards/")]
        checks = state.dagster.checks(datasets, org.tenant_id)
    except DagsterUnavailable as exc:
        checks_problem = str(exc)
    return render(
        request,
        "dashboard.html",
        org=org,
        figures=figures,
        charts=charts,
        checks=checks,
        checks_problem=checks_problem,
    )


@admin_page
def rollup(request: Request) -> Response:
    state = request.app.state.web
    orgs = organisations(state.store.list_connections(include_removed=True), state.warehouse)
    table = []
    labels: dict[str, str] = {}
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for org in orgs:
        figures = state.datasets.dashboard(org.tenant_id)
        values = {k.name: k.value for k in figures.kpis if k.name in ROLLUP_KPIS and k.value is not None}
        labels |= {k.name: k.label for k in figures.kpis if k.name in ROLLUP_KPIS}
        table.append((org, values))
        for name, value in values.items():
            totals[org.currency or "?"][name] += value
    headers = [(name, labels.get(name, name.replace("_", " ").capitalize())) for name in ROLLUP_KPIS]
    return render(request, "rollup.html", table=table, kpis=headers, totals=dict(totals))


ROUTES = [
    Route("/organisations/{tenant_id}/dashboard", dashboard),
    Route("/dashboards", rollup),
]
