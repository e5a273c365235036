"""The chart's geometry: pure numbers, no database, no template."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from statuspage.web.chart import HEIGHT, WIDTH, cumulative_pnl, nice_step, plot


def series(*values: str) -> list[tuple[date, Decimal]]:
    start = date(2024, 4, 2)
    return [(start + timedelta(days=i), Decimal(v)) for i, v in enumerate(values)]


def points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path)]


@pytest.mark.parametrize(("span", "step"), [
    ("200", "50"), ("170", "50"), ("42.5", "20"), ("7", "2"), ("1000", "250"), ("1", "0.25"),
    ("0.03", "0.01"), ("0", "0.01"),
])
def test_nice_step_is_one_two_two_and_a_half_or_five_times_a_power_of_ten(span: str, step: str) -> None:
    assert nice_step(Decimal(span), 4) == Decimal(step)


def test_line_spans_the_width_with_one_point_per_day() -> None:
    chart = cumulative_pnl(series(*[str(i * 10) for i in range(30)]))
    xs = [x for x, _ in points(chart.plot.line)]
    assert len(xs) == 30
    assert xs[0] == 0 and xs[-1] == WIDTH
    assert xs == sorted(xs)


def test_highest_value_is_drawn_higher_than_the_lowest() -> None:
    chart = cumulative_pnl(series("100", "250", "180"))
    ys = [y for _, y in points(chart.plot.line)]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards


def test_ticks_are_evenly_spaced_edge_to_edge_and_include_zero() -> None:
    chart = cumulative_pnl(series("-50", "20", "120"))
    ys = [tick.y for tick in chart.plot.ticks]
    assert ys[0] == 0 and ys[-1] == HEIGHT
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(ys)}
    assert len(gaps) == 1
    values = [tick.value for tick in chart.plot.ticks]
    assert values == sorted(values, reverse=True)
    assert Decimal(0) in values
    assert values[0] >= Decimal(120) and values[-1] <= Decimal(-50)
    zero = next(tick for tick in chart.plot.ticks if tick.value == 0)
    assert zero.y == pytest.approx(chart.plot.zero_y)


def test_a_positive_series_sits_on_the_zero_line() -> None:
    chart = cumulative_pnl(series("100", "200"))
    assert chart.plot.ticks[-1].value == 0
    assert chart.plot.zero_y == pytest.approx(HEIGHT)


def test_a_negative_series_hangs_from_the_zero_line() -> None:
    chart = cumulative_pnl(series("-10", "-80", "-35"))
    assert chart.plot.ticks[0].value == 0
    assert chart.plot.zero_y == pytest.approx(0)
    assert all(y > 0 for _, y in points(chart.plot.line))


def test_area_closes_the_line_along_the_zero_line() -> None:
    chart = cumulative_pnl(series("-10", "30", "20"))
    assert chart.plot.area.startswith(chart.plot.line)
    assert chart.plot.area.endswith("Z")
    closing = points(chart.plot.area)[-2:]
    assert [y for _, y in closing] == [pytest.approx(chart.plot.zero_y)] * 2
    assert [x for x, _ in closing] == [WIDTH, 0]


def test_all_zero_series_is_a_flat_line_through_the_middle() -> None:
    chart = cumulative_pnl(series("0", "0", "0"))
    assert {y for _, y in points(chart.plot.line)} == {HEIGHT / 2}
    assert [tick.value for tick in chart.plot.ticks] == [1, 0, -1]


def test_single_day_is_a_level_segment_across_the_plot() -> None:
    chart = cumulative_pnl(series("42"))
    (x0, y0), (x1, y1) = points(chart.plot.line)
    assert (x0, x1) == (0, WIDTH) and y0 == y1


def test_summary_values_describe_the_series() -> None:
    chart = cumulative_pnl(series("5", "-20", "40", "12.5"))
    assert (chart.first, chart.last, chart.plot.low, chart.plot.high) == (5, Decimal("12.5"), -20, 40)
    assert (chart.first_day, chart.last_day) == (date(2024, 4, 2), date(2024, 4, 5))


def test_empty_series_is_refused() -> None:
    with pytest.raises(ValueError):
        cumulative_pnl([])


@pytest.mark.parametrize(("intervals", "ticks", "zero_y"), [(4, [1, 0, -1], 20.0), (1, [0, -1], 0.0)])
def test_a_plot_of_nothing_but_zero_keeps_zero_on_a_tick(intervals: int, ticks: list[int], zero_y: float) -> None:
    # the underwater chart has one interval: its flat line sits on the top edge, not between two ticks
    flat = plot([0.0, 150.0, 300.0], [Decimal(0)] * 3, 40.0, intervals)
    assert [tick.value for tick in flat.ticks] == ticks
    assert flat.zero_y == pytest.approx(zero_y)
    assert {y for _, y in points(flat.line)} == {zero_y}
