"""Exact money for datasets: integer cents for arithmetic, `Decimal` to the cent for what is written.

Typed tables hand back amounts as floats (NUMERIC read without asdecimal), which are exact to the 4 decimals stored
but must never be summed as floats. Transforms turn them into integer cents once, add and subtract cents (exact and
vectorised), and turn the result into `Decimal` at the end, so a table column is NUMERIC to the cent end to end.
Foreign-currency amounts are converted to the organisation's base currency per document with Xero's CurrencyRate,
which is units of the document's currency per one unit of base currency (base = amount / rate).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

CENT = Decimal("0.01")


def cents(values: pd.Series) -> pd.Series:
    """Amounts (float, Decimal or str; missing = 0) as int64 cents, rounded half away from zero like Xero."""
    numbers = pd.to_numeric(values, errors="coerce").fillna(0.0).astype(float).to_numpy()
    return pd.Series(np.sign(numbers) * np.floor(np.abs(numbers) * 100 + 0.5 + 1e-9), index=values.index).astype(
        "int64"
    )


def to_base(amount_cents: pd.Series, rate: pd.Series) -> pd.Series:
    """Document-currency cents in base-currency cents: divided by CurrencyRate (missing or 0 = 1), to the cent."""
    rates = pd.to_numeric(rate, errors="coerce").fillna(1.0).replace(0.0, 1.0).astype(float).to_numpy()
    same = np.isclose(rates, 1.0, rtol=0, atol=1e-12)
    values = amount_cents.to_numpy(dtype="int64")
    out = values.copy()
    for i in np.flatnonzero(~same):  # foreign documents only: exact decimal division, rounded half up
        out[i] = int((Decimal(int(values[i])) / Decimal(repr(float(rates[i])))).quantize(1, ROUND_HALF_UP))
    return pd.Series(out, index=amount_cents.index, dtype="int64")


def to_money(amount_cents: pd.Series) -> pd.Series:
    """int cents as `Decimal` to the cent (the value a NUMERIC(19, 2) column stores)."""
    return amount_cents.map(lambda c: Decimal(int(c)).scaleb(-2).quantize(CENT))


def money_columns(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """`frame` with each of `columns` (int cents) turned into Decimal."""
    return frame.assign(**{name: to_money(frame[name]) for name in columns})
