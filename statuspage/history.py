"""The page's history: one leader writes it (through ``db.leader``'s session), every process reads
it. Uptime arithmetic is pure and lives at the bottom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .db import sql
from .formatting import utc_iso
from .status import Component
from .vocabulary import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

log = logging.getLogger(__name__)

BAR_DAYS = 90
UPTIME_WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}


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
