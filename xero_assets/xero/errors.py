"""Everything that can go wrong talking to Xero, each saying what happened, to which tenant and path, and what to do.

Messages are built from tenant ids, paths, status codes and Xero's own error text, never from request headers or
token-endpoint bodies, so a token cannot leak through an exception, a log line or Dagster's run output.
"""

from __future__ import annotations

from datetime import datetime

from xero_assets import catalog


class XeroError(Exception):
    """Base of every error raised while talking to Xero. `tenant_id` and `path` say where it happened."""

    def __init__(self, message: str, *, tenant_id: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id
        self.path = path


class ScopeNotGranted(XeroError):
    """401 AuthorizationUnsuccessful: the connection's consent lacks the scope this API needs."""

    def __init__(self, tenant_id: str, path: str, scope: str | None) -> None:
        self.scope = scope
        wanted = f"the {scope} scope" if scope else "the scope this API needs"
        super().__init__(
            f"Xero refused {path} for tenant {tenant_id} (401 AuthorizationUnsuccessful): the consent does not "
            f"grant {wanted}. Reconnect with `xero-assets connect --scopes ...` including it, or stop syncing this "
            "API for this tenant.",
            tenant_id=tenant_id,
            path=path,
        )


class TenantNotConnected(XeroError):
    """403 AuthenticationUnsuccessful (or no active connection here): the organisation is not connected to the app."""

    def __init__(self, tenant_id: str, path: str | None = None, reason: str = "") -> None:
        where = f" calling {path}" if path else ""
        why = reason or (
            "Xero answered 403 AuthenticationUnsuccessful: the organisation is not connected to this app (it was "
            "disconnected, the user lost access, or the organisation was deleted or its trial ended)"
        )
        super().__init__(
            f"Tenant {tenant_id} is not connected{where}: {why}. Reconnect it with `xero-assets connect`, or "
            "remove it with `xero-assets disconnect`.",
            tenant_id=tenant_id,
            path=path,
        )


class DayLimitReached(XeroError):
    """429 with X-Rate-Limit-Problem: day. Raised at once, never slept on: the reset can be most of a day away."""

    def __init__(self, tenant_id: str, path: str | None, reset_at: datetime) -> None:
        self.reset_at = reset_at
        super().__init__(
            f"Tenant {tenant_id} has used its daily Xero API allowance (429 day limit{f' on {path}' if path else ''}); "
            f"it resets at {reset_at.isoformat(timespec='seconds')}. Sync this tenant again after that; other "
            "tenants are not affected.",
            tenant_id=tenant_id,
            path=path,
        )


class ReauthorizationRequired(XeroError):
    """The refresh token was refused (invalid_grant), or the connection is already marked for re-authorization."""

    def __init__(self, tenant_ids: list[str] | tuple[str, ...], detail: str = "") -> None:
        self.tenant_ids = tuple(tenant_ids)
        self.detail = detail
        names = ", ".join(self.tenant_ids) or "(none)"
        super().__init__(
            f"Xero no longer accepts the stored consent for tenant(s) {names}"
            f"{f' ({detail})' if detail else ''}: the refresh token expired (60 days unused), was revoked, or was "
            "superseded. The connection is marked 'needs re-authorization'; reconnect it with `xero-assets connect`.",
            tenant_id=self.tenant_ids[0] if len(self.tenant_ids) == 1 else None,
        )


class XeroUnavailable(XeroError):
    """5xx, timeouts or dropped connections that outlasted every retry."""

    def __init__(self, tenant_id: str | None, path: str, what: str, attempts: int) -> None:
        super().__init__(
            f"Xero did not answer {path}{f' for tenant {tenant_id}' if tenant_id else ''} after {attempts} "
            f"attempt(s): {what}. Xero may be down or in maintenance; try again later (status.developer.xero.com).",
            tenant_id=tenant_id,
            path=path,
        )


class BadResponse(XeroError):
    """Xero answered, but not with what the API promises: bad JSON, wrong content type, or a missing key."""

    def __init__(self, tenant_id: str | None, path: str, problem: str) -> None:
        super().__init__(
            f"Unexpected answer from Xero for {path}{f' (tenant {tenant_id})' if tenant_id else ''}: {problem}. "
            "Retrying may help if it was cut off; otherwise report it with this path.",
            tenant_id=tenant_id,
            path=path,
        )


class RequestRejected(XeroError):
    """A 4xx Xero explains (400 validation or query errors, 404 not found): retrying the same call will not help."""

    def __init__(self, tenant_id: str | None, path: str, status: int, detail: str) -> None:
        self.status = status
        super().__init__(
            f"Xero rejected {path}{f' for tenant {tenant_id}' if tenant_id else ''} with {status}: {detail}. "
            "Check the path and parameters against the catalog entry for this API.",
            tenant_id=tenant_id,
            path=path,
        )


class WriteNotAllowed(XeroError):
    """xero-assets only reads: any verb but GET towards api.xro or payroll.xro is refused before it is sent."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(
            f"Refused {method} {path}: xero-assets never writes to Xero's data APIs; only GET is allowed there.",
            path=path,
        )


class OAuthFailed(XeroError):
    """The identity server refused a request (bad client credentials, bad code, invalid scope ...)."""

    def __init__(self, what: str, error: str, description: str = "") -> None:
        self.error = error
        self.description = description
        advice = {
            "invalid_client": "check XERO_CLIENT_ID and XERO_CLIENT_SECRET",
            "invalid_scope": "remove scopes the app may not request (XERO_SCOPES / --scopes)",
            "unauthorized_client": "check the app type and its allowed grants in the Xero developer portal",
            "invalid_grant": "start the connect flow again (codes are single-use and expire after 5 minutes)",
        }.get(error, "check the app's settings and try again")
        if error == "invalid_grant" and "refresh" in what:
            advice = "the consent expired or was revoked; reconnect the organisation with `xero-assets connect`"
        super().__init__(f"Xero refused the {what} ({error}{f': {description}' if description else ''}); {advice}.")


def scope_hint(full_path: str, granted: tuple[str, ...] = ()) -> str | None:
    """The scope to ask for when `full_path` is refused for lack of one, from the catalog's one scope mapping."""
    api = catalog.for_path(full_path) or _api_by_template(full_path)
    if api is None:
        return None
    return api.missing_scope(granted) or api.scopes[-1]


def _api_by_template(full_path: str) -> catalog.XeroApi | None:
    """The entry whose path template ({EmployeeID}) or record path (`/Invoices/{id}`) covers `full_path`."""
    parts = full_path.rstrip("/").split("/")
    for api in catalog.CATALOG:
        for endpoint in (api.endpoint, *api.regional.values()):
            template = endpoint.full_path.split("/")
            if len(parts) >= len(template) and all(
                t == p or (t.startswith("{") and t.endswith("}")) for t, p in zip(template, parts, strict=False)
            ):
                return api
    return None
