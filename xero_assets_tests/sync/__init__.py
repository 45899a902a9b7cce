"""Tests of the warehouse, the sync, the Dagster layer, the sensors and the demo (issue 5)."""
