"""What operators write: incidents and their updates, postmortems, maintenance windows and the
announcement. One validation and one write path, used by the CLI (``python -m statuspage incident …``),
the JSON API (``/api/ops/…``) and the operator forms alike.

Validation turns raw input (strings from argv or forms, values from JSON) into clean values or raises
``Invalid`` with one line naming the problem; nothing is written then. Each write is one transaction
on the history database that also records who wrote it, through which door, and when
(``statuspage.operator_log``). Rules that need the database (an unknown incident, an update to a
resolved one) raise ``NotFound`` or ``Conflict`` inside that transaction, which is rolled back.
"""

from __future__ import annotations

import dataclasses
import getpass
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import maintenance
from .db import sql
from .vocabulary import COMPONENTS, IMPACTS, INCIDENT_STATUSES, RESOLVED

MAX_TEXT = 5000
MAX_TITLE = 200
MAX_WINDOW = timedelta(days=31)  # a one-off window longer than this is a typo
MAX_DURATION = timedelta(days=7)
VIAS = ("cli", "api", "form")
# Tab and newline are text; every other control character (NUL above all, which PostgreSQL refuses)
# is not.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class OperatorError(Exception):
    """A refused write: ``str(error)`` is the one line to show, ``status`` the HTTP status."""

    status = 400


class Invalid(OperatorError):
    status = 400


class NotFound(OperatorError):
    status = 404


class Conflict(OperatorError):
    status = 409


@dataclass(frozen=True)
class Author:
    """Who writes: the door (cli, api or form) and who stood at it (a login, a client address)."""

    via: str
    who: str

    @property
    def written_by(self) -> str:
        return f"{self.via}:{self.who}"


def cli_author() -> Author:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = "unknown"
    return Author("cli", f"{user}@{socket.gethostname()}")


# --- validation: raw values in, clean values out (pure) ---


