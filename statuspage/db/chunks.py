"""A read of the whole history in bounded statements, resumed over as many refreshes as it takes.

One statement over every trade grows with the table: at 10 million trades the landing's one pass
takes about 20 s, past the 5 s statement timeout, so the first refresh never ended and the page
never showed a number (and never went live). A ``ChunkedRead`` cuts the range at ``closed_at``
values about ``rows`` rows apart (``track_chunk.sql``, by the closed_at index: trades closed at the
same instant are never split), reads one piece per statement and composes the pieces in order.
When the refresh's deadline has less than ``reserve_s`` left it stops, keeping what it read, and
raises ``ReadInProgress``; the next refresh goes on from there.

Pieces read by different refreshes come from different transactions. The caller keys the read on a
fingerprint of the whole range taken in each refresh's own transaction (the landing's count and
sums of every row before the range's end) and starts again when it changes: the same trust a kept
segment already has between refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from psycopg import Cursor

from .. import deadline
from ..formatting import utc_iso
from . import sql

T = TypeVar("T")
START = "-infinity"  # the first piece begins before every trade


class ReadInProgress(Exception):
    """A chunked read stopped before its deadline with part of the history read; nothing is wrong,
    and the next refresh goes on from where it stopped."""

    def __init__(self, what: str, until: datetime, rows_read: int, rows_total: int, unit: str = "trades") -> None:
        self.read, self.rows_read, self.rows_total = (what, until), rows_read, rows_total
        share = f"{rows_read / rows_total:.0%}, " if rows_total else ""
        super().__init__(f"reading the {what} before {utc_iso(until)} in parts: {share}"
                         f"{rows_read:,} of about {rows_total:,} {unit} so far")


@dataclass
class ChunkedRead(Generic[T]):
    """The pieces of ``[-infinity, until)`` read so far, composed into ``whole``."""

    key: Any  # the fingerprint the read began with; another one means starting again
    until: datetime
    whole: T
    cut: datetime | str = START  # where the next piece begins
    pieces: int = 0

    @property
    def done(self) -> bool:
        return isinstance(self.cut, datetime) and self.cut >= self.until

    def advance(self, cur: Cursor[dict[str, Any]], read_piece: Callable[[T, datetime | str, datetime], T],
                rows: int, reserve_s: float, progress: Callable[[T], int], total: int, what: str) -> T:
        """Read pieces until the range is whole, and return it; raise ``ReadInProgress`` instead when
        the current deadline scope has less than ``reserve_s`` left (what the rest of the refresh
        needs). One piece is always read first, so every refresh moves the read on."""
        read_now = 0
        while not self.done:
            left = deadline.remaining()
            if read_now and left is not None and left < reserve_s:
                raise ReadInProgress(what, self.until, progress(self.whole), total)
            found = cur.execute(sql("track_chunk"), {"scan_from": self.cut, "scan_to": self.until,
                                                     "rows": rows}).fetchone()
            cut = found["closed_at"] if found else self.until
            # the piece is kept only once read: a statement cut by its deadline leaves the read as it was
            self.whole, self.cut = read_piece(self.whole, self.cut, cut), cut
            self.pieces += 1
            read_now += 1
        return self.whole


@dataclass
class Pieces:
    """Parts of the recent trades read once for a key and kept while it holds: today's whole hours
    (read again once an hour), the rest of the day after the hour where a window begins. Kept only
    while nothing before the current hour may have changed: the caller drops them all otherwise."""

    kept: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def get(self, name: str, key: Any, read: Callable[[], T]) -> T:
        found = self.kept.get(name)
        if found is not None and found[0] == key:
            return found[1]
        value = read()
        self.kept[name] = (key, value)
        return value

    def drop(self) -> None:
        self.kept.clear()
