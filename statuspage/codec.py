"""Frozen dataclasses to plain JSON values and back, driven by their type hints. Pure: no I/O.

What one process hands another (the leader's published snapshot, statuspage/published.py) must come
back exactly as it was written, and anything else must be refused, never half-read: money travels
as decimal strings (never floats), times as ISO 8601 with their offset, mappings as [key, value]
pairs (their keys are dates or None too), and ``load`` checks every value against the field's type,
refuses unknown or missing fields and non-finite decimals, and raises ``ValueError`` on all of it.
A field marked ``LOCAL`` is the writer's own (what it keeps only to compute with): it never travels,
and ``dump`` refuses a value whose local field is not at its default rather than leave it out.
"""

from __future__ import annotations

import dataclasses
import types
from array import array
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

LOCAL = {"codec": "local"}  # field(metadata=LOCAL): kept by the process that holds it, never sent


@cache
def _sent(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.metadata != LOCAL)


@cache
def _local(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(cls) if f.metadata == LOCAL)


def _local_at_default(value: Any) -> None:
    for f in _local(type(value)):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if getattr(value, f.name) != default:
            raise TypeError(f"{type(value).__name__}.{f.name} is the writer's own and cannot be sent")


def dump(value: Any) -> Any:
    """``value`` as JSON-ready lists, dicts, strings, ints, booleans and None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _local_at_default(value)
        return {f.name: dump(getattr(value, f.name)) for f in _sent(type(value))}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, array):
        return value.tolist()
    if isinstance(value, Mapping):
        return [[dump(k), dump(v)] for k, v in value.items()]
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def load(tp: Any, data: Any) -> Any:
    """The value of type ``tp`` that ``dump`` wrote as ``data``; ValueError on anything else."""
    try:
        return _load(tp, data)
    except (TypeError, KeyError, InvalidOperation, OverflowError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def _expect(data: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(data, kind) or (isinstance(data, bool) and kind is not bool):
        raise ValueError(f"expected {kind}, got {type(data).__name__}")
    return data


def _load(tp: Any, data: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if data is None:
            if type(None) in options:
                return None
            raise ValueError("null where a value is required")
        (single,) = [t for t in options if t is not type(None)]
        return _load(single, data)
    if dataclasses.is_dataclass(tp):
        fields = {f.name for f in _sent(tp)}
        if set(_expect(data, dict)) != fields:
            raise ValueError(f"{tp.__name__}: fields {sorted(data)}, expected {sorted(fields)}")
        hints = _hints(tp)
        return tp(**{name: _load(hints[name], data[name]) for name in fields})
    if origin is tuple:
        args = get_args(tp)
        return tuple(_load(args[0], v) for v in _expect(data, list))
    if origin in (Mapping, dict):
        key, value = get_args(tp)
        return {_load(key, k): _load(value, v) for k, v in _expect(data, list)}
    if tp is Decimal:
        number = Decimal(_expect(data, str))
        if not number.is_finite():
            raise ValueError(f"not a finite amount: {data}")
        return number
    if tp is datetime:
        moment = datetime.fromisoformat(_expect(data, str))
        if moment.tzinfo is None:
            raise ValueError(f"a time without its offset: {data}")
        return moment
    if tp is date:
        return date.fromisoformat(_expect(data, str))
    if tp is array:
        return array("q", [_expect(v, int) for v in _expect(data, list)])
    if tp is Any:
        raise ValueError("a field without a type")
    if tp in (int, str, bool):
        return _expect(data, tp)
    raise ValueError(f"cannot decode {tp!r}")
