"""History end to end: recorded by the app's own job, served as JSON, Atom, badges and the page;
one writer among several processes, and a hand-over when it dies."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from xml.etree import ElementTree as ET

import psycopg
import pytest

from statuspage.demo.simengine import SimEngine
from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL

from ..helpers.app import app_process, run_jobs
from ..helpers.dom import parse
from ..helpers.trades import utc
from ..helpers.wait import wait_until

ATOM = "{http://www.w3.org/2005/Atom}"
SVG = "{http://www.w3.org/2000/svg}"
T = utc(2026, 4, 30, 12, 0)


@pytest.fixture
def app_with_incident(writer, make_app):
    """An app whose own jobs recorded: database up at T, down at T+5 min, up again at T+12 min."""
    app = make_app(start_background=False, PUBLIC_URL="https://status.example")  # the feed's links
    rt = run_jobs(app, T, (refresh_job, probe_database_job, history_job), pool_ready=True)
    for minutes, state in ((5, DOWN), (12, OPERATIONAL)):
        rt.state.observe("database", Observation(state, f"database {state}"), T + timedelta(minutes=minutes), 1)
        history_job(rt, T + timedelta(minutes=minutes))
    return app


def test_history_json_lists_the_incident_with_its_duration(app_with_incident) -> None:
    body = app_with_incident.test_client().get("/history.json").get_json()
    assert [(i["component"], i["from"], i["to"], i["opened_at"], i["resolved_at"], i["duration_s"])
            for i in body["incidents"]] == [("database", OPERATIONAL, DOWN, "2026-04-30T12:05:00Z",
                                             "2026-04-30T12:12:00Z", 7 * 60)]
    days = body["components"]["database"]["days"]
    assert len(days) == 90 and days[-1]["day"] == "2026-04-30"
    assert days[-1]["incidents"] == 1 and days[-1]["down_minutes"] == 1  # the one sample taken at 12:05
    assert days[0]["uptime_percent"] is None  # before history began: no data


def test_atom_feed_has_the_required_elements(app_with_incident) -> None:
    response = app_with_incident.test_client().get("/history.atom", base_url="https://status.example")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{tag}").text
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.find(f"{ATOM}title").text == "Database down, resolved after 7 min"
    assert entry.find(f"{ATOM}updated").text == "2026-04-30T12:12:00Z"
    assert entry.find(f"{ATOM}id").text.startswith("https://status.example/history.atom#incident-")
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "https://status.example/history.atom"


@pytest.mark.parametrize(("name", "text"), [("overall", "operational"), ("database", "operational"),
                                            ("engine", "unknown")])
def test_badges_are_valid_svg_with_state_text_and_a_minute_of_caching(app_with_incident, name, text) -> None:
    response = app_with_incident.test_client().get(f"/badge/{name}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"].startswith("public, max-age=60, ")
    svg = ET.fromstring(response.data)
    assert svg.tag == f"{SVG}svg" and int(svg.get("width")) > 0
    assert text in [t.text for t in svg.iter(f"{SVG}text")]


def test_unknown_badge_is_404(app_with_incident) -> None:
    assert app_with_incident.test_client().get("/badge/nonsense.svg").status_code == 404


def test_page_shows_ninety_bars_per_component_and_the_incident(app_with_incident) -> None:
    html = app_with_incident.test_client().get("/").get_data(as_text=True)
    doc = parse(html)
    for name in ("engine", "metrics", "database", "snapshot"):
        bars = doc.by_id(f"history-{name}").find_all("li", cls="bar")
        assert len(bars) == 90
        assert all(b.attrs.get("tabindex") == "0" and b.attrs.get("data-tip") for b in bars)
    database = doc.by_id("history-database").find_all("li", cls="bar")
    assert database[0].attrs["data-tip"].endswith(": no data") and "bar--none" in database[0].classes
    # three samples that day (12:00 up, 12:05 down, 12:12 up): 2 of 3 minutes available, and only
    # 3 of the day's minutes so far observed
    assert database[-1].attrs["data-tip"] == "2026-04-30: 66.67 % up (3 min observed), 1 min down, 1 incident"
    incidents = doc.find_all("li", cls="incident")
    assert len(incidents) == 1 and "Database" in incidents[0].text and "(7 min)" in incidents[0].text


def _leader(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'statuspage-history%'"
    ).fetchone()
    return row[0].removeprefix("statuspage-history ") if row else None


def test_two_processes_one_writer_and_a_hand_over_when_it_dies(writer, pg_dsn) -> None:
    with SimEngine() as engine:
        procs = [app_process(pg_dsn, engine.url) for _ in range(2)]
        try:
            identities = {f"{os.uname().nodename}:{p.pid}": p for p in procs}
            first = wait_until(lambda: _leader(writer), timeout=20, what="a leader")
            assert first in identities
            wait_until(lambda: writer.execute("SELECT count(*) FROM statuspage.state_changes").fetchone()[0] >= 4,
                       timeout=20, what="state changes recorded")
            writers = {r[0] for r in writer.execute(
                "SELECT recorded_by FROM statuspage.state_changes UNION SELECT recorded_by FROM statuspage.samples")}
            assert writers == {first}

            os.killpg(identities[first].pid, signal.SIGKILL)
            identities[first].wait(timeout=10)
            second = wait_until(lambda: (name := _leader(writer)) not in (None, first) and name, timeout=2 * 1 + 5,
                                what="the other process takes over within two probe intervals")
            engine.db_connected = False  # something new to record: only the new leader may write it
            row = wait_until(lambda: writer.execute(
                "SELECT recorded_by FROM statuspage.state_changes WHERE component = 'engine' "
                "AND to_state = 'degraded'").fetchone(), timeout=20, what="the engine change recorded")
            assert row[0] == second
            opened = writer.execute("SELECT count(*) FROM statuspage.incidents WHERE component = 'engine' "
                                    "AND resolved_at IS NULL").fetchone()[0]
            assert opened == 1
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
