"""What the operators' words put on the page: incidents with their timelines, maintenance windows and
the announcement, read from the history database by every process in the history job (every
``PROBE_INTERVAL_S``) and kept in memory as a ``Board``, like the history itself. Requests read the
board, never the database.

The board decides, at the moment it was read, which components a maintenance window covers: they are
shown (and recorded, and counted in uptime) as ``maintenance`` (``shown``). The history leader also
records what happened to each window (``record``: each occurrence's start and end once, maintenance
minutes per day) and queues the notifications of operator events through the outbox (``enqueue``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import maintenance
from .backlog import Transition
from .db import sql
from .formatting import utc_iso
from .history import History
from .maintenance import Occurrence, Window
from .notify import receiver_id
from .operators import window_from_row
from .status import Component
from .vocabulary import IMPACT_OVERALL, MAINTENANCE, Overall, component_name

log = logging.getLogger(__name__)

RECENT = timedelta(days=14)  # resolved incidents on the page; past windows in the v2 API
KEPT = timedelta(days=90)  # incidents in /history.json, like the automatic ones
UPCOMING = timedelta(days=7)
# What an automatic incident's worst state means as an impact (the v2 API, notifications).
STATE_IMPACT = {"degraded": "minor", "down": "major"}


@dataclass(frozen=True)
class Update:
    id: int
    incident_id: int
    status: str
    message: str
    at: datetime

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "message": self.message, "at": utc_iso(self.at)}


@dataclass(frozen=True)
class Postmortem:
    message: str
    at: datetime

    def to_public(self) -> dict[str, Any]:
        return {"message": self.message, "at": utc_iso(self.at)}


@dataclass(frozen=True)
class OperatorIncident:
    id: int
    title: str
    impact: str
    components: tuple[str, ...]
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    updates: tuple[Update, ...] = ()  # oldest first; the first is the opening message
    postmortem: Postmortem | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def updated_at(self) -> datetime:
        return max([self.opened_at, *(u.at for u in self.updates)])

    def duration_s(self, now: datetime) -> int:
        return int(((self.resolved_at or now) - self.opened_at).total_seconds())

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": "operator", "title": self.title, "impact": self.impact,
                "status": self.status, "components": list(self.components), "opened_at": utc_iso(self.opened_at),
                "resolved_at": utc_iso(self.resolved_at) if self.resolved_at else None,
                "updates": [u.to_public() for u in self.updates],
                "postmortem": self.postmortem.to_public() if self.postmortem else None}


@dataclass(frozen=True)
class Announcement:
    message: str
    until: datetime | None
    at: datetime

    def to_public(self) -> dict[str, Any]:
        return {"message": self.message, "until": utc_iso(self.until) if self.until else None, "at": utc_iso(self.at)}


def _occurrence_public(occurrence: Occurrence) -> dict[str, Any]:
    w = occurrence.window
    return {"id": w.id, "title": w.title, "message": w.message, "components": list(w.components),
            "scheduled_for": utc_iso(occurrence.start), "scheduled_until": utc_iso(occurrence.end),
            "recurring": w.recurring}


@dataclass(frozen=True)
class Board:
    read_at: datetime
    incidents: tuple[OperatorIncident, ...] = ()  # open or resolved within KEPT, newest first
    auto_updates: Mapping[int, tuple[Update, ...]] = field(default_factory=dict)  # by automatic incident id
    postmortems: Mapping[int, Postmortem] = field(default_factory=dict)  # of automatic incidents
    windows: tuple[Window, ...] = ()
    announcement: Announcement | None = None
    maintenance_minutes: Mapping[tuple[str, date], int] = field(default_factory=dict)
    # Decided at read_at:
    in_progress: tuple[Occurrence, ...] = ()
    upcoming: tuple[Occurrence, ...] = ()  # each window's next occurrence within UPCOMING, soonest first
    last_ended: Mapping[str, datetime] = field(default_factory=dict)  # per component, the latest window end

    @property
    def maintenance(self) -> dict[str, Occurrence]:
        """Each component a window in progress covers, with that occurrence (the one ending last)."""
        covered: dict[str, Occurrence] = {}
        for occurrence in sorted(self.in_progress, key=lambda o: o.end):
            for name in occurrence.window.components:
                covered[name] = occurrence
        return covered

    @property
    def open_incidents(self) -> list[OperatorIncident]:
        return [i for i in self.incidents if i.is_open]

    def level(self) -> Overall:
        """The banner level the open incidents' impact asks for."""
        levels = [IMPACT_OVERALL[i.impact] for i in self.open_incidents]
        return max(levels, key=lambda level: level.rank, default=Overall.OPERATIONAL)

    def window_state(self, window: Window) -> str:
        return maintenance.state(window, self.read_at)

    def maintenance_public(self) -> dict[str, Any]:
        return {"in_progress": [_occurrence_public(o) for o in self.in_progress],
                "upcoming": [_occurrence_public(o) for o in self.upcoming]}

    def to_public(self) -> dict[str, Any]:
        """Everything the board shows; equal for equal boards whenever they were read."""
        return {
            "incidents": [i.to_public() for i in self.incidents],
            "auto_updates": {str(k): [u.to_public() for u in v] for k, v in self.auto_updates.items()},
            "postmortems": {str(k): p.to_public() for k, p in self.postmortems.items()},
            "windows": [(w.id, self.window_state(w)) for w in self.windows],
            "maintenance": self.maintenance_public(),
            "announcement": self.announcement.to_public() if self.announcement else None,
            "maintenance_minutes": sorted((c, d.isoformat(), m) for (c, d), m in self.maintenance_minutes.items()),
        }


