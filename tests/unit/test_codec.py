"""codec: what one process publishes comes back exactly as written, and anything else is refused."""

from __future__ import annotations

import json
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from statuspage import codec
from statuspage.track import Durations


@dataclass(frozen=True)
class Leaf:
    amount: Decimal
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class Tree:
    count: int
    flag: bool
    day: date
    leaves: tuple[Leaf, ...]
    by_day: Mapping[date, Leaf]
    by_name: dict[str | None, int]
    runs: tuple[array, ...]
    maybe: Leaf | None


def sample() -> Tree:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    leaf = Leaf(Decimal("-0.10"), at, "x")
    return Tree(count=3, flag=False, day=date(2024, 2, 29), leaves=(leaf, Leaf(Decimal("1E+3"), at)),
                by_day={date(2026, 1, 1): leaf}, by_name={None: 2, "BTC": 1},
                runs=(array("q", [-5, 0, 2**62]),), maybe=None)


def through_json(value: object) -> object:
    return json.loads(json.dumps(codec.dump(value), allow_nan=False))


def test_a_value_comes_back_equal_with_its_exact_decimals_offsets_and_keys() -> None:
    back = codec.load(Tree, through_json(sample()))
    assert back == sample()
    assert str(back.leaves[0].amount) == "-0.10" and str(back.leaves[1].amount) == "1E+3"  # not re-rounded
    assert back.leaves[0].at.utcoffset() == timedelta(hours=2)
    assert None in back.by_name and isinstance(back.runs[0], array)


def broken(path: list[object], value: object) -> object:
    data = through_json(sample())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value"), [
    (["leaves", 0, "amount"], "NaN"),  # a non-finite amount never travels
    (["leaves", 0, "amount"], "Infinity"),
    (["leaves", 0, "amount"], 1.5),  # a float where money is written as a string
    (["leaves", 0, "at"], "2026-03-29T01:30:00"),  # a time without its offset
    (["count"], True),  # a boolean is not a count
    (["count"], "3"),
    (["flag"], 0),
    (["day"], "2026-02-30"),
    (["runs", 0], [1, 2.5]),
    (["maybe"], {"amount": "1", "at": "2026-01-01T00:00:00+00:00"}),  # a field missing
    (["by_day"], {"2026-01-01": {}}),  # a mapping is a list of pairs
    (["leaves"], None),  # null where a value is required
])
def test_anything_but_what_dump_writes_is_refused_with_a_value_error(path: list[object], value: object) -> None:
    with pytest.raises(ValueError):
        codec.load(Tree, broken(path, value))


def test_an_unknown_field_is_refused() -> None:
    data = through_json(sample())
    data["extra"] = 1
    with pytest.raises(ValueError, match="fields"):
        codec.load(Tree, data)


def test_a_type_it_does_not_know_is_refused_on_the_way_out() -> None:
    with pytest.raises(TypeError):
        codec.dump({1, 2})
    assert codec.dump(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00+00:00"


def test_a_local_field_never_travels() -> None:
    slim = Durations((array("q", [3, 5]),))
    assert codec.dump(slim) == {"runs": [[3, 5]]}
    assert codec.load(Durations, {"runs": [[3, 5]]}) == slim
    with pytest.raises(ValueError, match="fields"):  # sent anyway: refused like any unknown field
        codec.load(Durations, {"runs": [[3, 5]], "band": None})
    with pytest.raises(TypeError, match="writer's own"):  # a value that would lose it is not sent
        codec.dump(Durations((array("q", range(100)),)).banded(3))