def text(raw: Any, field: str, *, required: bool = True, limit: int = MAX_TEXT, one_line: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be a string")
    value = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not value:
        raise Invalid(f"{field} is empty")
    if len(value) > limit:
        raise Invalid(f"{field} is {len(value):,} characters long; at most {limit:,} are allowed")
    if _CONTROL.search(value) or (one_line and ("\n" in value or "\t" in value)):
        raise Invalid(f"{field} contains control characters" + (" or line breaks" if one_line else ""))
    return value


def choice(raw: Any, field: str, options: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or raw not in options:
        shown = repr(raw) if isinstance(raw, str) else "missing" if raw is None else "not a string"
        raise Invalid(f"{field} {shown} is not one of {', '.join(options)}")
    return raw


def components(raw: Any) -> tuple[str, ...]:
    """One or more known components, each once, in the page's order."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not raw:
        raise Invalid(f"components: name at least one of {', '.join(COMPONENTS)}")
    for name in raw:
        if not isinstance(name, str) or name not in COMPONENTS:
            shown = repr(name) if isinstance(name, str) else "a non-string"
            raise Invalid(f"unknown component {shown}: known components are {', '.join(COMPONENTS)}")
    return tuple(name for name in COMPONENTS if name in raw)


def moment(raw: Any, field: str, now: datetime) -> datetime:
    """ISO 8601 with a zone ("2026-05-01T02:00:00Z", "…+01:00"), or "now"."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(f"{field} is missing: give an ISO 8601 time such as 2026-05-01T02:00:00Z, or now")
    value = raw.strip()
    if value == "now":
        return now
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{field} {value!r} is not an ISO 8601 time such as 2026-05-01T02:00:00Z") from None
    if parsed.tzinfo is None:
        raise Invalid(f"{field} {value!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    return parsed.astimezone(UTC)


def duration_s(raw: Any, field: str = "duration") -> int:
    """"45m", "1h30m", "90s", "2h", "1d"; or a whole number of seconds from JSON."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        seconds = raw
    else:
        match = _DURATION.match(raw.strip()) if isinstance(raw, str) and raw.strip() else None
        if match is None:
            raise Invalid(f"{field} {raw!r} is not a duration such as 45m, 1h30m or 90s")
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if not 60 <= seconds <= MAX_DURATION.total_seconds():
        raise Invalid(f"{field} must be between 1 minute and {MAX_DURATION.days} days")
    return seconds


def only(raw: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse fields nobody reads: a misspelt one would otherwise be silently ignored."""
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}; expected {', '.join(sorted(allowed))}")


@dataclass(frozen=True)
class NewIncident:
    title: str
    impact: str
    components: tuple[str, ...]
    status: str
    message: str


@dataclass(frozen=True)
class NewUpdate:
    status: str
    message: str


@dataclass(frozen=True)
class NewWindow:
    title: str
    components: tuple[str, ...]
    message: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    cron: str | None = None
    duration_s: int | None = None
    timezone: str | None = None


INCIDENT_FIELDS = {"title", "impact", "components", "status", "message"}
UPDATE_FIELDS = {"status", "message"}
POSTMORTEM_FIELDS = {"message"}
WINDOW_FIELDS = {"title", "components", "message", "start", "end", "minutes", "cron", "duration", "timezone"}
ANNOUNCEMENT_FIELDS = {"message", "until"}


def new_incident(raw: Mapping[str, Any]) -> NewIncident:
    only(raw, INCIDENT_FIELDS)
    status = choice(raw.get("status", "investigating"), "status", INCIDENT_STATUSES)
    if status == RESOLVED:
        raise Invalid("status of a new incident cannot be resolved: open it, then resolve it with an update")
    return NewIncident(title=text(raw.get("title"), "title", limit=MAX_TITLE, one_line=True),
                       impact=choice(raw.get("impact"), "impact", IMPACTS),
                       components=components(raw.get("components")), status=status,
                       message=text(raw.get("message"), "message"))


def new_update(raw: Mapping[str, Any]) -> NewUpdate:
    only(raw, UPDATE_FIELDS)
    return NewUpdate(status=choice(raw.get("status"), "status", INCIDENT_STATUSES),
                     message=text(raw.get("message"), "message"))


def postmortem_text(raw: Mapping[str, Any]) -> str:
    only(raw, POSTMORTEM_FIELDS)
    return text(raw.get("message"), "message")


def new_window(raw: Mapping[str, Any], now: datetime) -> NewWindow:
    """A one-off window (start and end, or start and minutes: "for the next N minutes" when start is
    omitted) or a recurring one (cron, duration, timezone); never a mix."""
    only(raw, WINDOW_FIELDS)
    title = text(raw.get("title"), "title", limit=MAX_TITLE, one_line=True)
    names = components(raw.get("components"))
    message = text(raw.get("message"), "message", required=False)
    given = {key for key in WINDOW_FIELDS - {"title", "components", "message"} if raw.get(key) not in (None, "")}
    recurring, one_off = given & {"cron", "duration", "timezone"}, given & {"start", "end", "minutes"}
    if recurring and one_off:
        raise Invalid("give either start and end (or minutes) or cron, duration and timezone, not both")
    if recurring:
        missing = sorted({"cron", "duration", "timezone"} - recurring)
        if missing:
            raise Invalid(f"a recurring window needs cron, duration and timezone; {missing[0]} is missing")
        cron = text(raw["cron"], "cron", limit=200, one_line=True)
        seconds = duration_s(raw["duration"])
        timezone = text(raw["timezone"], "timezone", limit=100, one_line=True)
        try:
            maintenance.check_recurring(cron, seconds, timezone, now)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        return NewWindow(title, names, message, cron=cron, duration_s=seconds, timezone=timezone)
    if "end" in given and "minutes" in given:
        raise Invalid("give end or minutes, not both")
    start = moment(raw["start"] if "start" in given else "now", "start", now)
    if "minutes" in given:
        minutes = raw["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise Invalid("minutes must be a whole number")
        end = start + timedelta(seconds=duration_s(minutes * 60, "minutes"))
    elif "end" in given:
        end = moment(raw["end"], "end", now)
    else:
        raise Invalid("a window needs an end (or minutes), or cron, duration and timezone")
    if end <= start:
        raise Invalid(f"end {end:%Y-%m-%dT%H:%M:%SZ} is not after start {start:%Y-%m-%dT%H:%M:%SZ}")
    if end <= now:
        raise Invalid(f"end {end:%Y-%m-%dT%H:%M:%SZ} is in the past: the window would never be seen")
    if end - start > MAX_WINDOW:
        raise Invalid(f"a one-off window may last at most {MAX_WINDOW.days} days")
    return NewWindow(title, names, message, starts_at=start, ends_at=end)


def new_announcement(raw: Mapping[str, Any], now: datetime) -> tuple[str, datetime | None]:
    only(raw, ANNOUNCEMENT_FIELDS)
    message = text(raw.get("message"), "message")
    until = None if raw.get("until") in (None, "") else moment(raw.get("until"), "until", now)
    if until is not None and until <= now:
        raise Invalid(f"until {until:%Y-%m-%dT%H:%M:%SZ} is in the past")
    return message, until


# --- the write path: one transaction per write, logged with its author ---


def connect(dsn: str, connect_kwargs: dict[str, Any]) -> psycopg.Connection:
    """A read-write connection to the history database, for one write."""
    return psycopg.connect(dsn, **{**connect_kwargs, "autocommit": True})


def _log(conn: psycopg.Connection, author: Author, action: str, subject: int | None, now: datetime,
         **detail: Any) -> None:
    conn.execute(sql("operators_log"), {"at": now, "via": author.via, "who": author.who, "action": action,
                                        "subject": subject, "detail": Jsonb(detail)})


def open_incident(conn: psycopg.Connection, new: NewIncident, now: datetime, author: Author) -> int:
    """A new operator incident with its first update; returns its id."""
    with conn.transaction():
        incident_id = conn.execute(sql("operators_incident_insert"), {
            "title": new.title, "impact": new.impact, "components": list(new.components), "status": new.status,
            "at": now, "written_by": author.written_by}).fetchone()[0]
        conn.execute(sql("operators_update_insert"), {
            "incident_id": incident_id, "event": "incident.opened", "status": new.status, "message": new.message,
            "at": now, "written_by": author.written_by})
        _log(conn, author, "incident.open", incident_id, now, title=new.title, impact=new.impact)
    return incident_id


def update_incident(conn: psycopg.Connection, incident_id: int, new: NewUpdate, now: datetime,
                    author: Author) -> int:
    """An update on an operator incident (its status follows; resolved closes it) or on an automatic
    one (which keeps its own open and resolve); returns the update's id."""
    with conn.transaction():
        operator = conn.execute(sql("operators_incident_lock"), {"id": incident_id}).fetchone()
        if operator is not None:
            if operator[2] is not None:
                raise Conflict(f"incident {incident_id} is resolved: it takes no more updates")
            conn.execute(sql("operators_incident_status"), {"id": incident_id, "status": new.status, "at": now})
        else:
            automatic = conn.execute(sql("operators_auto_incident_lock"), {"id": incident_id}).fetchone()
            if automatic is None:
                raise NotFound(f"incident {incident_id} does not exist")
            if automatic[1] is not None:
                raise Conflict(f"incident {incident_id} is resolved: it takes no more updates")
            if new.status == RESOLVED:
                raise Conflict(f"incident {incident_id} is automatic: it resolves when its component "
                               "recovers, not by an update")
        event = "incident.resolved" if new.status == RESOLVED else "incident.updated"
        update_id = conn.execute(sql("operators_update_insert"), {
            "incident_id": incident_id, "event": event, "status": new.status, "message": new.message, "at": now,
            "written_by": author.written_by}).fetchone()[0]
        _log(conn, author, "incident.update", incident_id, now, status=new.status, update=update_id)
    return update_id


def add_postmortem(conn: psycopg.Connection, incident_id: int, message: str, now: datetime, author: Author) -> None:
    """A postmortem on a resolved incident of either kind; a second one replaces the first."""
    with conn.transaction():
        operator = conn.execute(sql("operators_incident_lock"), {"id": incident_id}).fetchone()
        row = operator if operator is not None else conn.execute(sql("operators_auto_incident_lock"),
                                                                 {"id": incident_id}).fetchone()
        if row is None:
            raise NotFound(f"incident {incident_id} does not exist")
        if row[-1] is None:  # resolved_at
            raise Conflict(f"incident {incident_id} is not resolved yet: a postmortem follows the resolution")
        conn.execute(sql("operators_postmortem"), {"incident_id": incident_id, "message": message, "at": now,
                                                   "written_by": author.written_by})
        _log(conn, author, "incident.postmortem", incident_id, now)


def schedule(conn: psycopg.Connection, new: NewWindow, now: datetime, author: Author) -> int:
    """A new maintenance window; returns its id."""
    with conn.transaction():
        window_id = conn.execute(sql("operators_maintenance_insert"), {
            "title": new.title, "message": new.message, "components": list(new.components),
            "starts_at": new.starts_at, "ends_at": new.ends_at, "cron": new.cron, "duration_s": new.duration_s,
            "timezone": new.timezone, "at": now, "written_by": author.written_by}).fetchone()[0]
        _log(conn, author, "maintenance.schedule", window_id, now, title=new.title,
             components=list(new.components))
    return window_id


def window_from_row(row: Mapping[str, Any]) -> maintenance.Window:
    return maintenance.Window(
        id=row["id"], title=row["title"], message=row["message"], components=tuple(row["components"]),
        created_at=row["created_at"], starts_at=row["starts_at"], ends_at=row["ends_at"], cron=row["cron"],
        duration_s=row["duration_s"], timezone=row["timezone"], cancelled_at=row["cancelled_at"])


def cancel(conn: psycopg.Connection, window_id: int, now: datetime, author: Author) -> str:
    """Cancel a window: one not yet begun never happens; one in progress ends now. Returns its
    state afterwards (cancelled or completed)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql("operators_maintenance_lock"), {"id": window_id}).fetchone()
        if row is None:
            raise NotFound(f"maintenance {window_id} does not exist")
        window = window_from_row(row)
        before = maintenance.state(window, now)
        if before in (maintenance.COMPLETED, maintenance.CANCELLED):
            raise Conflict(f"maintenance {window_id} is already {before}")
        cur.execute(sql("operators_maintenance_cancel"), {"id": window_id, "at": now})
        _log(conn, author, "maintenance.cancel", window_id, now, was=before)
    # A state at ``now`` itself would still see the occurrence that the cancellation just ended.
    ended = dataclasses.replace(window, cancelled_at=now)
    return maintenance.state(ended, now + timedelta(microseconds=1))


def announce(conn: psycopg.Connection, message: str, until: datetime | None, now: datetime, author: Author) -> None:
    with conn.transaction():
        conn.execute(sql("operators_announce"), {"message": message, "until": until, "at": now,
                                                 "written_by": author.written_by})
        _log(conn, author, "announce", None, now, until=until.isoformat() if until else None)


def clear_announcement(conn: psycopg.Connection, now: datetime, author: Author) -> bool:
    """Remove the announcement; False when there was none (nothing is logged then)."""
    with conn.transaction():
        cleared = conn.execute(sql("operators_announce_clear")).fetchone() is not None
        if cleared:
            _log(conn, author, "announce.clear", None, now)
    return cleared
