"""Geometry of the equity curve and the underwater (drawdown) chart under it, as plain numbers and
SVG path strings (each a ``chart.Plot``); ``templates/_equity.html`` draws them. Both charts share
one time axis: the same days at the same x.

A long history is reduced here, never sent whole to the browser: the days are cut into at most
``BUCKETS`` buckets of equal length and each bucket keeps only the days of its extremes (the highest
and lowest cumulative pnl, the deepest drawdown), in day order, so every peak and trough a bucket
holds is still drawn. The first and the last day are always kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..track import EquityDay
from .chart import WIDTH, Plot, plot

EQUITY_HEIGHT, UNDERWATER_HEIGHT = 100.0, 40.0
BUCKETS = 150  # at most 4 days drawn per bucket: 600 points however long the history

# The range switch: a name in the URL, a label, and how many days back (None: since the first trade).
RANGES: dict[str, tuple[str, int | None]] = {
    "30d": ("30 days", 30), "90d": ("90 days", 90), "1y": ("1 year", 365), "all": ("All", None),
}
DEFAULT_RANGE = "all"


class UnknownRange(ValueError):
    """A ``range`` the page does not offer."""


def parse_range(value: str | None) -> str:
    if value is None:
        return DEFAULT_RANGE
    if value not in RANGES:
        raise UnknownRange(f"range must be one of {', '.join(RANGES)}")
    return value


def bucket_of(index: int, count: int, buckets: int = BUCKETS) -> int:
    """The bucket day ``index`` of ``count`` falls in: equal lengths, in order."""
    return index * buckets // count


def reduce_extremes(series: Sequence[Sequence[Decimal]], buckets: int = BUCKETS) -> list[int]:
    """The day indices to draw for parallel ``series``: every day when they are short enough,
    otherwise per bucket the days of each series' highest and lowest value, and the first and
    last day."""
    count = len(series[0]) if series else 0
    if count <= 2 * buckets:
        return list(range(count))
    keep = {0, count - 1}
    start = 0
    while start < count:
        bucket = bucket_of(start, count, buckets)
        end = start
        while end < count and bucket_of(end, count, buckets) == bucket:
            end += 1
        for values in series:
            window = range(start, end)
            keep.add(max(window, key=lambda i: (values[i], -i)))  # the first of equal highs
            keep.add(min(window, key=lambda i: (values[i], i)))  # the first of equal lows
        start = end
    return sorted(keep)


@dataclass(frozen=True)
class EquityChart:
    range: str
    width: float
    first_day: date
    last_day: date
    days: int  # days in the range
    drawn: int  # days drawn after the reduction
    first: Decimal  # cumulative pnl at the end of the first and the last day
    last: Decimal
    equity: Plot
    underwater: Plot

    now: Decimal  # the last day's drawdown

    @property
    def deepest(self) -> Decimal:
        return self.underwater.low


def equity_chart(equity: Sequence[EquityDay], chart_range: str, today: date,
                 buckets: int = BUCKETS) -> EquityChart | None:
    """The two charts for the days of ``chart_range`` (up to ``today``); None without any day."""
    span = RANGES[chart_range][1]
    days = [d for d in equity if span is None or d.day > today - timedelta(days=span)]
    if not days:
        return None
    cums, drawdowns = [d.cum_pnl for d in days], [d.drawdown for d in days]
    drawn = reduce_extremes([cums, drawdowns], buckets)
    last = max(1, len(days) - 1)
    xs = [i * WIDTH / last for i in drawn]
    return EquityChart(
        range=chart_range, width=WIDTH, first_day=days[0].day, last_day=days[-1].day, days=len(days),
        drawn=len(drawn), first=cums[0], last=cums[-1], now=drawdowns[-1],
        equity=plot(xs, [cums[i] for i in drawn], EQUITY_HEIGHT, 4),
        underwater=plot(xs, [drawdowns[i] for i in drawn], UNDERWATER_HEIGHT, 1),
    )
