"""The emulated Xero: identity, Accounting and Payroll on Xero's own paths, over deterministic books that balance."""
