"""What a list call asks for, parsed once from the request, and the errors Xero answers bad requests with.

The server hands every raw query parameter and the If-Modified-Since header to `Query.from_params` and does no
parsing of its own, so the sandbox has one place that decides what `page=0`, `pageSize=5000` or a malformed `where`
mean. Endpoint-specific parameters (includeDeleted, DateFrom, ContactID, ...) stay readable through `Query.param`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any

from xero_assets.catalog import PAGE_SIZE_MAX

VALIDATION = "ValidationException"
QUERY_PARSE = "QueryParseException"


class QueryError(Exception):
    """A request Xero answers with HTTP 400: `.type` is ValidationException or QueryParseException."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


@dataclass(frozen=True)
class Page:
    """Records for one response, and the `pagination` object when the endpoint pages by page and pageSize."""

    records: list[dict[str, Any]]
    pagination: dict[str, int] | None = None


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"true", "1", "yes"}


def _int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise QueryError(VALIDATION, f"The value '{raw}' is not valid for {name}.") from None


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    return items or None


def param(params: Mapping[str, str], name: str) -> str | None:
    """A parameter by name, case-insensitively (Xero's own clients send fromDate and FromDate); empty is absent."""
    wanted = name.lower()
    for key, value in params.items():
        if key.lower() == wanted and value != "":
            return value
    return None


def parse_if_modified_since(header: str | None) -> datetime | None:
    """Xero documents `yyyy-MM-ddTHH:mm:ss` (UTC); clients also send offsets, `Z` or RFC 1123 HTTP dates."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise QueryError(VALIDATION, f"If-Modified-Since is not a date: {text!r}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0)  # Xero compares to the second


@dataclass(frozen=True)
class Query:
    """One list call: paging, If-Modified-Since, the common filters, and every raw parameter for the rest."""

    page: int | None = None
    page_size: int | None = None
    offset: int | None = None
    if_modified_since: datetime | None = None
    where: str | None = None
    order: str | None = None
    ids: list[str] | None = None
    statuses: list[str] | None = None
    include_archived: bool = False
    summary_only: bool = False
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    employee_id: str | None = None

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], if_modified_since_header: str | None = None, **path_args: str
    ) -> Query:
        """Parse a request's query string (names case-insensitive, as Xero treats them) and path arguments."""
        lower = {key.lower(): value for key, value in params.items()}
        page = _int(lower, "page")
        page_size = _int(lower, "pagesize")
        offset = _int(lower, "offset")
        if page is not None and page < 1:
            raise QueryError(VALIDATION, "Page number must be greater than zero.")
        if page_size is not None and page_size < 1:
            raise QueryError(VALIDATION, "Page size must be greater than zero.")
        if page_size is not None:
            page_size = min(page_size, PAGE_SIZE_MAX)
        employee = path_args.get("employee_id") or path_args.get("EmployeeID") or path_args.get("employeeId")
        return cls(
            page=page,
            page_size=page_size,
            offset=offset,
            if_modified_since=parse_if_modified_since(if_modified_since_header),
            where=lower.get("where") or None,
            order=lower.get("order") or None,
            ids=_csv(lower.get("ids")),
            statuses=[s.upper() for s in _csv(lower.get("statuses")) or []] or None,
            include_archived=_flag(lower.get("includearchived")),
            summary_only=_flag(lower.get("summaryonly")),
            params=MappingProxyType(dict(params)),
            employee_id=employee,
        )

    def param(self, name: str) -> str | None:
        """A raw parameter by name, case-insensitively (includeDeleted, DateFrom, ContactID, ...)."""
        return param(self.params, name)

    def flag(self, name: str) -> bool:
        return _flag(self.param(name))
