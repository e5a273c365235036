"""A Statuspage-compatible public API (``/api/v2/…``): the field names and values of the public
Statuspage v2 API, so that widgets, dashboards and clients written for hosted status pages read this
page unchanged. Built, like every public answer, from memory into cached bytes with an ETag; GET
only, and ``Access-Control-Allow-Origin: *`` on these endpoints alone (they are meant to be read
from other sites' scripts).

How this page's words map to Statuspage's (also in docs/api.md, "Statuspage-compatible API"):
component ``operational``/``degraded``/``down``/``maintenance`` are ``operational``/
``degraded_performance``/``major_outage``/``under_maintenance``, and an ``unknown`` component is left
out (nothing is known to report); the overall level ``operational``/``degraded``/``partial outage``/
``major outage``/``maintenance`` is the indicator ``none``/``minor``/``major``/``critical``/``maintenance``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app

from .. import maintenance
from ..board import STATE_IMPACT, Board, OperatorIncident, Update
from ..formatting import utc_iso, utcnow
from ..history import History, Incident
from ..maintenance import Occurrence, Window
from ..state import Runtime
from ..status import Component
from ..vocabulary import COMPONENTS, Overall, component_name
from .caching import CachePolicy
from .responses import ResponseCache, send

bp = Blueprint("api_v2", __name__, url_prefix="/api/v2")

PAGE_ID = "tradingengine"
PAGE_NAME = "Trading engine status"
INDICATORS = {Overall.OPERATIONAL: ("none", "All Systems Operational"),
              Overall.DEGRADED: ("minor", "Minor Service Outage"),
              Overall.PARTIAL_OUTAGE: ("major", "Partial System Outage"),
              Overall.MAJOR_OUTAGE: ("critical", "Major System Outage"),
              Overall.MAINTENANCE: ("maintenance", "Service Under Maintenance")}
COMPONENT_STATUS = {"operational": "operational", "degraded": "degraded_performance", "down": "major_outage",
                    "maintenance": "under_maintenance"}  # unknown: left out
RECENT_LIMIT = 50  # incidents.json and scheduled-maintenances.json: the 50 most recent, as Statuspage
FAR = timedelta(days=366)  # how far ahead a recurring window's next occurrence is looked for


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment else None


class Summary:
    """Everything the v2 endpoints say, computed once from one moment of the process's state (pure)."""

    def __init__(self, components: dict[str, Component], overall: Overall, history: History | None,
                 board: Board | None, page_url: str, now: datetime) -> None:
        self.components, self.overall, self.history = components, overall, history
        self.board = board or Board(read_at=now)
        self.page_url = page_url.rstrip("/")
        self.created_at = (history.began if history and history.began else None)

    # --- page, status, components ---

    def updated_at(self) -> datetime | None:
        """The latest change of anything shown; equal for equal data, whichever process answers."""
        moments = [c.since for c in self.components.values() if c.since]
        moments += [i.updated_at for i in self.board.incidents]
        moments += [u.at for us in self.board.auto_updates.values() for u in us]
        moments += [i.resolved_at or i.opened_at for i in (self.history.incidents if self.history else [])]
        moments += [w.cancelled_at or w.created_at for w in self.board.windows]
        moments += [self.board.announcement.at] if self.board.announcement else []
        return max(moments, default=None)

    def page(self) -> dict[str, Any]:
        return {"id": PAGE_ID, "name": PAGE_NAME, "url": self.page_url or "/", "time_zone": "Etc/UTC",
                "updated_at": _iso(self.updated_at())}

    def status(self) -> dict[str, str]:
        indicator, description = INDICATORS[self.overall]
        return {"indicator": indicator, "description": description}

    def component(self, c: Component) -> dict[str, Any]:
        return {"id": c.name, "name": component_name(c.name), "status": COMPONENT_STATUS[c.state],
                "created_at": _iso(self.created_at or c.since), "updated_at": _iso(c.since),
                "position": COMPONENTS.index(c.name) + 1, "description": None, "showcase": True,
                "start_date": None, "group_id": None, "page_id": PAGE_ID, "group": False,
                "only_show_if_degraded": False}

    def component_list(self, names: list[str] | tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        return [self.component(c) for name, c in self.components.items()
                if c.state in COMPONENT_STATUS and (names is None or name in names)]

    # --- incidents ---

    def _update(self, incident_id: str, update_id: str, status: str, body: str, at: datetime) -> dict[str, Any]:
        return {"id": update_id, "status": status, "body": body, "incident_id": incident_id,
                "created_at": _iso(at), "updated_at": _iso(at), "display_at": _iso(at),
                "affected_components": None}

    def _incident(self, incident_id: int, name: str, status: str, impact: str, opened_at: datetime,
                  resolved_at: datetime | None, updates: list[dict[str, Any]], names: list[str],
                  postmortem: bool) -> dict[str, Any]:
        updates.sort(key=lambda u: (u["created_at"], u["id"]), reverse=True)  # newest first, as Statuspage
        monitoring = [u["created_at"] for u in updates if u["status"] == "monitoring"]
        return {"id": str(incident_id), "name": name,
                "status": "postmortem" if postmortem and resolved_at else status,
                "created_at": _iso(opened_at), "updated_at": updates[0]["created_at"] if updates else _iso(opened_at),
                "monitoring_at": min(monitoring) if monitoring else None, "resolved_at": _iso(resolved_at),
                "impact": impact, "shortlink": f"{self.page_url}/#incident-{incident_id}",
                "started_at": _iso(opened_at), "page_id": PAGE_ID, "incident_updates": updates,
                "components": self.component_list(names)}

    def _operator(self, i: OperatorIncident) -> dict[str, Any]:
        key = str(i.id)
        updates = [self._update(key, str(u.id), u.status, u.message, u.at) for u in i.updates]
        return self._incident(i.id, i.title, i.status, i.impact, i.opened_at, i.resolved_at, updates,
                              list(i.components), i.postmortem is not None)

    def _automatic(self, i: Incident) -> dict[str, Any]:
        key, name = str(i.id), component_name(i.component)
        operator: tuple[Update, ...] = self.board.auto_updates.get(i.id, ())
        updates = [self._update(key, f"{key}-detected", "investigating", i.detail or f"{name} is {i.worst_state}",
                                i.opened_at)]
        updates += [self._update(key, str(u.id), u.status, u.message, u.at) for u in operator]
        if i.resolved_at:
            updates.append(self._update(key, f"{key}-resolved", "resolved", f"{name} is operational again.",
                                        i.resolved_at))
        status = "resolved" if i.resolved_at else operator[-1].status if operator else "investigating"
        return self._incident(i.id, f"{name} {i.worst_state}", status, STATE_IMPACT.get(i.worst_state, "minor"),
                              i.opened_at, i.resolved_at, updates, [i.component], i.id in self.board.postmortems)

    def incidents(self) -> list[dict[str, Any]]:
        """Both kinds, newest first, the 50 most recent."""
        found = [self._operator(i) for i in self.board.incidents]
        found += [self._automatic(i) for i in (self.history.incidents if self.history else [])]
        found.sort(key=lambda i: (i["created_at"], int(i["id"])), reverse=True)
        return found[:RECENT_LIMIT]

    def unresolved(self) -> list[dict[str, Any]]:
        return [i for i in self.incidents() if i["resolved_at"] is None]

    # --- scheduled maintenances ---

    def _occurrence(self, window: Window, now: datetime) -> tuple[str, Occurrence] | None:
        """The occurrence a window is about now: in progress, else the next one, else (one-off) the
        one that happened; None for a cancelled window or a recurring one with no next occurrence."""
        state = maintenance.state(window, now)
        if state == maintenance.IN_PROGRESS:
            occurrence = maintenance.current(window, now)
        elif state == maintenance.SCHEDULED:
            occurrence = maintenance.following(window, now, FAR)
        elif state == maintenance.COMPLETED and not window.recurring:
            assert window.starts_at is not None and window.ends_at is not None
            end = min(window.ends_at, window.cancelled_at or window.ends_at)
            occurrence = Occurrence(window, window.starts_at, end)
        else:
            occurrence = None
        return (state, occurrence) if occurrence is not None else None

    def maintenances(self) -> list[dict[str, Any]]:
        """Every window about to happen, happening or recently over, newest scheduled first."""
        now, found = self.board.read_at, []
        for window in self.board.windows:
            known = self._occurrence(window, now)
            if known is None:
                continue
            state, occurrence = known
            key = f"m{window.id}-{int(occurrence.start.timestamp())}"
            created = window.created_at
            updates = [self._update(key, f"{key}-scheduled", "scheduled", window.message or window.title, created)]
            if occurrence.start <= now:
                updates.append(self._update(key, f"{key}-in_progress", "in_progress",
                                            f"Maintenance in progress: {window.title}", occurrence.start))
            if state == maintenance.COMPLETED:
                updates.append(self._update(key, f"{key}-completed", "completed",
                                            f"Maintenance completed: {window.title}", occurrence.end))
            updates.sort(key=lambda u: (u["created_at"], u["id"]), reverse=True)
            found.append({
                "id": key, "name": window.title, "status": state,
                "created_at": _iso(created), "updated_at": updates[0]["created_at"], "monitoring_at": None,
                "resolved_at": _iso(occurrence.end) if state == maintenance.COMPLETED else None,
                "impact": "maintenance", "shortlink": f"{self.page_url}/#maintenance-{window.id}",
                "started_at": _iso(occurrence.start), "page_id": PAGE_ID, "incident_updates": updates,
                "components": self.component_list(list(window.components)),
                "scheduled_for": _iso(occurrence.start), "scheduled_until": _iso(occurrence.end)})
        found.sort(key=lambda m: (m["scheduled_for"], m["id"]), reverse=True)
        return found[:RECENT_LIMIT]

    def of_state(self, *states: str) -> list[dict[str, Any]]:
        return [m for m in self.maintenances() if m["status"] in states]


# What each endpoint answers, from a Summary: path below /api/v2 -> body.
ENDPOINTS: dict[str, Callable[[Summary], dict[str, Any]]] = {
    "status.json": lambda s: {"page": s.page(), "status": s.status()},
    "summary.json": lambda s: {"page": s.page(), "status": s.status(), "components": s.component_list(),
                               "incidents": s.unresolved(),
                               "scheduled_maintenances": s.of_state(maintenance.IN_PROGRESS, maintenance.SCHEDULED)},
    "components.json": lambda s: {"page": s.page(), "components": s.component_list()},
    "incidents.json": lambda s: {"page": s.page(), "incidents": s.incidents()},
    "incidents/unresolved.json": lambda s: {"page": s.page(), "incidents": s.unresolved()},
    "scheduled-maintenances.json": lambda s: {"page": s.page(), "scheduled_maintenances": s.maintenances()},
    "scheduled-maintenances/upcoming.json": lambda s: {"page": s.page(),
                                                       "scheduled_maintenances": s.of_state(maintenance.SCHEDULED)},
    "scheduled-maintenances/active.json": lambda s: {"page": s.page(),
                                                     "scheduled_maintenances": s.of_state(maintenance.IN_PROGRESS)},
}


def _rt() -> Runtime:
    return current_app.extensions["statuspage"]


def _answer(name: str) -> Response:
    rt, now = _rt(), utcnow()
    state = rt.state
    # PUBLIC_URL, else links relative to the page ("/", "/#incident-42"): never the request's Host,
    # which a stranger chooses, and which would give every Host its own cache slot.
    page_url = rt.settings.public_url or ""
    key = (state.snapshot_version, state.components_version, state.history_version, state.board_version)
    cache: ResponseCache = current_app.extensions["statuspage.responses"]
    policy: CachePolicy = current_app.extensions["statuspage.cache_policy"]

    def build() -> bytes:
        summary = Summary(state.shown_components(), state.overall(), state.history, state.board, page_url,
                          state.board.read_at if state.board else now.astimezone(UTC))
        return json.dumps(ENDPOINTS[name](summary), separators=(",", ":")).encode()

    response = send(cache.get(f"v2:{name}", key, build), "application/json", policy.api)
    response.headers["Access-Control-Allow-Origin"] = "*"  # these GET endpoints only
    return response


def _register() -> None:
    for name in ENDPOINTS:
        endpoint = name.removesuffix(".json").replace("/", "_").replace("-", "_")
        bp.add_url_rule(f"/{name}", endpoint, lambda name=name: _answer(name), methods=["GET"])


_register()
