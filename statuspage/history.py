"""The page's history: one leader writes it, every process reads it.

Leadership is a PostgreSQL advisory lock held by a dedicated session. Every write goes through
that same session, so a write can only succeed while its writer still holds the lock: when the
leader dies or loses its connection the lock is released with the session, and the next follower
to try takes over. Uptime arithmetic is pure and lives at the bottom.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from . import deadline
from .db import sql
from .snapshot import utc_iso
from .status import DEGRADED, DOWN, OPERATIONAL, UNKNOWN, Component

log = logging.getLogger(__name__)

LEADER_LOCK = 0x5354_4154_5553  # pg_try_advisory_lock key: "STATUS"
BAR_DAYS = 90
UPTIME_WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}


def identity() -> str:
    """Who writes: host and pid, recorded beside every row a leader writes."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leader:
    """Holds (or tries to take) the history lock on a connection of its own."""

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any], call_s: float | None = None) -> None:
        self._dsn = dsn
        self.me = identity()
        self._kwargs = {**connect_kwargs, "autocommit": True, "application_name": f"statuspage-history {self.me}"}
        self.conn: psycopg.Connection | None = None
        self.is_leader = False
        self.call_s = call_s  # client-side deadline of each call on the session (a frozen server)

    def ensure(self) -> bool:
        """Check the session (a dead one loses the lock with it), reconnect, try the lock."""
        if self.conn is not None:
            try:
                with deadline.guard(self.conn, "history session check", self.call_s):
                    self.conn.execute("SELECT 1")
            except psycopg.Error:
                self._drop("history connection lost")
        if self.conn is None:
            try:
                self.conn = psycopg.connect(self._dsn, **self._kwargs)
            except psycopg.Error as exc:
                log.warning("history: cannot connect: %s", type(exc).__name__)
                return False
        if not self.is_leader:
            try:
                with deadline.guard(self.conn, "history lock", self.call_s):
                    self.is_leader = bool(self.conn.execute("SELECT pg_try_advisory_lock(%s)",
                                                            (LEADER_LOCK,)).fetchone()[0])
            except psycopg.Error:
                self._drop("history connection lost")
                return False
            if self.is_leader:
                log.info("history: this process (%s) is now the leader", self.me)
        return self.is_leader

    def _drop(self, why: str) -> None:
        if self.is_leader:
            log.warning("history: %s; leadership released", why)
        self.is_leader = False
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def close(self) -> None:
        self._drop("shutting down")


# --- writing (leader only) ---


def record(conn: psycopg.Connection, components: dict[str, Component], now: datetime, me: str) -> None:
    """Bring the stored history up to the leader's view of ``now``, in one transaction."""
    with conn.transaction():
        last = dict(conn.execute(sql("history_last_change")).fetchall())
        for c in components.values():
            previous = last.get(c.name, UNKNOWN)
            if c.state != previous:
                conn.execute(sql("history_insert_change"), {
                    "component": c.name, "from_state": previous, "to_state": c.state,
                    "at": c.since or now, "detail": c.detail, "recorded_by": me})
            if c.state in (DEGRADED, DOWN):
                conn.execute(sql("history_open_incident"), {
                    "component": c.name, "from_state": previous if previous != c.state else OPERATIONAL,
                    "state": c.state, "at": c.since or now, "detail": c.detail})
            elif c.state == OPERATIONAL:
                conn.execute(sql("history_resolve_incident"), {"component": c.name, "at": c.since or now})
            conn.execute(sql("history_sample"), {"component": c.name, "now": now, "state": c.state,
                                                 "recorded_by": me})
        conn.execute(sql("history_rollup"), {"since": now - timedelta(days=1)})


def prune(conn: psycopg.Connection, now: datetime) -> tuple[int, int]:
    """Delete what retention no longer keeps; returns (samples, rollups) deleted."""
    row = conn.execute(sql("history_prune"), {"now": now}).fetchone()
    return int(row[0]), int(row[1])


# --- reading (every process) ---


@dataclass(frozen=True)
class Incident:
    id: int
    component: str
    from_state: str
    worst_state: str
    opened_at: datetime
    resolved_at: datetime | None
    detail: str

    def duration_s(self, now: datetime) -> int:
        return int(((self.resolved_at or now) - self.opened_at).total_seconds())

    def overlaps(self, day: date) -> bool:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.opened_at < start + timedelta(days=1) and (self.resolved_at is None or self.resolved_at >= start)


