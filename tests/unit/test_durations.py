"""The track record's durations: the median from two middle values, sorted runs merged, and the long
history kept as a band around its median."""

from __future__ import annotations

from array import array
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statuspage.track import Band, Durations, MedianOutOfBand, _merge_sorted


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


values = st.lists(st.integers(-10**6, 10**6), max_size=400)


@given(st.lists(values, min_size=1, max_size=5), st.lists(values, max_size=4), st.integers(0, 60))
def test_a_band_answers_exactly_or_says_it_cannot(history: list[list[int]], later: list[list[int]], half: int) -> None:
    whole = Durations(tuple(array("q", sorted(run)) for run in history if run))
    banded = whole.banded(half)
    everything = sorted([v for run in history for v in run] + [v for run in later for v in run])
    if banded.band is not None:  # every value from the band's lo to its hi; the rest only counted
        band, kept = banded.band, sorted(v for run in history for v in run)
        inside = [v for v in kept if band.lo <= v <= band.hi]
        assert sorted(v for run in banded.runs for v in run) == inside
        assert (band.below, band.above) == (sum(v < band.lo for v in kept), sum(v > band.hi for v in kept))
        assert len(inside) >= min(2 * half + 1, len(kept)) and banded.count == len(kept)
    durations = banded.then(Durations(tuple(array("q", sorted(run)) for run in later if run)))
    assert durations.count == len(everything)
    for k in range(len(everything)):
        try:
            assert durations.kth(k) == everything[k]
        except MedianOutOfBand:
            assert banded.band is not None
    if everything and sum(map(len, later)) <= half:  # what the band is cut for: the median always found
        assert durations.median_us() == plain_median(everything)


def test_a_band_keeps_the_values_near_the_median_and_counts_the_rest() -> None:
    durations = Durations((array("q", range(0, 1000, 2)), array("q", range(1, 1000, 2)))).banded(10)
    assert durations.band == Band(below=489, lo=489, hi=510, above=489)
    assert sorted(v for run in durations.runs for v in run) == list(range(489, 511))
    assert durations.median_us() == Decimal("499.5")
    with pytest.raises(MedianOutOfBand):
        durations.kth(100)
    with pytest.raises(ValueError, match="two bands"):
        durations.then(durations)


@given(st.lists(st.integers(-1000, 1000), max_size=300), st.integers(1, 40), st.integers(0, 30))
def test_a_read_cutting_as_it_goes_keeps_what_the_cut_at_the_end_keeps(values: list[int], piece: int,
                                                                       half: int) -> None:
    # read_history's rule: after each piece, drop what can no longer reach the final band
    total, whole = len(values), Durations()
    for start in range(0, total, piece):
        whole = whole.then(Durations((array("q", sorted(values[start:start + piece])),)))
        n, rest = whole.count, total - min(total, start + piece)
        whole = whole.cut((n - 1) // 2 - half - rest, total // 2 + half)
    once = Durations((array("q", sorted(values)),)).banded(half)
    cut_as_it_went = whole.banded(half)
    assert cut_as_it_went.count == once.count == total
    if values:
        assert cut_as_it_went.median_us() == once.median_us() == plain_median(values)
        assert cut_as_it_went.band == once.band
