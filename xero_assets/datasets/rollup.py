"""One view across every organisation an MSP connected: each KPI per organisation in its own base currency, totals
per currency, and a converted total only where a rate source covers every currency in it.

Adding figures of different currencies is a silent error (AUD 100 + NZD 100 is not 200 of anything), so the rollup
never does it. Figures of one currency are summed as they are; a converted total in `target` exists only when
`rates` has a rate for every currency involved, and otherwise its row says which rates are missing instead of
showing a number. Ratios and day counts (DSO, current ratio, runway) are listed per organisation and never summed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from xero_assets.datasets.money import CENT
from xero_assets.datasets.spec import Organisation

ROLLUP_KEY = ("scope", "organisation_id", "kpi", "currency")
ORGANISATION, CURRENCY_TOTAL, CONVERTED_TOTAL = "organisation", "currency_total", "converted_total"
ALL = "*"  # organisation_id of total rows (part of the key, so never NULL)


def rollup(
    kpis: Mapping[str, pd.DataFrame],
    organisations: Mapping[str, Organisation],
    money_kpis: Collection[str],
    rates: Mapping[str, Decimal] | None = None,
    target: str | None = None,
) -> pd.DataFrame:
    """`kpis` maps tenant id to its KPI frame (`kpi`, `value`); `rates` gives units of each currency per one unit of
    `target` (the convention of Xero's CurrencyRate), so a figure in `target` is value / rate."""
    rows: list[dict[str, object]] = []
    for tenant_id, frame in sorted(kpis.items()):
        org = organisations[tenant_id]
        for kpi, value in zip(frame["kpi"], frame["value"], strict=True):
            is_money = kpi in money_kpis
            rows.append(_row(ORGANISATION, tenant_id, org.name, kpi, org.base_currency if is_money else "", value))
    per_org = pd.DataFrame(rows, columns=["scope", "organisation_id", "organisation_name", "kpi", "currency", "value"])
    money_rows = per_org[per_org["kpi"].isin(list(money_kpis))]
    for (kpi, currency), group in money_rows.groupby(["kpi", "currency"], sort=True):
        rows.append(_row(CURRENCY_TOTAL, ALL, f"{len(group)} organisations in {currency}", kpi, currency,
                         sum((_dec(v) for v in group["value"]), Decimal(0))))  # fmt: skip
    if target:
        rows += _converted(money_rows, rates or {}, target)
    out = pd.DataFrame(rows)
    for name in ("rate", "note"):
        if name not in out:
            out[name] = None
    return out[["scope", "organisation_id", "organisation_name", "kpi", "currency", "value", "rate", "note"]]


def _converted(money_rows: pd.DataFrame, rates: Mapping[str, Decimal], target: str) -> list[dict[str, object]]:
    """A total in `target` per money KPI, or a row naming the missing rates (value None) when one is missing."""
    out: list[dict[str, object]] = []
    for kpi, group in money_rows.groupby("kpi", sort=True):
        missing = sorted({c for c in group["currency"] if c != target and c not in rates})
        row = _row(CONVERTED_TOTAL, ALL, f"{len(group)} organisations", kpi, target, None)
        if missing:
            row["note"] = f"no {'/'.join(missing)} to {target} rate: converted total not shown"
        else:
            converted = [
                _dec(value) if currency == target else (_dec(value) / Decimal(rates[currency]))
                for currency, value in zip(group["currency"], group["value"], strict=True)
            ]
            row["value"] = sum(converted, Decimal(0)).quantize(CENT, ROUND_HALF_UP)
            used = sorted({c for c in group["currency"] if c != target})
            row["note"] = "; ".join(f"1 {target} = {rates[c]} {c}" for c in used) or f"all in {target}"
        out.append(row)
    return out


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _row(scope: str, organisation_id: str, name: str, kpi: str, currency: str, value: object) -> dict[str, object]:
    return {
        "scope": scope,
        "organisation_id": organisation_id,
        "organisation_name": name,
        "kpi": kpi,
        "currency": currency,
        "value": None if value is None else _dec(value).quantize(CENT, ROUND_HALF_UP),
    }