@dataclass(frozen=True)
class Minutes:
    operational: int = 0
    degraded: int = 0
    down: int = 0
    unknown: int = 0

    def __add__(self, other: Minutes) -> Minutes:
        return Minutes(self.operational + other.operational, self.degraded + other.degraded,
                       self.down + other.down, self.unknown + other.unknown)

    @property
    def uptime(self) -> float | None:
        """Share of known minutes that were available: a down minute counts as unavailable, a
        degraded one as available; unknown minutes and days without data count for nothing."""
        known = self.operational + self.degraded + self.down
        return None if known == 0 else (self.operational + self.degraded) / known


@dataclass(frozen=True)
class DayBar:
    day: date
    minutes: Minutes
    incidents: int

    @property
    def uptime(self) -> float | None:
        return self.minutes.uptime


@dataclass(frozen=True)
class History:
    read_at: datetime
    began: datetime | None
    bars: dict[str, list[DayBar]]
    uptime: dict[str, dict[str, float | None]]
    incidents: list[Incident] = field(default_factory=list)

    def to_public(self) -> dict[str, Any]:
        def pct(value: float | None) -> float | None:
            return None if value is None else round(value * 100, 3)

        return {
            "read_at": utc_iso(self.read_at),
            "began": utc_iso(self.began) if self.began else None,
            "components": {
                name: {
                    "uptime_percent": {w: pct(v) for w, v in self.uptime[name].items()},
                    "days": [{"day": b.day.isoformat(), "uptime_percent": pct(b.uptime),
                              "degraded_minutes": b.minutes.degraded, "down_minutes": b.minutes.down,
                              "incidents": b.incidents} for b in self.bars[name]],
                } for name in self.bars
            },
            "incidents": [{
                "id": i.id, "component": i.component, "from": i.from_state, "to": i.worst_state,
                "opened_at": utc_iso(i.opened_at),
                "resolved_at": utc_iso(i.resolved_at) if i.resolved_at else None,
                "duration_s": i.duration_s(self.read_at), "detail": i.detail,
            } for i in self.incidents],
        }


def bar_kind(bar: DayBar) -> str:
    """How a day's bar is drawn: none (no data), ok, degraded (available but marked), partial, down."""
    uptime = bar.uptime
    if uptime is None:
        return "none"
    if uptime < 0.95:
        return "down"
    if uptime < 0.999:
        return "partial"
    return "degraded" if bar.minutes.degraded or bar.incidents else "ok"


def bar_tip(bar: DayBar) -> str:
    """What hover or focus shows: "2026-04-30: 99.93 % up, 1 min down, 1 incident"."""
    if bar.uptime is None:
        return f"{bar.day.isoformat()}: no data"
    parts = [f"{bar.day.isoformat()}: {uptime_text(bar.uptime)} up"]
    if bar.minutes.down:
        parts.append(f"{bar.minutes.down} min down")
    if bar.minutes.degraded:
        parts.append(f"{bar.minutes.degraded} min degraded")
    if bar.incidents:
        parts.append(f"{bar.incidents} incident" + ("s" if bar.incidents > 1 else ""))
    return ", ".join(parts)


def uptime_text(uptime: float | None) -> str:
    """"99.95 %", "100 %", or "no data"; never rounds an outage up to 100 %."""
    if uptime is None:
        return "no data"
    if uptime == 1:
        return "100 %"
    return f"{min(uptime * 100, 99.99):.2f} %"


def summarize(components: list[str], rollups: dict[tuple[str, date], Minutes], last_day: dict[str, Minutes],
              incidents: list[Incident], began: datetime | None, now: datetime) -> History:
    """Bars and uptime windows from stored minutes (pure)."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=BAR_DAYS - 1 - i) for i in range(BAR_DAYS)]
    bars, uptime = {}, {}
    for name in components:
        mine = [i for i in incidents if i.component == name]
        bars[name] = [DayBar(d, rollups.get((name, d), Minutes()), sum(1 for i in mine if i.overlaps(d)))
                      for d in days]
        uptime[name] = {"24h": last_day.get(name, Minutes()).uptime}
        for window, n in UPTIME_WINDOWS.items():
            if n > 1:
                total = sum((bar.minutes for bar in bars[name][-n:]), Minutes())
                uptime[name][window] = total.uptime
    return History(now, began, bars, uptime, incidents)


def read(conn: psycopg.Connection, components: list[str], now: datetime) -> History:
    params = {"now": now}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rollups = {(r.pop("component"), r.pop("day")): Minutes(**r)
                   for r in cur.execute(sql("history_rollups_read"), params).fetchall()}
        last_day = {r.pop("component"): Minutes(**r) for r in cur.execute(sql("history_last_day_read"), params)}
        incidents = [Incident(**r) for r in cur.execute(sql("history_incidents_read"), params).fetchall()]
        began = cur.execute(sql("history_began")).fetchone()["began"]
    return summarize(components, rollups, last_day, incidents, began, now)
