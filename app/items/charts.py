"""Target-versus-actual charts of an item's indicators, drawn as server-side SVG."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.models import Indicator

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


@dataclass
class Bar:
    x: float
    y: float
    height: float
    value: Decimal


@dataclass
class YearColumn:
    fiscal_year: int
    label_x: float
    target: Bar | None = None
    actual: Bar | None = None


@dataclass
class Chart:
    indicator: Indicator
    years: list[YearColumn]
    ticks: list[tuple[float, Decimal]]
    bar_width: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline_y: float = HEIGHT - BOTTOM
    rows: list[tuple[int, Decimal | None, Decimal | None, str]] = field(default_factory=list)


def _nice_max(value: Decimal) -> Decimal:
    """A round upper bound for the axis (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        bound = Decimal(step).scaleb(exponent)
        if bound >= value:
            return bound
    return Decimal(10).scaleb(exponent)


def achievement(target: Decimal | None, actual: Decimal | None, higher_is_better: bool) -> str:
    """The actual as a percentage of the target ("" when it cannot be said)."""
    if target is None or actual is None or target == 0 or actual == 0 and not higher_is_better:
        return ""
    ratio = actual / target if higher_is_better else target / actual
    return f"{ratio * 100:.0f}%"


def indicator_chart(indicator: Indicator, fiscal_years: list[int]) -> Chart:
    """Bars of target and actual for each fiscal year of the plan."""
    values = {v.fiscal_year: v for v in indicator.values}
    numbers = [n for v in values.values() for n in (v.target, v.actual) if n is not None]
    top = _nice_max(max([Decimal(0), *numbers]))
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(fiscal_years), 1)
    bar_w = slot * 0.32
    columns, rows = [], []
    for i, fy in enumerate(fiscal_years):
        x0 = LEFT + i * slot + slot * 0.16
        column = YearColumn(fiscal_year=fy, label_x=LEFT + i * slot + slot / 2)
        value = values.get(fy)
        target = value.target if value else None
        actual = value.actual if value else None
        for attr, number, x in (("target", target, x0), ("actual", actual, x0 + bar_w)):
            if number is None:
                continue
            h = float(max(number, Decimal(0)) / top) * plot_h
            setattr(column, attr, Bar(x=x, y=TOP + plot_h - h, height=h, value=number))
        columns.append(column)
        rows.append((fy, target, actual, achievement(target, actual, indicator.higher_is_better)))
    ticks = [(TOP + plot_h - plot_h * k / 4, top * k / 4) for k in range(5)]
    return Chart(indicator=indicator, years=columns, ticks=ticks, bar_width=bar_w, rows=rows)
