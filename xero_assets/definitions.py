"""The one Dagster `Definitions` that workspace.yaml loads."""

import dagster as dg

defs = dg.Definitions()
