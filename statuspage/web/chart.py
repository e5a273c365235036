"""Geometry of the page's SVG charts, as plain numbers and SVG path strings: the 30-day cumulative
PnL chart (``cumulative_pnl``) and the plot both it and the equity and underwater charts
(``equity_chart.py``) are made of (``plot``).

No I/O and no markup: ``templates/_chart.html`` and ``templates/_equity.html`` draw what this
returns, through the ``plot`` macro of ``templates/_macros.html``. A plot is a ``width`` x
``height`` box in SVG user units, stretched to its container by CSS, so only lines live inside the
SVG; the axis labels are HTML beside it. For that to line up without inline styles, the y axis has
evenly spaced ticks from the top edge to the bottom edge, and zero is always one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

WIDTH, HEIGHT = 300.0, 100.0
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@dataclass(frozen=True)
class Tick:
    value: Decimal
    y: float


@dataclass(frozen=True)
class Plot:
    """One chart's y axis and lines, ``height`` high."""

    height: float
    line: str  # SVG path through the drawn points
    area: str  # the line closed along the zero line
    zero_y: float
    ticks: tuple[Tick, ...]  # top to bottom, evenly spaced, first at y=0 and last at y=height
    step: Decimal
    low: Decimal
    high: Decimal

    @property
    def places(self) -> int:
        """Decimal places of the tick labels: none once the ticks are whole."""
        return 0 if self.step >= 1 else 2


@dataclass(frozen=True)
class Chart:
    width: float
    plot: Plot
    first_day: date
    last_day: date
    first: Decimal
    last: Decimal


def nice_step(span: Decimal, intervals: int, smallest: Decimal = Decimal("0.01")) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten (and at least ``smallest``, a cent) that
    covers ``span`` in ``intervals``."""
    raw = span / intervals
    if raw <= smallest:
        return smallest
    magnitude = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw)), exactly
    return next(m * magnitude for m in _STEPS if m * magnitude >= raw)


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding="ROUND_FLOOR") * step


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding="ROUND_CEILING") * step


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def plot(xs: Sequence[float], values: Sequence[Decimal], height: float, intervals: int,
         width: float = WIDTH) -> Plot:
    """The plot of ``values`` at ``xs`` (0 to ``width``), its y axis cut into ``intervals`` evenly
    spaced steps with zero on one of them; at least one value."""
    low, high = min(values), max(values)
    bottom, top = min(low, Decimal(0)), max(high, Decimal(0))
    step = nice_step(top - bottom, intervals)
    bottom, top = _floor_to(bottom, step), _ceil_to(top, step)
    if top == bottom:  # nothing but zero: a flat line, zero in the middle or, with one interval, at the top
        step = Decimal(1)
        bottom, top = (-step, Decimal(0)) if intervals == 1 else (-step, step)
    span = top - bottom

    def y(value: Decimal) -> float:
        return float((top - value) / span) * height

    coords = [(x, y(v)) for x, v in zip(xs, values, strict=True)]
    if len(coords) == 1:  # one day: a level segment across the plot
        coords = [(0.0, coords[0][1]), (width, coords[0][1])]
    line = "M" + " L".join(f"{_num(cx)},{_num(cy)}" for cx, cy in coords)
    zero_y = y(Decimal(0))
    area = f"{line} L{_num(coords[-1][0])},{_num(zero_y)} L{_num(coords[0][0])},{_num(zero_y)} Z"
    count = int(span / step)
    ticks = tuple(Tick(top - i * step, i * height / count) for i in range(count + 1))
    return Plot(height=height, line=line, area=area, zero_y=zero_y, ticks=ticks, step=step, low=low, high=high)


def cumulative_pnl(points: Sequence[tuple[date, Decimal]], intervals: int = 4,
                   width: float = WIDTH, height: float = HEIGHT) -> Chart:
    """Chart geometry for (day, cumulative PnL) points, oldest first; at least one point."""
    if not points:
        raise ValueError("a chart needs at least one point")
    values = [value for _, value in points]
    xs = [i * width / max(1, len(values) - 1) for i in range(len(values))]
    return Chart(width=width, plot=plot(xs, values, height, intervals, width), first_day=points[0][0],
                 last_day=points[-1][0], first=values[0], last=values[-1])
