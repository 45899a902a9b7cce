"""Keeping the frames of a large organisation compact while they are summed.

A database driver hands every cell of a text column back as its own string object: 200k invoices' contact ids are
200k strings of some 90 bytes each, though the organisation has a few thousand contacts. Rows kept across chunks
share one object per distinct value instead (`shared`), so what a build holds grows by a pointer per row.
"""

from __future__ import annotations

import pandas as pd


def shared(values: pd.Series, pool: dict[object, object]) -> pd.Series:
    """`values` with each distinct value one object, taken from (and added to) `pool`, which a build keeps for
    all its chunks."""
    return pd.Series([pool.setdefault(v, v) for v in values], index=values.index, dtype=object)