def build(now: datetime, incidents: list[OperatorIncident], auto_updates: dict[int, tuple[Update, ...]],
          postmortems: dict[int, Postmortem], windows: list[Window], announcement: Announcement | None,
          minutes: dict[tuple[str, date], int]) -> Board:
    """The board as of ``now``: which windows are in progress, which come next, which just ended (pure)."""
    in_progress, upcoming, last_ended = [], [], {}
    windows = [w for w in windows if _computable(w, now)]
    for window in windows:
        occurrence = maintenance.current(window, now)
        if occurrence is not None:
            in_progress.append(occurrence)
        later = maintenance.following(window, now, UPCOMING)
        if later is not None:
            upcoming.append(later)
        for past in maintenance.occurrences(window, now - timedelta(days=1), now):
            if past.end <= now:
                for name in window.components:
                    last_ended[name] = max(last_ended.get(name, past.end), past.end)
    return Board(read_at=now, incidents=tuple(incidents), auto_updates=auto_updates, postmortems=postmortems,
                 windows=tuple(windows), announcement=announcement, maintenance_minutes=minutes,
                 in_progress=tuple(sorted(in_progress, key=lambda o: (o.start, o.window.id))),
                 upcoming=tuple(sorted(upcoming, key=lambda o: (o.start, o.window.id))), last_ended=last_ended)


def _computable(window: Window, now: datetime) -> bool:
    """A stored window whose rule no longer computes (its time zone left the system's tz database)
    is left out, with a warning, rather than stopping the history job that reads it."""
    try:
        maintenance.state(window, now)
    except ValueError as exc:
        log.warning("maintenance %s left out: %s", window.id, exc)
        return False
    return True


def read(conn: psycopg.Connection, now: datetime) -> Board:
    """Every process, in the history job: the operators' data as of ``now``, in one transaction."""
    params = {"now": now, "since": now - KEPT}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql("operators_incidents_read"), params).fetchall()
        updates: dict[int, list[Update]] = {}
        for r in cur.execute(sql("operators_updates_read"), params):
            updates.setdefault(r["incident_id"], []).append(Update(**r))
        postmortems = {r["incident_id"]: Postmortem(r["message"], r["at"])
                       for r in cur.execute(sql("operators_postmortems_read"), params)}
        windows = [window_from_row(r) for r in
                   cur.execute(sql("operators_maintenances_read"), {"since": now - RECENT}).fetchall()]
        row = cur.execute(sql("operators_announcement_read"), params).fetchone()
        announcement = Announcement(**row) if row else None
        minutes = {(r["component"], r["day"]): r["minutes"]
                   for r in cur.execute(sql("operators_maintenance_minutes_read"), params)}
    incidents = [OperatorIncident(**{**r, "components": tuple(r["components"])},
                                  updates=tuple(updates.pop(r["id"], ())), postmortem=postmortems.pop(r["id"], None))
                 for r in rows]
    return build(now, incidents, {k: tuple(v) for k, v in updates.items()}, postmortems, windows, announcement,
                 minutes)


# --- what visitors see of it ---


