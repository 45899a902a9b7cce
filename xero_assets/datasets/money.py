"""Exact money and the organisation's calendar, shared by every dataset.

Money is `Decimal` to the cent everywhere a dataset holds it: amounts read back from NUMERIC columns (PostgreSQL) or
from SQLite's REAL sums are turned into Decimal through their shortest decimal text and rounded half-up to the cent,
the way Xero rounds, so a sum never drifts by a float's last digit. Large frames are summed as integer cents instead
(the vectorised helpers at the end).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Any) -> Decimal:
    """`value` (Decimal, int, float, numeric string or None/NaN) as Decimal to the cent; None and NaN are 0.00."""
    if value is None:
        return ZERO
    if isinstance(value, float):
        if value != value:  # NaN: pandas' missing value
            return ZERO
        value = repr(value)
    elif isinstance(value, str):
        value = value.replace(",", "").strip() or "0"
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def total(values: Iterable[Any]) -> Decimal:
    """The exact sum of `values` to the cent."""
    return sum((money(v) for v in values), ZERO)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, calendar.monthrange(year, number)[1])


def month_range(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` inclusive ('YYYY-MM'), oldest first."""
    out = []
    year, number = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{number:02d}" <= last:
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return out


def financial_year_start(month: str, end_month: int) -> str:
    """The first month of the financial year containing `month`, for a year ending in `end_month` (12: calendar
    year, 6: July to June). Xero's FinancialYearEndDay is the end month's last day for every organisation whose
    year ends on a month end, which is what a monthly grain can honour."""
    start = end_month % 12 + 1
    year, number = int(month[:4]), int(month[5:7])
    return f"{year if number >= start else year - 1:04d}-{start:02d}"


# --- vectorised: integer cents for large frames -------------------------------------------------------------------
# A frame of half a million lines is summed as int64 cents (exact and vectorised) rather than Decimal by Decimal, and
# turned into Decimal only at the end. Foreign-currency amounts are converted to the organisation's base currency per
# document with Xero's CurrencyRate, units of the document's currency per one unit of base currency (base = amount /
# rate).


def cents(values: pd.Series) -> pd.Series:
    """Amounts (Decimal, float or str; missing = 0) as int64 cents, rounded half away from zero like Xero."""
    numbers = pd.to_numeric(values, errors="coerce").fillna(0.0).astype(float).to_numpy()
    rounded = np.sign(numbers) * np.floor(np.abs(numbers) * 100 + 0.5 + 1e-9)
    return pd.Series(rounded, index=values.index).astype("int64")


def to_base(amount_cents: pd.Series, rate: pd.Series) -> pd.Series:
    """Document-currency cents in base-currency cents: divided by CurrencyRate (missing or 0 = 1), to the cent."""
    rates = pd.to_numeric(rate, errors="coerce").fillna(1.0).replace(0.0, 1.0).astype(float).to_numpy()
    values = amount_cents.to_numpy(dtype="int64")
    out = values.copy()
    for i in np.flatnonzero(~np.isclose(rates, 1.0, rtol=0, atol=1e-12)):  # foreign documents only: exact division
        out[i] = int((Decimal(int(values[i])) / Decimal(repr(float(rates[i])))).quantize(1, ROUND_HALF_UP))
    return pd.Series(out, index=amount_cents.index, dtype="int64")


def to_money(amount_cents: pd.Series) -> pd.Series:
    """int cents as `Decimal` to the cent (the value a NUMERIC money column stores)."""
    return amount_cents.map(lambda c: Decimal(int(c)).scaleb(-2).quantize(CENT))


def money_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """`frame` with each of `columns` (int cents) turned into Decimal."""
    return frame.assign(**{name: to_money(frame[name]) for name in columns})


def decimals(values: pd.Series, default: str | None = None) -> pd.Series:
    """Exact non-money numbers (quantities, currency rates) as Decimal through their shortest text, so a table
    stores them as NUMERIC, never FLOAT; missing values become `default` (None: stay missing)."""
    fallback = None if default is None else Decimal(default)

    def exact(value: Any) -> Decimal | None:
        if value is None or (isinstance(value, float) and value != value):
            return fallback
        return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)

    return values.map(exact).astype(object)
