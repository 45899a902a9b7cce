"""The Dagster layer, kept thin: tenant partitions, resources, the raw assets built from the catalog, the dashboard
datasets, and the sensors. Nothing here talks to Xero or the database itself; `xero_assets.definitions` is the one
place that wires these together."""