def mask(board: Board | None, transitions: Sequence[Transition],
         samples: Mapping[datetime, Mapping[str, str]]) -> tuple[list[Transition], dict[datetime, dict[str, str]]]:
    """What a process kept in memory (``backlog``), as visitors saw it: a change or a minute of a
    component inside a window covering it is ``maintenance``, so history never opens an incident for
    it nor counts it as down."""
    covered = board.maintenance if board is not None else {}

    def state(name: str, at: datetime, raw: str) -> str:
        occurrence = covered.get(name)
        return MAINTENANCE if occurrence is not None and occurrence.covers(at) else raw

    shown_transitions = [dataclasses.replace(t, to_state=state(t.component, t.at, t.to_state)) for t in transitions]
    shown_samples = {minute: {name: state(name, minute, raw) for name, raw in states.items()}
                     for minute, states in samples.items()}
    return shown_transitions, shown_samples


def shown(components: Mapping[str, Component], board: Board | None) -> dict[str, Component]:
    """The components as the page shows them: under maintenance while a window covers them; after a
    window, in their own state again, since the window's end (the state they are in began then, for
    the page: before, it showed maintenance)."""
    if board is None:
        return dict(components)
    covered, result = board.maintenance, {}
    for name, c in components.items():
        occurrence = covered.get(name)
        if occurrence is not None:
            until = occurrence.end.astimezone(UTC)
            result[name] = dataclasses.replace(
                c, state=MAINTENANCE, since=occurrence.start,
                detail=f"scheduled maintenance until {until:%Y-%m-%d %H:%M} UTC: {occurrence.window.title}")
        elif name in board.last_ended and (c.since is None or c.since < board.last_ended[name]):
            result[name] = dataclasses.replace(c, since=board.last_ended[name])
        else:
            result[name] = c
    return result


def history_public(history: History, board: Board | None) -> dict[str, Any]:
    """/history.json: the history's own JSON with maintenance minutes on every day, the updates and
    postmortems of automatic incidents, and the operator incidents, newest first."""
    public = history.to_public()
    board = board or Board(read_at=history.read_at)
    for name, component in public["components"].items():
        for day in component["days"]:
            day["maintenance_minutes"] = board.maintenance_minutes.get((name, date.fromisoformat(day["day"])), 0)
    for incident in public["incidents"]:
        postmortem = board.postmortems.get(incident["id"])
        incident.update(kind="automatic", updates=[u.to_public() for u in board.auto_updates.get(incident["id"], ())],
                        postmortem=postmortem.to_public() if postmortem else None)
    for incident in board.incidents:
        public["incidents"].append({**incident.to_public(), "duration_s": incident.duration_s(history.read_at)})
    public["incidents"].sort(key=lambda i: (i["opened_at"], i["id"]), reverse=True)
    return public


def status_public(history: History | None, board: Board | None, now: datetime) -> dict[str, Any]:
    """What /status.json adds: every open incident with its updates, maintenance in progress and
    upcoming, and the announcement."""
    board = board or Board(read_at=now)
    open_auto = [i for i in (history.incidents if history else []) if i.resolved_at is None]
    incidents = [{"id": i.id, "kind": "automatic", "title": f"{component_name(i.component)} {i.worst_state}",
                  "impact": STATE_IMPACT.get(i.worst_state, "minor"), "status": _auto_status(board, i.id),
                  "components": [i.component], "opened_at": utc_iso(i.opened_at),
                  "updates": [u.to_public() for u in board.auto_updates.get(i.id, ())]} for i in open_auto]
    for incident in board.open_incidents:
        public = incident.to_public()
        incidents.append({k: public[k] for k in ("id", "kind", "title", "impact", "status", "components",
                                                  "opened_at", "updates")})
    incidents.sort(key=lambda i: (i["opened_at"], i["id"]), reverse=True)
    return {"incidents": incidents, "maintenance": board.maintenance_public(),
            "announcement": board.announcement.to_public() if board.announcement else None}


