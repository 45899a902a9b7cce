"""xero-assets: every Xero API, per organisation, synced into a SQL warehouse as a Dagster asset graph."""

__version__ = "0.1.0"
