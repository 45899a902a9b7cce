"""An MSP's chart of accounts, shaped like Xero's default chart (codes, types, system accounts)."""

from __future__ import annotations

# (code, name, Type, Class, default tax: "sales" | "purchase" | "none", SystemAccount)
CHART: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("090", "Business Bank Account", "BANK", "ASSET", "none", None),
    ("091", "Business Savings Account", "BANK", "ASSET", "none", None),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "none", "DEBTORS"),
    ("620", "Prepayments", "CURRENT", "ASSET", "none", None),
    ("630", "Inventory", "INVENTORY", "ASSET", "none", None),
    ("720", "Computer Equipment", "FIXED", "ASSET", "purchase", None),
    ("721", "Less Accumulated Depreciation on Computer Equipment", "FIXED", "ASSET", "none", None),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "none", "CREDITORS"),
    ("820", "{tax}", "CURRLIAB", "LIABILITY", "none", "GST"),
    ("825", "Employee Tax Payable", "CURRLIAB", "LIABILITY", "none", None),
    ("840", "Historical Adjustment", "CURRLIAB", "LIABILITY", "none", "HISTORICAL"),
    ("900", "Loan", "TERMLIAB", "LIABILITY", "none", None),
    ("960", "Retained Earnings", "EQUITY", "EQUITY", "none", "RETAINEDEARNINGS"),
    ("970", "Owner A Share Capital", "EQUITY", "EQUITY", "none", None),
    ("200", "Managed Services Revenue", "REVENUE", "REVENUE", "sales", None),
    ("210", "Hardware Sales", "SALES", "REVENUE", "sales", None),
    ("220", "Project Services", "REVENUE", "REVENUE", "sales", None),
    ("230", "Licence Resale", "REVENUE", "REVENUE", "sales", None),
    ("270", "Interest Income", "OTHERINCOME", "REVENUE", "none", None),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "purchase", None),
    ("320", "Software Licences (Cost)", "DIRECTCOSTS", "EXPENSE", "purchase", None),
    ("330", "Subcontractors", "DIRECTCOSTS", "EXPENSE", "purchase", None),
    ("400", "Advertising", "OVERHEADS", "EXPENSE", "purchase", None),
    ("404", "Bank Fees", "OVERHEADS", "EXPENSE", "none", None),
    ("412", "Consulting & Accounting", "EXPENSE", "EXPENSE", "purchase", None),
    ("416", "Depreciation", "DEPRECIATN", "EXPENSE", "none", None),
    ("420", "Entertainment", "EXPENSE", "EXPENSE", "purchase", None),
    ("429", "General Expenses", "EXPENSE", "EXPENSE", "purchase", None),
    ("433", "Insurance", "EXPENSE", "EXPENSE", "purchase", None),
    ("469", "Rent", "OVERHEADS", "EXPENSE", "purchase", None),
    ("477", "Wages and Salaries", "EXPENSE", "EXPENSE", "none", None),
    ("485", "Subscriptions", "EXPENSE", "EXPENSE", "purchase", None),
    ("489", "Telephone & Internet", "EXPENSE", "EXPENSE", "purchase", None),
    ("493", "Travel - National", "EXPENSE", "EXPENSE", "purchase", None),
    ("499", "Old Office Costs", "EXPENSE", "EXPENSE", "purchase", None),
)

# Accounts retired before the books start: served with Status ARCHIVED, never posted to.
ARCHIVED_CODES = frozenset({"499"})
