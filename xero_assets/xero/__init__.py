"""Talking to Xero: OAuth, scopes, the rate-limited read-only client, Xero's date format. No Dagster here."""
