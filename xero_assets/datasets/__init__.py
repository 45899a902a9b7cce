"""Dashboard datasets as pure transforms over warehouse frames (pandas in, pandas out; no database, no Dagster).

Each function takes the typed-table frames it needs and returns one tidy frame; `load.py` reads the frames and
writes the results, and the Dagster assets only wire the two. So each dataset is unit-testable with a few rows.
"""
