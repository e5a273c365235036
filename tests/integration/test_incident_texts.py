"""What an incident says stays true after it was written: stored texts carry times, not ages that
freeze ("last trade 10 s ago" for ever), and durations are rounded, not cut down (a 119 s outage
is "2 min" on the page, in the feed and in the notification alike)."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from statuspage import notify
from statuspage.formatting import duration
from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.status import Observation, Scrape, engine_observation
from statuspage.vocabulary import DOWN, OPERATIONAL

from ..helpers.dom import parse
from ..helpers.trades import utc

T = utc(2026, 4, 30, 12, 0)
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (89, "1 min"), (90, "2 min"), (119, "2 min"), (120, "2 min"),
    (3569, "59 min"), (3570, "1 h"), (3629, "1 h"), (3630, "1 h 1 min"), (7199, "2 h"),
    (47 * 3600 + 59 * 60 + 29, "47 h 59 min"), (47 * 3600 + 59 * 60 + 30, "2 d"),
    (2 * 86400 + 1799, "2 d"), (2 * 86400 + 1800, "2 d 1 h"), (3 * 86400 + 23 * 3600 + 1800, "4 d"),
])
def test_durations_round_to_the_nearest_unit_shown(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_a_119_second_outage_reads_2_min_everywhere(writer, make_app) -> None:
    app = make_app(start_background=False, PUBLIC_URL="https://status.example.com/")
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    history_job(rt, T)
    down, up = T + timedelta(minutes=5), T + timedelta(minutes=5, seconds=119)
    for at, state in ((down, DOWN), (up, OPERATIONAL)):
        rt.state.observe("database", Observation(state, f"database {state}"), at, 1)
        history_job(rt, at)

    client = app.test_client()
    incident = parse(client.get("/").get_data(as_text=True)).find_all("li", cls="incident")[0]
    assert "(2 min)" in incident.text
    feed = ET.fromstring(client.get("/history.atom").data)
    assert feed.find(f"{ATOM}entry/{ATOM}title").text == "Database down, resolved after 2 min"
    # the resolved message as the outbox holds it, in the words a chat receiver gets
    notify.enqueue(writer, ["https://hooks.slack.com/services/x"], up, 60, 3600)
    payload = writer.execute("SELECT payload FROM statuspage.notifications WHERE event = 'incident.resolved'"
                             ).fetchone()[0]
    assert payload["duration_s"] == 119
    assert "operational again after 2 min." in notify.message_text(payload)


def test_stored_incident_texts_keep_times_while_the_live_detail_keeps_ages(writer, make_app) -> None:
    app = make_app(start_background=False)
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    last_trade = T - timedelta(seconds=10)

    def engine_at(now):  # the engine answers, ticking, without its database connection
        scrape = Scrape(ok=True, latency_ms=3, db_connected=0, last_tick=(now - timedelta(seconds=2)).timestamp())
        return engine_observation(scrape, now, 120, last_trade)

    rt.state.observe("engine", engine_at(T), T, 1)
    history_job(rt, T)
    later = T + timedelta(minutes=10)
    rt.state.observe("engine", engine_at(later), later, 1)
    history_job(rt, later)

    client = app.test_client()
    stored = "engine reports no database connection; last trade 2026-04-30 11:59:50 UTC"
    incidents = client.get("/history.json").get_json()["incidents"]
    assert [i["detail"] for i in incidents] == [stored]
    page = parse(client.get("/").get_data(as_text=True))
    assert page.find_all("li", cls="incident")[0].find(cls="incident__detail").text == stored
    feed = ET.fromstring(client.get("/history.atom").data)
    assert feed.find(f"{ATOM}entry/{ATOM}summary").text.endswith(stored)
    # the component table is live: there the age is current, not the one at the incident's start
    assert page.by_id("component-engine").find(cls="component__detail").text == (
        "engine reports no database connection; last trade 10 min ago")
    assert writer.execute("SELECT detail FROM statuspage.state_changes WHERE component = 'engine'"
                          ).fetchall() == [(stored,)]
    assert " ago" not in writer.execute("SELECT string_agg(detail, ' ') FROM statuspage.incidents").fetchone()[0]
