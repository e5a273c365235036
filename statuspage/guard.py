"""The snapshot guard: a sudden large drop of the all-time trade count is held back, not published.

The history of closed trades only grows, apart from rare corrections. A refresh that reads far
fewer trades than the page has published (the table emptied or recreated, DATABASE_URL pointing at
an empty copy: the incident's shape) keeps the last good numbers on screen, flagged, until an
operator accepts the new history with ``python -m statuspage snapshot accept``.

The guard's memory is the high-water mark: the highest all-time count published since the last
acceptance. Each process keeps its own, and the page's schema keeps one for all of them
(``statuspage.snapshot_guard``, in the history database) so that a restart does not forget it.
Every publishing process raises the stored mark with a monotonic upsert, so concurrent writers
agree; a refresh compares against the higher of its own mark and the stored one. The history
database is never allowed to hold publishing up: its calls run on a thread of their own with a
deadline, and when it cannot be read the process goes on with its own memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from .db import sql

log = logging.getLogger(__name__)

T = TypeVar("T")


def large_drop(reference: int, found: int, max_percent: float, max_trades: int) -> bool:
    """Going from ``reference`` trades to ``found`` must be held back: a fall to zero, or a fall by
    more than ``max_trades`` trades and by more than ``max_percent`` % of ``reference``. Smaller
    falls are the rare corrections the engine makes (a trade deleted or merged), published."""
    if found >= reference:
        return False
    drop = reference - found
    return found == 0 or (drop > max_trades and drop * 100 > reference * max_percent)


@dataclass(frozen=True)
class Mark:
    """A high-water mark: the count, when it was read, and the last acceptance it follows."""

    count: int
    at: datetime
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    """Numbers held back: the page had ``reference`` trades, the database now says ``found``."""

    reference: int
    found: int
    since: datetime

    def detail(self, has_numbers: bool) -> str:
        """What the public may read: counts only (the page shows counts anyway)."""
        keeping = "holding the last good numbers" if has_numbers else "holding the numbers back"
        return f"all-time trade count fell from {self.reference} to {self.found}; {keeping} until an operator accepts"


class StoreUnavailable(Exception):
    """The history database did not answer in time, or a call to it is still hanging."""


class MarkStore:
    """``statuspage.snapshot_guard`` through a read-write connection of its own (history DSN).

    Each call runs on a thread of its own and is waited for at most ``timeout_s``: a history
    database that hangs (stopped process, lost packets) costs a refresh that long, once. While a
    call is still hanging, later ones fail at once instead of queueing behind it. The thread is a
    daemon: one that hangs for good cannot hold up the process's exit either.
    """

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any], timeout_s: float) -> None:
        self._dsn = dsn
        self._kwargs = {**connect_kwargs, "autocommit": True, "application_name": "statuspage-guard"}
        self._timeout_s = timeout_s
        self._conn: psycopg.Connection | None = None
        self._busy: threading.Thread | None = None
        self._lock = threading.Lock()

    def _call(self, work: Callable[[psycopg.Connection], T]) -> T:
        outcome: dict[str, Any] = {}
        with self._lock:
            if self._busy is not None and self._busy.is_alive():
                raise StoreUnavailable("an earlier call to the history database has not returned")
            self._busy = threading.Thread(target=self._run, args=(work, outcome), name="statuspage-guard", daemon=True)
            busy = self._busy
            busy.start()
        busy.join(self._timeout_s)
        if busy.is_alive():
            raise StoreUnavailable(f"no answer from the history database within {self._timeout_s:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _run(self, work: Callable[[psycopg.Connection], T], outcome: dict[str, Any]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._dsn, **self._kwargs)
            outcome["result"] = work(self._conn)
        except psycopg.OperationalError as exc:
            if self._conn is not None:
                self._conn.close()  # reconnect next time
            self._conn = None
            outcome["error"] = exc
        except Exception as exc:  # handed to the caller, on its thread
            outcome["error"] = exc

    def read(self) -> Mark | None:
        def work(conn: psycopg.Connection) -> Mark | None:
            row = conn.execute(sql("guard_read")).fetchone()
            return Mark(row[0], row[1], row[2]) if row else None

        return self._call(work)

    def raise_to(self, count: int, at: datetime) -> None:
        self._call(lambda conn: conn.execute(sql("guard_raise"), {"count": count, "at": at}))

    def close(self) -> None:
        conn = self._conn
        if conn is not None and (self._busy is None or not self._busy.is_alive()):
            conn.close()  # a connection a hung call still uses is left to the process's exit


def accept(conn: psycopg.Connection, count: int, at: datetime, by: str) -> int | None:
    """Set the stored mark to ``count`` and record who accepted it; returns the mark it replaced."""
    with conn.transaction():
        row = conn.execute(sql("guard_accept"), {"count": count, "at": at, "by": by}).fetchone()
    return None if row is None else row[0]


class Guard:
    """One process's guard: its own mark, the stored one as last read, and the decision."""

    def __init__(self, store: MarkStore | None, max_percent: float, max_trades: int) -> None:
        self.store = store
        self.max_percent = max_percent
        self.max_trades = max_trades
        self.memory: Mark | None = None  # the highest count this process published since the last acceptance
        self.stored: Mark | None = None  # the history database's mark, as last read
        self.store_error = ""  # operator detail of the last failed call to the history database

    def reference(self) -> int | None:
        """The count a refresh is compared with: the higher of this process's and the stored mark."""
        counts = [mark.count for mark in (self.memory, self.stored) if mark is not None]
        return max(counts) if counts else None

    def review(self, found: int, now: datetime) -> Hold | None:
        """A Hold when publishing ``found`` all-time trades now would be a large drop."""
        self._read_store()
        reference = self.reference()
        if reference is not None and large_drop(reference, found, self.max_percent, self.max_trades):
            return Hold(reference, found, now)
        return None

    def published(self, count: int, as_of: datetime) -> None:
        """Remember ``count`` and raise the stored mark to it (idempotent, order-free)."""
        self.remember(count, as_of)
        if self.store is not None and (self.stored is None or count > self.stored.count):
            try:
                self.store.raise_to(count, as_of)
            except (psycopg.Error, StoreUnavailable) as exc:
                self._failed(exc)

    def remember(self, count: int, as_of: datetime) -> None:
        """This process serves ``count`` (its own read, or a sibling's it adopted): a later fall from
        it is a drop, even when the stored mark cannot be read."""
        if self.memory is None or count > self.memory.count:
            accepted = self.memory.accepted_at if self.memory else self.stored.accepted_at if self.stored else None
            self.memory = Mark(count, as_of, accepted)

    def _read_store(self) -> None:
        if self.store is None:
            return
        try:
            stored = self.store.read()
        except (psycopg.Error, StoreUnavailable) as exc:
            self._failed(exc)  # go on with what this process remembers
            return
        if self.store_error:
            log.info("snapshot guard: history database readable again")
        self.store_error = ""
        self.stored = stored
        seen = self.memory.accepted_at if self.memory else None
        if stored is not None and stored.accepted_at is not None and (seen is None or stored.accepted_at > seen):
            # An operator accepted a new history since this process last looked: its own mark is
            # superseded by the accepted one (and whatever was published after it).
            self.memory = stored

    def _failed(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}".strip()
        if error != self.store_error:  # once per distinct failure, not every refresh
            log.warning("snapshot guard: history database unavailable, using this process's memory: %s", error)
        self.store_error = error

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
