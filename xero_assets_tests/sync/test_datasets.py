"""The ledger datasets after a real sync, compared with Xero's report endpoints over HTTP (not the stored copies),
to the cent, with every dataset check passing. Hand-worked unit tests live in xero_assets_tests/datasets/."""
