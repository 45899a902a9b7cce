"""One view across every organisation an MSP connected: each KPI per organisation in its own base currency, totals
per currency, and a converted total only where a rate source covers every currency in it.

Adding figures of different currencies is a silent error (AUD 100 + NZD 100 is not 200 of anything), so the rollup
never does it. Figures of one currency are summed as they are; a converted total in `target` exists only when
`rates` has a rate for every currency involved, and otherwise its row says which rates are missing instead of
showing a number. Ratios and day counts (gross margin, DSO, current ratio, runway) are listed per organisation and
never summed. The input is each tenant's `kpis` frame (kpi, label, value, unit, period, currency): `unit ==
"currency"` marks an amount, `currency` names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from xero_assets.datasets.money import CENT
from xero_assets.datasets.spec import Organisation

ROLLUP_KEY = ("scope", "organisation_id", "kpi", "currency")
ORGANISATION, CURRENCY_TOTAL, CONVERTED_TOTAL = "organisation", "currency_total", "converted_total"
ALL = "*"  # organisation_id of total rows (part of the key, so never NULL)
COLUMNS = ["scope", "organisation_id", "organisation_name", "kpi", "label", "unit", "period", "currency", "value",
           "note"]  # fmt: skip


def rollup(
    kpis: Mapping[str, pd.DataFrame],
    organisations: Mapping[str, Organisation],
    rates: Mapping[str, Decimal] | None = None,
    target: str | None = None,
) -> pd.DataFrame:
    """`kpis` maps tenant id to its KPI frame; `rates` gives units of each currency per one unit of `target` (the
    convention of Xero's CurrencyRate), so an amount in `target` is value / rate."""
    rows: list[dict[str, object]] = []
    for tenant_id, frame in sorted(kpis.items()):
        org = organisations[tenant_id]
        for kpi in frame.to_dict("records"):
            is_money = kpi.get("unit") == "currency"
            currency = (kpi.get("currency") or org.base_currency) if is_money else ""
            rows.append({"scope": ORGANISATION, "organisation_id": tenant_id, "organisation_name": org.name,
                         "kpi": kpi["kpi"], "label": kpi.get("label"), "unit": kpi.get("unit"),
                         "period": kpi.get("period"), "currency": currency, "value": _cents(kpi["value"]),
                         "note": None})  # fmt: skip
    per_org = pd.DataFrame(rows, columns=COLUMNS)
    amounts = per_org[(per_org["unit"] == "currency") & per_org["value"].notna()]
    for (_kpi, currency), group in amounts.groupby(["kpi", "currency"], sort=True):
        names = ", ".join(group["organisation_name"])
        rows.append(_total(CURRENCY_TOTAL, group, currency, sum(group["value"], Decimal(0)), f"sum of {names}"))
    if target:
        for _, group in amounts.groupby("kpi", sort=True):
            rows.append(_converted(group, rates or {}, target))
    return pd.DataFrame(rows, columns=COLUMNS)


def _converted(group: pd.DataFrame, rates: Mapping[str, Decimal], target: str) -> dict[str, object]:
    """The KPI's total in `target`, or (value None) a note naming the rates that are missing."""
    missing = sorted({c for c in group["currency"] if c != target and c not in rates})
    if missing:
        return _total(CONVERTED_TOTAL, group, target, None, f"no {'/'.join(missing)} to {target} rate: not converted")
    converted = [
        value if currency == target else value / Decimal(rates[currency])
        for currency, value in zip(group["currency"], group["value"], strict=True)
    ]
    used = sorted({c for c in group["currency"] if c != target})
    note = "; ".join(f"1 {target} = {rates[c]} {c}" for c in used) or f"all in {target}"
    return _total(CONVERTED_TOTAL, group, target, sum(converted, Decimal(0)), note)


def _total(scope: str, group: pd.DataFrame, currency: str, value: Decimal | None, note: str) -> dict[str, object]:
    first = group.iloc[0]
    periods = sorted(set(group["period"].dropna()))
    return {"scope": scope, "organisation_id": ALL, "organisation_name": f"{len(group)} organisations",
            "kpi": first["kpi"], "label": first["label"], "unit": "currency", "period": ", ".join(periods),
            "currency": currency, "value": _cents(value), "note": note}  # fmt: skip


def _cents(value: object) -> Decimal | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return exact.quantize(CENT, ROUND_HALF_UP)