def page_incidents(history: History | None, board: Board | None, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The incidents the page shows, both kinds alike, newest first: ``open`` ones at the top with
    their timelines; ``listed`` in the history section (automatic ones of the last 90 days, as
    before, and operator ones resolved in the last 14 days), at most 20."""
    board = board or Board(read_at=now)
    automatic = []
    for i in history.incidents if history else []:
        postmortem = board.postmortems.get(i.id)
        automatic.append({
            "id": i.id, "anchor": i.anchor, "kind": "automatic",
            "title": f"{component_name(i.component)} {i.worst_state}",
            "impact": STATE_IMPACT.get(i.worst_state, "minor"),
            "status": "resolved" if i.resolved_at else _auto_status(board, i.id), "components": [i.component],
            "opened_at": i.opened_at, "resolved_at": i.resolved_at, "duration_s": i.duration_s(history.read_at),
            "updates": board.auto_updates.get(i.id, ()), "postmortem": postmortem, "component": i.component,
            "worst_state": i.worst_state, "detail": i.detail})
    operator = [{"id": i.id, "anchor": f"notice-{i.id}", "kind": "operator", "title": i.title, "impact": i.impact,
                 "status": i.status,
                 "components": list(i.components), "opened_at": i.opened_at, "resolved_at": i.resolved_at,
                 "duration_s": i.duration_s(board.read_at), "updates": i.updates, "postmortem": i.postmortem}
                for i in board.incidents]

    def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda i: (i["opened_at"], i["id"] or 0), reverse=True)  # id: None until written

    recent = board.read_at - RECENT
    return {"open": newest_first([i for i in automatic + operator if i["resolved_at"] is None]),
            "listed": newest_first(automatic + [i for i in operator if i["resolved_at"] and i["resolved_at"] > recent])
            [:20]}


def _auto_status(board: Board, incident_id: int) -> str:
    """An open automatic incident is investigating until an operator's update says more."""
    updates = board.auto_updates.get(incident_id, ())
    return updates[-1].status if updates else "investigating"


# --- the history leader's part ---


def record(conn: psycopg.Connection, board: Board, now: datetime, me: str, lookback: timedelta) -> None:
    """Record each occurrence's start and end once (within ``lookback``), and maintenance minutes."""
    with conn.transaction():
        for window in board.windows:
            for occurrence in maintenance.occurrences(window, now - lookback, now + timedelta(seconds=1)):
                events = [("maintenance.started", occurrence.start)]
                if occurrence.end <= now:
                    events.append(("maintenance.completed", occurrence.end))
                for event, at in events:
                    if at <= now:
                        conn.execute(sql("operators_maintenance_event"), {
                            "maintenance_id": window.id, "occurrence": occurrence.start, "event": event, "at": at,
                            "ends_at": occurrence.end, "recorded_by": me})
        conn.execute(sql("operators_maintenance_rollup"), {"since": now - timedelta(days=1)})


def enqueue(conn: psycopg.Connection, urls: list[str], now: datetime, retry_for_s: float) -> None:
    """Outbox rows for every operator event young enough (incident updates, maintenance starts and
    ends), once per receiver: sent at once, no flap damping (an operator meant them)."""
    if not urls:
        return
    receivers = [receiver_id(u) for u in urls]
    params = {"now": now, "retry_s": retry_for_s}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        updates = cur.execute(sql("operators_notify_updates"), params).fetchall()
        events = cur.execute(sql("operators_notify_maintenance"), params).fetchall()
        for u in updates:
            if u["automatic"]:
                title = f"{component_name(u['component'])} {u['worst_state']}"
                impact, names = STATE_IMPACT.get(u["worst_state"], "minor"), [u["component"]]
            elif u["title"] is not None:
                title, impact, names = u["title"], u["impact"], list(u["components"])
            else:
                continue  # its incident is gone: nothing to say about it
            payload = {"event": u["event"], "source": "operator", "incident_id": u["incident_id"], "title": title,
                       "impact": impact, "status": u["status"], "components": names, "message": u["message"],
                       "at": utc_iso(u["at"])}
            cur.execute(sql("operators_notify_insert"), {
                "key": f"update:{u['id']}", "incident_id": u["incident_id"] if u["automatic"] else None,
                "event": u["event"], "payload": Jsonb(payload), **params, "receivers": receivers})
        for e in events:
            payload = {"event": e["event"], "source": "operator", "maintenance_id": e["maintenance_id"],
                       "title": e["title"], "components": list(e["components"]), "message": e["message"],
                       "scheduled_for": utc_iso(e["occurrence"]), "scheduled_until": utc_iso(e["ends_at"]),
                       "at": utc_iso(e["at"])}
            cur.execute(sql("operators_notify_insert"), {
                "key": f"maintenance:{e['id']}", "incident_id": None, "event": e["event"], "payload": Jsonb(payload),
                **params, "receivers": receivers})
