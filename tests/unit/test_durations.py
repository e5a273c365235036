"""The track record's durations: the median from two middle values, and sorted runs merged."""

from __future__ import annotations

from array import array
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from statuspage.track import Durations, _merge_sorted


def plain_median(values: list[int]) -> Decimal:
    ordered, n = sorted(values), len(values)
    return (Decimal(ordered[(n - 1) // 2]) + Decimal(ordered[n // 2])) / 2


@given(st.lists(st.lists(st.integers(-10**12, 10**12), min_size=0, max_size=30), min_size=1, max_size=6))
def test_the_two_middle_durations_give_the_median_of_all(runs: list[list[int]]) -> None:
    durations = Durations(tuple(array("q", sorted(run)) for run in runs if run))
    everything = [v for run in runs for v in run]
    slim = durations.middle()
    if not everything:
        assert slim.median_us() is None and durations.median_us() is None
        return
    assert slim.count == 2
    assert slim.median_us() == durations.median_us() == plain_median(everything)


@given(st.lists(st.integers(-10**12, 10**12), max_size=200), st.lists(st.integers(-10**12, 10**12), max_size=5000))
def test_two_sorted_runs_merge_into_the_sorted_whole(a: list[int], b: list[int]) -> None:
    merged = _merge_sorted(array("q", sorted(a)), array("q", sorted(b)))
    assert merged.tolist() == sorted(a + b) and merged.typecode == "q"
