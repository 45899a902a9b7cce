"""The Integrations page: the product page's click-through flow, served by `xero-assets serve`.

Server-rendered (Starlette + Jinja2), no JavaScript and nothing fetched from the internet. An MSP admin logs in,
connects Xero organisations with a permission list, sees each organisation's status and per-API sync state,
launches Dagster runs ("Sync Data"), removes organisations, and reads each organisation's dashboard. The page only
wires layers that already exist: OAuth and the token store (`xero_assets.connections`), the warehouse's sync state,
the dashboard datasets, and Dagster's GraphQL API for runs.
"""
