"""What visitors see of the operators' word (issue 13): the banner's worst-of, open incidents with their
timelines at the top, maintenance in progress and upcoming, the announcement, recent resolved
incidents in the history section, and the same in /status.json, /history.json and /history.atom.

Writes go through the real write path (``statuspage.operators``) with an explicit ``now``; the app's
own history job reads them at the moment the test says, and the answers come over the app's routes.
The last test runs real gunicorn with two workers and writes with the CLI: every worker shows the new
incident within one PROBE_INTERVAL_S, without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import psycopg
import pytest
from flask import Flask

from statuspage import operators
from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.state import Runtime
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL

from ..helpers.dom import Node, parse
from ..helpers.gunicorn import Gunicorn
from ..helpers.opsdata import cli
from ..helpers.trades import utc
from ..helpers.wait import wait_until

T = utc(2026, 4, 30, 12, 0)
ATOM = "{http://www.w3.org/2005/Atom}"
OPERATOR = operators.Author("cli", "alice@ops-host")
HOSTILE = '<script>alert("x")</script> <b>bold</b>\nSecond line: see https://example.com/status?a=1&b=2.'


@pytest.fixture
def rt(ops_db: psycopg.Connection, make_app: Callable[..., Flask]) -> Runtime:
    """An app whose jobs the test runs: everything operational at T."""
    app = make_app(start_background=False)
    runtime: Runtime = app.extensions["statuspage"]
    runtime.pool.wait(timeout=10)
    refresh_job(runtime, T)
    probe_database_job(runtime, T)
    for name in ("engine", "metrics", "snapshot"):
        runtime.state.observe(name, Observation(OPERATIONAL, f"{name} ok"), T, 1)
    history_job(runtime, T)
    runtime.app = app  # type: ignore[attr-defined]
    return runtime


def page(rt: Runtime) -> Node:
    return parse(rt.app.test_client().get("/").data)  # type: ignore[attr-defined]


def get_json(rt: Runtime, path: str) -> Any:
    return rt.app.test_client().get(path).get_json()  # type: ignore[attr-defined]


def open_incident(conn: psycopg.Connection, now: datetime, impact: str = "major", message: str = "Investigating.",
                  title: str = "Engine flat") -> int:
    return operators.open_incident(conn, operators.NewIncident(title, impact, ("engine",), "investigating", message),
                                   now, OPERATOR)


def update(conn: psycopg.Connection, incident_id: int, status: str, message: str, now: datetime) -> int:
    return operators.update_incident(conn, incident_id, operators.NewUpdate(status, message), now, OPERATOR)


def test_an_open_incident_is_at_the_top_with_its_timeline_newest_first_and_its_text_as_text(
        rt: Runtime, ops_db: psycopg.Connection) -> None:
    incident_id = open_incident(ops_db, T + timedelta(minutes=1), message=HOSTILE)
    update(ops_db, incident_id, "identified", "Cause found.", T + timedelta(minutes=9))
    history_job(rt, T + timedelta(minutes=10))

    doc = page(rt)
    card = doc.by_id(f"open-notice-{incident_id}")  # an operator incident's anchor
    assert card.find("h3").text == "Engine flat"
    assert card.attrs["data-status"] == "identified"
    entries = card.find_all("li", cls="timeline__item")
    assert [e.find(cls="timeline__status").text for e in entries] == ["Identified", "Investigating"]
    assert [e.find("time").attrs["datetime"] for e in entries] == ["2026-04-30T12:09:00Z", "2026-04-30T12:01:00Z"]
    hostile = entries[1].find("p", cls="message")
    # markup shows as its characters, line break kept, the link is the one element and it is http(s) only
    assert hostile.text == HOSTILE.replace("\n", " ")
    assert "\n" in "".join(c for c in hostile.children if isinstance(c, str))
    assert [(a.tag, a.attrs["href"], a.attrs["rel"]) for a in hostile.iter()] == [
        ("a", "https://example.com/status?a=1&b=2", "nofollow noopener noreferrer")]
    assert doc.find_all("script", src=None) == []  # the page's own scripts all have a src
    html = rt.app.test_client().get("/").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


@pytest.mark.parametrize(("impact", "headline", "overall"), [
    ("none", "All systems operational", "operational"), ("minor", "Degraded performance", "degraded"),
    ("major", "Partial outage", "partial outage"), ("critical", "Major outage", "major outage")])
def test_the_banner_is_the_worst_of_the_components_and_the_open_incidents_impact(
        rt: Runtime, ops_db: psycopg.Connection, impact: str, headline: str, overall: str) -> None:
    incident_id = open_incident(ops_db, T + timedelta(minutes=1), impact=impact)
    history_job(rt, T + timedelta(minutes=2))
    banner = page(rt).by_id("banner")
    assert banner.find(cls="banner__headline").text == headline
    assert banner.find(cls="banner").attrs["data-overall"] == overall
    assert banner.find(cls="banner__incidents").text == "1 open incident: Engine flat"
    assert get_json(rt, "/status.json")["status"] == overall

    # a component worse than the incident's impact wins
    rt.state.observe("database", Observation(DOWN, "database down"), T + timedelta(minutes=3), 1)
    expected = "major outage" if impact == "critical" else "partial outage"
    assert get_json(rt, "/status.json")["status"] == expected

    update(ops_db, incident_id, "resolved", "Fixed.", T + timedelta(minutes=4))
    rt.state.observe("database", Observation(OPERATIONAL, "database ok"), T + timedelta(minutes=4), 1)
    history_job(rt, T + timedelta(minutes=5))
    assert get_json(rt, "/status.json")["status"] == "operational"
    assert page(rt).by_id("banner").find(cls="banner__incidents") is None


def test_resolved_incidents_of_the_last_14_days_are_in_the_history_section_with_their_updates(
        rt: Runtime, ops_db: psycopg.Connection) -> None:
    old = open_incident(ops_db, T - timedelta(days=20), title="Old one")
    update(ops_db, old, "resolved", "Done long ago.", T - timedelta(days=20) + timedelta(hours=1))
    recent = open_incident(ops_db, T - timedelta(days=3), title="Recent one", impact="minor")
    update(ops_db, recent, "monitoring", "A fix is out.", T - timedelta(days=3) + timedelta(minutes=30))
    update(ops_db, recent, "resolved", "All good.", T - timedelta(days=3) + timedelta(hours=2))
    operators.add_postmortem(ops_db, recent, "What happened, and what changes.", T - timedelta(days=2), OPERATOR)
    history_job(rt, T)

    doc = page(rt)
    listed = [li for li in doc.find_all("li", cls="incident") if li.attrs.get("data-kind") == "operator"]
    assert [li.attrs["id"] for li in listed] == [f"notice-{recent}"]
    item = listed[0]
    assert item.find(cls="incident__what").text == "Recent one Minor impact"
    assert "(2 h)" in item.find(cls="incident__when").text
    assert [e.find(cls="timeline__status").text for e in item.find_all("li", cls="timeline__item")] == [
        "Resolved", "Monitoring", "Investigating"]
    assert item.find("details", cls="postmortem").find("p").text == "What happened, and what changes."
    assert doc.find_all(cls="open-incidents") == []  # nothing open: nothing at the top

    # /history.json keeps both (90 days, like the automatic ones), newest first, with their updates
    incidents = [i for i in get_json(rt, "/history.json")["incidents"] if i["kind"] == "operator"]
    assert [(i["id"], i["status"], i["duration_s"]) for i in incidents] == [(recent, "resolved", 7200),
                                                                            (old, "resolved", 3600)]
    assert [u["message"] for u in incidents[0]["updates"]] == ["Investigating.", "A fix is out.", "All good."]
    assert incidents[0]["postmortem"] == {"message": "What happened, and what changes.",
                                          "at": "2026-04-28T12:00:00Z"}


def test_an_update_to_an_automatic_incident_shows_on_its_timeline_and_in_the_feeds(
        rt: Runtime, ops_db: psycopg.Connection) -> None:
    rt.state.observe("database", Observation(DOWN, "database is not reachable"), T + timedelta(minutes=1), 1)
    history_job(rt, T + timedelta(minutes=1))
    auto_id, key = ops_db.execute("SELECT id, alert_key FROM statuspage.incidents").fetchone()
    update(ops_db, auto_id, "identified", "Failover to the replica in progress.", T + timedelta(minutes=4))
    history_job(rt, T + timedelta(minutes=5))

    card = page(rt).by_id(f"open-incident-{key}")  # an automatic incident's anchor: its alert key
    assert card.attrs["data-kind"] == "automatic" and card.find("h3").text == "Database down"
    assert [(e.find(cls="timeline__status").text, e.find("p").text) for e in card.find_all("li")] == [
        ("Identified", "Failover to the replica in progress."), ("Detected", "database is not reachable")]

    status = get_json(rt, "/status.json")
    assert [(i["id"], i["kind"], i["status"], [u["message"] for u in i["updates"]]) for i in status["incidents"]] == [
        (auto_id, "automatic", "identified", ["Failover to the replica in progress."])]
    history = get_json(rt, "/history.json")["incidents"]
    assert history[0]["kind"] == "automatic" and history[0]["updates"][0]["status"] == "identified"

    feed = ET.fromstring(rt.app.test_client().get("/history.atom").data)  # type: ignore[attr-defined]
    titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
    assert titles == ["Database down (ongoing)", "Database down: identified"]


def test_the_atom_feed_has_one_entry_per_update_with_the_message_as_text(rt: Runtime,
                                                                          ops_db: psycopg.Connection) -> None:
    incident_id = open_incident(ops_db, T + timedelta(minutes=1), message=HOSTILE)
    update(ops_db, incident_id, "resolved", "Fixed.", T + timedelta(minutes=30))
    history_job(rt, T + timedelta(minutes=31))
    reply = rt.app.test_client().get("/history.atom", base_url="https://status.example")  # type: ignore[attr-defined]
    feed = ET.fromstring(reply.data)
    entries = feed.findall(f"{ATOM}entry")
    assert [(e.find(f"{ATOM}title").text, e.find(f"{ATOM}updated").text, e.find(f"{ATOM}summary").text)
            for e in entries] == [("Engine flat: resolved", "2026-04-30T12:30:00Z", "Fixed."),
                                  ("Engine flat: investigating", "2026-04-30T12:01:00Z", HOSTILE)]
    assert feed.find(f"{ATOM}updated").text == "2026-04-30T12:30:00Z"
    assert len({e.find(f"{ATOM}id").text for e in entries}) == 2


def test_the_announcement_shows_until_it_expires_and_maintenance_up_to_7_days_ahead(
        rt: Runtime, ops_db: psycopg.Connection) -> None:
    operators.announce(ops_db, "New dashboards on Monday.\n<i>Not italic</i>", T + timedelta(hours=1), T, OPERATOR)
    soon = operators.new_window({"title": "DB upgrade", "components": ["database"], "message": "Read-only 10 min",
                                 "start": "2026-05-03T02:00:00Z", "end": "2026-05-03T02:45:00Z"}, T)
    later = operators.new_window({"title": "Far away", "components": ["engine"],
                                  "start": "2026-05-20T02:00:00Z", "end": "2026-05-20T03:00:00Z"}, T)
    soon_id, later_id = (operators.schedule(ops_db, w, T, OPERATOR) for w in (soon, later))
    history_job(rt, T + timedelta(minutes=1))

    doc = page(rt)
    assert doc.by_id("announcement").find("p").text == "New dashboards on Monday. <i>Not italic</i>"
    upcoming = doc.find_all("li", cls="upcoming__item")
    assert [li.attrs["id"] for li in upcoming] == [f"upcoming-{soon_id}"]
    assert "2026-05-03 02:00:00 UTC" in upcoming[0].text and "Database" in upcoming[0].text
    status = get_json(rt, "/status.json")
    assert status["announcement"] == {"message": "New dashboards on Monday.\n<i>Not italic</i>",
                                      "until": "2026-04-30T13:00:00Z", "at": "2026-04-30T12:00:00Z"}
    assert status["maintenance"] == {"in_progress": [], "upcoming": [{
        "id": soon_id, "title": "DB upgrade", "message": "Read-only 10 min", "components": ["database"],
        "scheduled_for": "2026-05-03T02:00:00Z", "scheduled_until": "2026-05-03T02:45:00Z", "recurring": False}]}
    assert later_id > soon_id

    history_job(rt, T + timedelta(hours=1, seconds=1))  # past the announcement's expiry
    assert page(rt).find_all(id="announcement") == []
    assert get_json(rt, "/status.json")["announcement"] is None


def _both_workers_show(server: Gunicorn, title: str, workers: set[int], showing: set[int]) -> bool:
    """Another batch of requests: while every answer shows ``title``, the workers that answered
    are added to ``showing`` (the kernel decides which worker accepts, so one batch may reach only
    one); an answer without it starts over. True once every worker has shown it."""
    replies, pids = server.batch(lambda: server.get_many("/status.json", 24) + server.get_many("/", 8))
    if all(r.status == 200 and title in r.text for r in replies):
        showing |= pids
    else:
        showing.clear()
    return showing >= workers


def test_an_operator_incident_appears_in_every_worker_within_one_probe_interval_without_restart(
        pg_dsn: str, ops_db: psycopg.Connection, start_gunicorn: Callable[..., Gunicorn]) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn, PROBE_INTERVAL_S="2", PROBE_TIMEOUT_S="1")
    server.wait_ready()
    workers = set(server.worker_pids())
    assert len(workers) == 2

    written = cli(pg_dsn, "incident", "open", "--title", "Engine flat, no open risk", "--impact", "minor",
                  "--component", "engine", "--message", "Next update in 30 min.")
    assert written.returncode == 0, written.stderr
    wrote_at = time.monotonic()
    showing: set[int] = set()
    wait_until(lambda: _both_workers_show(server, "Engine flat, no open risk", workers, showing), timeout=30,
               every=0.2, what="both workers showing the incident")
    # Each worker's history job reads it within one interval (2 s); the margin is for a busy machine
    # and for the batches, each read once its access lines are written (Gunicorn.batch).
    assert time.monotonic() - wrote_at < 2 + 12
    assert set(server.worker_pids()) == workers  # the same two workers: nothing restarted
