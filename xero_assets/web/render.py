"""Templates and the filters that write figures and dates the way the organisation reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_FIRST = {"US"}  # countries that write "Dec 1, 2026"; the others "1 Dec 2026"


def money(value: Decimal | None, currency: str | None = None) -> str:
    """1234.5 -> "AUD 1,234.50"; negative amounts keep their sign in front of the currency."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.2f}"
    return f"{sign}{currency} {text}" if currency else f"{sign}{text}"


def kpi_value(kpi: Any, currency: str | None) -> str:
    """A KPI in its unit: money with the currency, 42.50%, 38.20 days, 1.85 (a ratio); "-" when not computable."""
    if kpi.value is None:
        return "-"
    if kpi.is_money:
        return money(kpi.value, currency)
    suffix = {"%": "%", "days": " days", "months": " months"}.get(kpi.unit, "")
    return f"{kpi.value:,}{suffix}"


def period_label(period: str) -> str:
    """ "2026-11" -> "Nov 2026"; "2026-09..2026-11" -> "Sep 2026 - Nov 2026"."""
    return " - ".join(month_label(part) for part in period.split(".."))


def month_label(month: str) -> str:
    """ "2026-11" -> "Nov 2026" (a label that is not a month is shown as it is)."""
    try:
        year, number = month.split("-")[:2]
        return f"{MONTHS[int(number) - 1]} {year}"
    except (ValueError, IndexError):
        return month


def short_month(month: str) -> str:
    """ "2026-11" -> "Nov" (chart axes; the table under the chart has the year)."""
    return month_label(month).split(" ")[0]


def when(moment: datetime | None, country: str | None = None) -> str:
    """A timestamp in the organisation's date order, with the time in UTC said as such."""
    if moment is None:
        return "never"
    month = MONTHS[moment.month - 1]
    day = f"{month} {moment.day}, {moment.year}" if country in MONTH_FIRST else f"{moment.day} {month} {moment.year}"
    return f"{day} {moment:%H:%M} UTC"


TEMPLATES.env.filters.update(
    money=money,
    month_label=month_label,
    short_month=short_month,
    when=when,
    kpi_value=kpi_value,
    period_label=period_label,
)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page with the session's CSRF token and pending notice, never cached (pages show private figures)."""
    session = getattr(request.state, "session", None)
    context.setdefault("notice", session.take_notice() if session is not None else None)
    context["csrf_token"] = session.csrf_token if session is not None else ""
    context["signed_in"] = bool(session and session.authenticated)
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
