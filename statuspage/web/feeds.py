"""Feeds and badges: the history as Atom, a state as a small SVG. Pure functions of data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET

from ..board import Board
from ..formatting import duration, utc_iso
from ..history import History
from ..vocabulary import OPERATOR_LABELS, component_name

ATOM = "http://www.w3.org/2005/Atom"


# Without PUBLIC_URL the feed does not know its own address (a Host header is the visitor's word, not
# ours), so its ids are tag: URIs (RFC 4151): stable at whatever address the feed is read.
TAG_PREFIX = "tag:statuspage,2026:"


@dataclass(frozen=True)
class FeedLinks:
    """Where the feed points and what it calls itself; never taken from a request."""

    page: str  # alternate link of the feed and of every entry
    feed: str  # self link
    id: str  # the feed's id
    entry_prefix: str  # an entry's id is this and the incident's anchor

    @classmethod
    def of(cls, public_url: str | None) -> FeedLinks:
        """Absolute under PUBLIC_URL; relative references otherwise, which a reader resolves
        against the address it fetched the feed from (RFC 4287 section 1.2, RFC 3986 section 5)."""
        if public_url:
            feed = public_url + ("" if public_url.endswith("/") else "/") + "history.atom"
            return cls(page=public_url, feed=feed, id=feed, entry_prefix=f"{feed}#")
        return cls(page="./", feed="history.atom", id=f"{TAG_PREFIX}history.atom",
                   entry_prefix=TAG_PREFIX)


def atom(history: History | None, links: FeedLinks, now: datetime, board: Board | None = None) -> bytes:
    """An Atom feed (RFC 4287) of incidents, newest first, and an entry per operator update."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    incidents = history.incidents if history else []
    titles = {i.id: f"{component_name(i.component)} {i.worst_state}" for i in incidents}
    updates = []  # (incident title, update), each an entry of its own
    if board is not None:
        titles.update({i.id: i.title for i in board.incidents})
        updates = [(titles[u.incident_id], u) for i in board.incidents for u in i.updates]
        updates += [(titles[k], u) for k, us in board.auto_updates.items() if k in titles for u in us]
    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", links.id)
    sub(feed, "title", "Trading engine status: incidents")
    updated = max([i.resolved_at or i.opened_at for i in incidents] + [u.at for _, u in updates],
                  default=history.began if history else None)
    sub(feed, "updated", utc_iso(updated or now))
    sub(sub(feed, "author"), "name", "statuspage")
    sub(feed, "link", href=links.page, rel="alternate", type="text/html")
    sub(feed, "link", href=links.feed, rel="self", type="application/atom+xml")
    for incident in incidents:
        name = component_name(incident.component)
        entry = sub(feed, "entry")
        sub(entry, "id", f"{links.entry_prefix}{incident.anchor}")
        if incident.resolved_at:
            title = f"{name} {incident.worst_state}, resolved after {duration(incident.duration_s(now))}"
        else:
            title = f"{name} {incident.worst_state} (ongoing)"
        sub(entry, "title", title)
        sub(entry, "updated", utc_iso(incident.resolved_at or incident.opened_at))
        sub(entry, "published", utc_iso(incident.opened_at))
        sub(entry, "link", href=links.page, rel="alternate", type="text/html")
        summary = f"{name} was {incident.worst_state} from {utc_iso(incident.opened_at)}"
        if incident.resolved_at:
            summary += f" to {utc_iso(incident.resolved_at)}."
        else:
            summary += f", ongoing for {duration(incident.duration_s(now))}."
        sub(entry, "summary", f"{summary} {incident.detail}".strip())
    for title, update in sorted(updates, key=lambda tu: (tu[1].at, tu[1].id), reverse=True):
        entry = sub(feed, "entry")
        sub(entry, "id", f"{links.entry_prefix}update-{update.id}")
        sub(entry, "title", f"{title}: {OPERATOR_LABELS[update.status].lower()}")
        sub(entry, "updated", utc_iso(update.at))
        sub(entry, "published", utc_iso(update.at))
        sub(entry, "link", href=links.page, rel="alternate", type="text/html")
        sub(entry, "summary", update.message)  # text: ElementTree escapes it
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def text_width(text: str) -> int:
    """Approximate width in px of ``text`` at 11 px Verdana (badges size themselves to it)."""
    return sum(8 if c in "mwMW" else 4 if c in "ilj.:, " else 7 for c in text) + 10
