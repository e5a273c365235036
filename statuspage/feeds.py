"""Feeds and badges: the history as Atom, a state as a small SVG. Pure functions of data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from .snapshot import utc_iso

if TYPE_CHECKING:  # history formats its durations with this module's duration()
    from .history import History

ATOM = "http://www.w3.org/2005/Atom"
COMPONENT_NAMES = {"engine": "Trading engine", "metrics": "Engine metrics", "database": "Database",
                   "snapshot": "Data snapshot"}


def duration(seconds: int) -> str:
    """"45 s", "12 min", "3 h 5 min", "2 d 4 h": rounded to the nearest unit shown, halves up
    (119 s is "2 min", 89 s "1 min"), never cut down. The one wording of a duration on the page, in
    the feed and in notifications."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod((seconds + 1800) // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def atom(history: History | None, page_url: str, feed_url: str, now: datetime) -> bytes:
    """An Atom feed (RFC 4287) of incidents, newest first."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    incidents = history.incidents if history else []
    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", feed_url)
    sub(feed, "title", "Trading engine status: incidents")
    updated = max([i.resolved_at or i.opened_at for i in incidents], default=history.began if history else None)
    sub(feed, "updated", utc_iso(updated or now))
    sub(sub(feed, "author"), "name", "statuspage")
    sub(feed, "link", href=page_url, rel="alternate", type="text/html")
    sub(feed, "link", href=feed_url, rel="self", type="application/atom+xml")
    for incident in incidents:
        name = COMPONENT_NAMES.get(incident.component, incident.component)
        entry = sub(feed, "entry")
        sub(entry, "id", f"{feed_url}#{incident.anchor}")
        if incident.resolved_at:
            title = f"{name} {incident.worst_state}, resolved after {duration(incident.duration_s(now))}"
        else:
            title = f"{name} {incident.worst_state} (ongoing)"
        sub(entry, "title", title)
        sub(entry, "updated", utc_iso(incident.resolved_at or incident.opened_at))
        sub(entry, "published", utc_iso(incident.opened_at))
        sub(entry, "link", href=page_url, rel="alternate", type="text/html")
        summary = f"{name} was {incident.worst_state} from {utc_iso(incident.opened_at)}"
        if incident.resolved_at:
            summary += f" to {utc_iso(incident.resolved_at)}."
        else:
            summary += f", ongoing for {duration(incident.duration_s(now))}."
        sub(entry, "summary", f"{summary} {incident.detail}".strip())
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


BADGE_COLOURS = {"operational": "#1a7f37", "degraded": "#9a6700", "partial outage": "#bc4c00",
                 "down": "#cf222e", "major outage": "#cf222e", "unknown": "#59636e"}


def text_width(text: str) -> int:
    """Approximate width in px of ``text`` at 11 px Verdana (badges size themselves to it)."""
    return sum(8 if c in "mwMW" else 4 if c in "ilj.:, " else 7 for c in text) + 10
