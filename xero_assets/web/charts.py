"""Bar charts as inline SVG geometry, computed here so templates only draw rectangles (no script, no chart library,
nothing fetched). Negative values (a loss, an overdrawn account) hang below a zero line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 640
HEIGHT = 220
TOP = 12
BOTTOM = 28  # room for the labels under the bars
LEFT = 4


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    x: float
    y: float
    width: float
    height: float
    negative: bool


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    zero_y: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def label_y(self) -> float:
        return self.height - 8

    @property
    def label_every(self) -> int:
        """Show every n-th label so thirteen months still fit on a phone (the table below has them all)."""
        return 1 if len(self.bars) <= 7 else 2


def bar_chart(title: str, points: Sequence[tuple[str, Decimal]]) -> BarChart:
    """Bars for `points` (label, value), scaled to the largest magnitude, positives up and negatives down."""
    values = [float(v) for _, v in points]
    high = max([0.0, *values])
    low = min([0.0, *values])
    span = (high - low) or 1.0
    plot = HEIGHT - TOP - BOTTOM
    zero_y = TOP + plot * high / span
    slot = (WIDTH - LEFT) / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        size = plot * abs(float(value)) / span
        negative = value < 0
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(LEFT + i * slot + slot * 0.15, 1),
                y=round(zero_y if negative else zero_y - size, 1),
                width=round(slot * 0.7, 1),
                height=round(max(size, 0.5), 1),
                negative=negative,
            )
        )
    return BarChart(title, bars, round(zero_y, 1))
