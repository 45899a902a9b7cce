"""The permission list an MSP admin chooses from when connecting Xero, as the product page shows it.

Which scopes grant which API lives in `xero_assets.catalog` (one mapping for assets, client and web page alike);
this module only says what to ask for. Apps created after 2 March 2026 must ask for the granular scopes instead of
`accounting.transactions` and `accounting.reports.read`, so each permission carries its granular equivalent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ScopeStyle(StrEnum):
    """Broad scopes for apps created before March 2026; granular ones for apps created after."""

    BROAD = "broad"
    GRANULAR = "granular"


@dataclass(frozen=True)
class Permission:
    scope: str
    default: bool  # checked by default on the product page; otherwise optional
    xero_description: str
    granular: tuple[str, ...]  # what replaces `scope` for a granular-scope app (itself when unchanged)


_REPORTS_GRANULAR = tuple(
    f"accounting.reports.{name}.read"
    for name in (
        "aged", "balancesheet", "banksummary", "budgetsummary", "executivesummary", "profitandloss", "trialbalance",
        "taxreports",
    )
)  # fmt: skip

PERMISSIONS: tuple[Permission, ...] = (
    Permission("offline_access", True, "Keep access without the user present (a refresh token).", ("offline_access",)),
    Permission("accounting.settings.read", True, "View your organisation settings.", ("accounting.settings.read",)),
    Permission("accounting.reports.read", True, "View your reports.", _REPORTS_GRANULAR),
    Permission("accounting.contacts.read", True, "View your contacts.", ("accounting.contacts.read",)),
    Permission(
        "accounting.transactions.read",
        True,
        "View your business transactions.",
        (
            "accounting.invoices.read",
            "accounting.payments.read",
            "accounting.banktransactions.read",
            "accounting.manualjournals.read",
            "accounting.classicexpenses.read",
        ),
    ),
    Permission("payroll.employees.read", False, "View your employees.", ("payroll.employees.read",)),
    Permission("accounting.journals.read", False, "View your general ledger.", ("accounting.journals.read",)),
    Permission("accounting.budgets.read", False, "View your budgets.", ("accounting.budgets.read",)),
)

IDENTITY_SCOPES = ("openid", "profile", "email")


def default_scopes(style: ScopeStyle = ScopeStyle.BROAD) -> list[str]:
    """The scopes checked by default, in the given style."""
    return expand([p.scope for p in PERMISSIONS if p.default], style)


def all_scopes(style: ScopeStyle = ScopeStyle.BROAD) -> list[str]:
    """Every scope on the permission list, default and optional."""
    return expand([p.scope for p in PERMISSIONS], style)


def expand(chosen: Iterable[str], style: ScopeStyle) -> list[str]:
    """The scopes to request for the chosen permissions; unknown scopes pass through unchanged, in order, once."""
    by_scope = {p.scope: p for p in PERMISSIONS}
    out: list[str] = []
    for scope in chosen:
        permission = by_scope.get(scope)
        wanted = permission.granular if (permission and style is ScopeStyle.GRANULAR) else (scope,)
        out += [s for s in wanted if s not in out]
    return out
