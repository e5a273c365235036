"""The page's history: one leader writes it (through ``db.leader``'s session), every process reads
it. Uptime arithmetic is pure and lives at the bottom.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .backlog import Transition, minute_of, worse
from .db import sql
from .formatting import partial, utc_iso
from .status import Component
from .vocabulary import DEGRADED, DOWN, MAINTENANCE, OPERATIONAL, UNKNOWN

log = logging.getLogger(__name__)

BAR_DAYS = 90
UPTIME_WINDOWS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}
DAY_MINUTES = 24 * 60
# A degraded engine cannot trade (no database connection, or a stalled main loop): for uptime that
# is unavailability. Other components' degraded (a slow database, numbers served stale) is available.
DEGRADED_IS_DOWN = frozenset({"engine"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def alert_key(component: str, opened_at: datetime, grid_s: float) -> str:
    """An incident's identity that every process derives alike, without talking to the others:
    its component and the slot of the probe grid in which it opened. Probes run on the wall-clock
    grid (scheduler.WallClockInterval), so every process sees a change at the same tick and takes
    its time a few milliseconds after it: the same slot. The one disagreement left is a failure
    that lands during the probes of one tick, seen by some processes then and by the others one
    tick later."""
    step = timedelta(seconds=grid_s)
    slot = _EPOCH + ((opened_at - _EPOCH) // step) * step
    fraction = f".{slot.microsecond:06d}" if slot.microsecond else ""
    return f"{component}-{slot:%Y%m%dT%H%M%S}{fraction}Z"


# --- writing (leader only) ---


def record(conn: psycopg.Connection, components: dict[str, Component], now: datetime, me: str,
           transitions: Sequence[Transition] = (), samples: Mapping[datetime, Mapping[str, str]] | None = None,
           grid_s: float = 15.0) -> None:
    """Bring the stored history up to what this process saw, in one transaction.

    First the transitions it kept in memory, in order and with their true times (a database outage
    is written when the database returns, as it happened); one that history already has a later
    word on, or that changes nothing, is skipped. Then its current view of each component, in case
    the backlog lost something. Then the samples (by default the current minute) and the rollups of
    every day they touch."""
    if samples is None:
        samples = {minute_of(now): {c.name: c.state for c in components.values()}}
    with conn.transaction():
        last = {row[0]: (row[1], row[2]) for row in conn.execute(sql("history_last_change")).fetchall()}
        for t in transitions:
            state, at = last.get(t.component, (UNKNOWN, None))
            if t.to_state == state or (at is not None and t.at <= at):
                continue
            _change(conn, t.component, state, t.to_state, t.at, t.detail, me, now, grid_s)
            last[t.component] = (t.to_state, t.at)
        for c in components.values():
            state, at = last.get(c.name, (UNKNOWN, None))
            since = max(c.since or now, at) if at else c.since or now  # never before what history holds
            if c.state != state:
                _change(conn, c.name, state, c.state, since, c.recorded, me, now, grid_s)
            elif c.state in (DEGRADED, DOWN):  # an incident left open or missing by an earlier writer
                _incident(conn, c.name, OPERATIONAL, c.state, since, c.recorded, now, grid_s)
            elif c.state == OPERATIONAL:
                conn.execute(sql("history_resolve_incident"), {"component": c.name, "at": since})
        with conn.cursor() as cur:
            cur.executemany(sql("history_sample"), [
                {"component": name, "now": minute, "state": state, "recorded_by": me}
                for minute, states in samples.items() for name, state in states.items()])
        conn.execute(sql("history_rollup"), {"since": min([now - timedelta(days=1), *samples])})


def _change(conn: psycopg.Connection, component: str, from_state: str, to_state: str, at: datetime,
            detail: str, me: str, now: datetime, grid_s: float) -> None:
    conn.execute(sql("history_insert_change"), {"component": component, "from_state": from_state,
                                                "to_state": to_state, "at": at, "detail": detail, "recorded_by": me})
    if to_state in (DEGRADED, DOWN):
        _incident(conn, component, from_state, to_state, at, detail, now, grid_s)
    elif to_state == OPERATIONAL:
        conn.execute(sql("history_resolve_incident"), {"component": component, "at": at})


def _incident(conn: psycopg.Connection, component: str, from_state: str, state: str, at: datetime, detail: str,
              now: datetime, grid_s: float) -> None:
    conn.execute(sql("history_open_incident"), {
        "component": component, "from_state": from_state, "state": state, "at": at, "detail": detail,
        "alert_key": alert_key(component, at, grid_s), "now": now})


def prune(conn: psycopg.Connection, now: datetime) -> tuple[int, int]:
    """Delete what retention no longer keeps; returns (samples, rollups) deleted."""
    row = conn.execute(sql("history_prune"), {"now": now}).fetchone()
    return int(row[0]), int(row[1])


# --- reading (every process) ---


@dataclass(frozen=True)
class Incident:
    id: int | None  # None: seen by this process, not written yet (the history database is unreachable)
    component: str
    from_state: str
    worst_state: str
    opened_at: datetime
    resolved_at: datetime | None
    detail: str
    alert_key: str | None = None  # its identity in notifications (alert_key()); None before migration 0004
    notified: bool = False  # its "opened" message was delivered through the outbox

    def duration_s(self, now: datetime) -> int:
        return int(((self.resolved_at or now) - self.opened_at).total_seconds())

    def overlaps(self, day: date) -> bool:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.opened_at < start + timedelta(days=1) and (self.resolved_at is None or self.resolved_at >= start)

    @property
    def anchor(self) -> str:
        """Its name in the page and the feed, the same before and after it is written."""
        return f"incident-{self.alert_key or self.id}"


@dataclass(frozen=True)
class Minutes:
    operational: int = 0
    degraded: int = 0
    down: int = 0
    unknown: int = 0

    def __add__(self, other: Minutes) -> Minutes:
        return Minutes(self.operational + other.operational, self.degraded + other.degraded,
                       self.down + other.down, self.unknown + other.unknown)

    def plus(self, state: str, n: int = 1) -> Minutes:
        """``n`` more minutes in ``state``; a maintenance minute counts neither way, so it adds nothing."""
        if state == MAINTENANCE:
            return self
        return dataclasses.replace(self, **{state: getattr(self, state) + n})

    @property
    def known(self) -> int:
        """Minutes observed in a known state: the coverage of the period."""
        return self.operational + self.degraded + self.down

    @property
    def uptime(self) -> float | None:
        """Share of known minutes that were available: a down minute counts as unavailable, a
        degraded one as available; unknown minutes and days without data count for nothing."""
        return self.availability(degraded_available=True)

    def availability(self, degraded_available: bool) -> float | None:
        """``uptime``, with degraded minutes counted as unavailable unless ``degraded_available``."""
        up = self.operational + (self.degraded if degraded_available else 0)
        return None if self.known == 0 else up / self.known


@dataclass(frozen=True)
class DayBar:
    day: date
    minutes: Minutes
    incidents: int
    degraded_available: bool = True  # False for the engine: degraded minutes count as down
    window_minutes: int = DAY_MINUTES  # the minutes of the day so far (today: up to now)

    @property
    def uptime(self) -> float | None:
        return self.minutes.availability(self.degraded_available)

    @property
    def partial(self) -> bool:
        return partial((self.minutes.known, self.window_minutes))


@dataclass(frozen=True)
class History:
    read_at: datetime
    began: datetime | None
    bars: dict[str, list[DayBar]]
    uptime: dict[str, dict[str, float | None]]
    incidents: list[Incident] = field(default_factory=list)
    # per component and window: (minutes observed in a known state, minutes the window spans so far)
    coverage: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def to_public(self) -> dict[str, Any]:
        def pct(value: float | None) -> float | None:
            return None if value is None else round(value * 100, 3)

        return {
            "read_at": utc_iso(self.read_at),
            "began": utc_iso(self.began) if self.began else None,
            "components": {
                name: {
                    "uptime_percent": {w: pct(v) for w, v in self.uptime[name].items()},
                    "coverage_minutes": {w: c[0] for w, c in self.coverage[name].items()},
                    "window_minutes": {w: c[1] for w, c in self.coverage[name].items()},
                    "days": [{"day": b.day.isoformat(), "uptime_percent": pct(b.uptime),
                              "degraded_minutes": b.minutes.degraded, "down_minutes": b.minutes.down,
                              "coverage_minutes": b.minutes.known, "incidents": b.incidents}
                             for b in self.bars[name]],
                } for name in self.bars
            },
            "incidents": [{
                "id": i.id, "recorded": i.id is not None, "component": i.component, "from": i.from_state,
                "to": i.worst_state, "opened_at": utc_iso(i.opened_at),
                "resolved_at": utc_iso(i.resolved_at) if i.resolved_at else None,
                "duration_s": i.duration_s(self.read_at), "detail": i.detail,
            } for i in self.incidents],
        }


def summarize(components: list[str], rollups: dict[tuple[str, date], Minutes], last_day: dict[str, Minutes],
              incidents: list[Incident], began: datetime | None, now: datetime) -> History:
    """Bars and uptime windows from stored minutes (pure). ``last_day``: the minutes of the 24 hours
    before ``now``. 24 h is those 1440 minutes; 7 d, 30 d and 90 d are the last 7, 30 and 90 UTC days
    including today, whose window so far ends at ``now``. Each states its coverage: nothing is
    extrapolated to the minutes no one observed."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=BAR_DAYS - 1 - i) for i in range(BAR_DAYS)]
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    today_minutes = (now - midnight) // timedelta(minutes=1) + 1  # the minutes begun since midnight
    bars, uptime, coverage = {}, {}, {}
    for name in components:
        available = name not in DEGRADED_IS_DOWN
        mine = [i for i in incidents if i.component == name]
        bars[name] = [DayBar(d, rollups.get((name, d), Minutes()), sum(1 for i in mine if i.overlaps(d)),
                             available, today_minutes if d == today else DAY_MINUTES) for d in days]
        day = last_day.get(name, Minutes())
        uptime[name] = {"24h": day.availability(available)}
        coverage[name] = {"24h": (min(day.known, DAY_MINUTES), DAY_MINUTES)}
        for window, n in UPTIME_WINDOWS.items():
            if n > 1:
                total = sum((bar.minutes for bar in bars[name][-n:]), Minutes())
                uptime[name][window] = total.availability(available)
                coverage[name][window] = (total.known, (n - 1) * DAY_MINUTES + today_minutes)
    return History(now, began, bars, uptime, incidents, coverage)


