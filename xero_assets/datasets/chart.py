"""Xero's account types arranged as its reports arrange them: the P&L and balance-sheet sections, and each type's
class, so a dataset built from journals lays out lines exactly where Xero's ProfitAndLoss and BalanceSheet do."""

from __future__ import annotations

from types import MappingProxyType

# Profit and loss sections in Xero's order: (section, account types, sign that shows the natural balance positive).
PNL_SECTIONS: tuple[tuple[str, frozenset[str], int], ...] = (
    ("Income", frozenset({"REVENUE", "SALES"}), -1),
    ("Cost of Sales", frozenset({"DIRECTCOSTS"}), 1),
    ("Other Income", frozenset({"OTHERINCOME"}), -1),
    (
        "Operating Expenses",
        frozenset({"EXPENSE", "OVERHEADS", "DEPRECIATN", "WAGESEXPENSE", "SUPERANNUATIONEXPENSE"}),
        1,
    ),
)
# Balance sheet sections: (section, account types); assets show debit balances positive, the others credit balances.
BS_ASSETS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Bank", frozenset({"BANK"})),
    ("Current Assets", frozenset({"CURRENT", "INVENTORY", "PREPAYMENT"})),
    ("Fixed Assets", frozenset({"FIXED"})),
    ("Non-current Assets", frozenset({"NONCURRENT"})),
)
BS_LIABILITIES: tuple[tuple[str, frozenset[str]], ...] = (
    ("Current Liabilities",
     frozenset({"CURRLIAB", "LIABILITY", "PAYG", "PAYGLIABILITY", "SUPERANNUATIONLIABILITY", "WAGESPAYABLELIABILITY"})),
    ("Non-current Liabilities", frozenset({"TERMLIAB"})),
)  # fmt: skip

CLASS_OF_TYPE = MappingProxyType(
    {t: "REVENUE" for t in ("REVENUE", "SALES", "OTHERINCOME")}
    | {t: "EXPENSE" for t in ("DIRECTCOSTS", "EXPENSE", "OVERHEADS", "DEPRECIATN", "WAGESEXPENSE",
                              "SUPERANNUATIONEXPENSE")}
    | {t: "ASSET" for _, types in BS_ASSETS for t in types}
    | {t: "LIABILITY" for _, types in BS_LIABILITIES for t in types}
    | {"EQUITY": "EQUITY"}
)  # fmt: skip
PNL_CLASSES = frozenset({"REVENUE", "EXPENSE"})
RETAINED_EARNINGS = "RETAINEDEARNINGS"  # Account.SystemAccount of the retained earnings account
DEBTORS, CREDITORS = "DEBTORS", "CREDITORS"  # the receivables and payables control accounts

# Xero's report section titles, as its ProfitAndLoss spells them, to the section names above.
REPORT_SECTION = MappingProxyType(
    {"Income": "Income", "Trading Income": "Income", "Revenue": "Income", "Less Cost of Sales": "Cost of Sales",
     "Cost of Sales": "Cost of Sales", "Other Income": "Other Income", "Plus Other Income": "Other Income",
     "Less Operating Expenses": "Operating Expenses", "Operating Expenses": "Operating Expenses"}
)  # fmt: skip


def pnl_section(account_type: str) -> tuple[str, int] | None:
    for section, types, sign in PNL_SECTIONS:
        if account_type in types:
            return section, sign
    return None


def bs_section(account_type: str, account_class: str) -> tuple[str, int]:
    """The balance-sheet section of a non-P&L account and its sign (unknown types fall back on their class)."""
    for section, types in BS_ASSETS:
        if account_type in types:
            return section, 1
    for section, types in BS_LIABILITIES:
        if account_type in types:
            return section, -1
    if account_class == "ASSET":
        return "Current Assets", 1
    if account_class == "LIABILITY":
        return "Current Liabilities", -1
    return "Equity", -1
