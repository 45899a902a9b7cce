"""Our database, no Dagster: the encrypted token store, the warehouse tables, upserts and cursors."""