@dataclass(frozen=True)
class Run:
    """Consecutive sampled minutes of one component in one state, ``first`` to ``last`` inclusive."""

    component: str
    state: str
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Recorded:
    """One read of the history tables, as of ``read_at``."""

    read_at: datetime
    rollups: dict[tuple[str, date], Minutes]
    runs: list[Run]  # the samples of the 24 hours before read_at, so that window can move on
    incidents: list[Incident]
    began: datetime | None


def fetch(conn: psycopg.Connection, now: datetime) -> Recorded:
    params = {"now": now}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rollups = {(r.pop("component"), r.pop("day")): Minutes(**r)
                   for r in cur.execute(sql("history_rollups_read"), params).fetchall()}
        runs = [Run(**r) for r in cur.execute(sql("history_last_day_read"), params).fetchall()]
        incidents = [Incident(**r) for r in cur.execute(sql("history_incidents_read"), params).fetchall()]
        began = cur.execute(sql("history_began")).fetchone()["began"]
    return Recorded(now, rollups, runs, incidents, began)


def read(conn: psycopg.Connection, components: list[str], now: datetime) -> History:
    return view(components, fetch(conn, now), [], {}, now)


def view(components: list[str], recorded: Recorded | None, transitions: Sequence[Transition],
         samples: Mapping[datetime, Mapping[str, str]], now: datetime, grid_s: float = 15.0) -> History:
    """What the page shows at ``now`` (pure): the stored history, with what this process saw and
    could not write yet merged in: its minutes in the bars and windows (a minute stored already
    takes the worse of the two states, as the database will), its transitions in the incidents (an
    outage in progress shows as ongoing while the history database is down with it)."""
    recorded = recorded or Recorded(now, {}, [], [], None)
    minute = timedelta(minutes=1)
    start = now - timedelta(hours=24)
    first_in_window = minute_of(start) + minute  # minutes m with start < m <= now
    runs: dict[str, list[Run]] = {}
    last_day: dict[str, Minutes] = {}
    for run in recorded.runs:
        runs.setdefault(run.component, []).append(run)
        lo, hi = max(run.first, first_in_window), min(run.last, now)
        if lo <= hi:
            last_day[run.component] = last_day.get(run.component, Minutes()).plus(run.state, (hi - lo) // minute + 1)
    rollups = dict(recorded.rollups)
    for at, states in samples.items():
        day = at.astimezone(UTC).date()
        for name, state in states.items():
            if name not in components:
                continue
            before = _stored_state(runs.get(name, []), at)
            after = state if before is None else worse(state, before)
            if after == before:
                continue
            counts = rollups.get((name, day), Minutes())
            rollups[(name, day)] = (counts if before is None else counts.plus(before, -1)).plus(after)
            if start < at <= now:
                counts = last_day.get(name, Minutes())
                last_day[name] = (counts if before is None else counts.plus(before, -1)).plus(after)
    began = min(filter(None, [recorded.began, *samples]), default=None)
    incidents = merge_incidents(recorded.incidents, transitions, grid_s)
    return summarize(components, rollups, last_day, incidents, began, now)


def _stored_state(runs: list[Run], at: datetime) -> str | None:
    """The stored state of the minute ``at``, from one component's runs (sorted by first minute)."""
    i = bisect.bisect_right([run.first for run in runs], at) - 1
    return runs[i].state if i >= 0 and runs[i].last >= at else None


def merge_incidents(stored: list[Incident], transitions: Sequence[Transition], grid_s: float) -> list[Incident]:
    """The stored incidents with unwritten transitions applied as ``record`` will apply them."""
    incidents = list(stored)
    for t in transitions:
        open_at = next((k for k, i in enumerate(incidents) if i.component == t.component and i.resolved_at is None),
                       None)
        if t.to_state in (DEGRADED, DOWN):
            if open_at is None:
                incidents.append(Incident(None, t.component, t.from_state, t.to_state, t.at, None, t.detail,
                                          alert_key(t.component, t.at, grid_s)))
            elif t.to_state == DOWN and incidents[open_at].worst_state != DOWN:
                incidents[open_at] = dataclasses.replace(incidents[open_at], worst_state=DOWN, detail=t.detail)
        elif t.to_state == OPERATIONAL and open_at is not None:
            opened = incidents[open_at]
            incidents[open_at] = dataclasses.replace(opened, resolved_at=max(t.at, opened.opened_at))
    return sorted(incidents, key=lambda i: (i.opened_at, i.id or 0), reverse=True)
