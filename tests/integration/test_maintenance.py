"""Maintenance windows end to end (issue 13): when they happen, and what they do to the page.

While a window is in progress its components show ``maintenance`` (page, status.json, badges, the
component_state metric that alert rules read), no automatic incident opens and no alert is sent for
them, and their minutes count neither as up nor as down. When a window ends with its component still
broken, the normal rules apply at once: an incident opens and, past the flap damping, one alert goes
out, once however many processes run. Jobs run with the test's own ``now``; the receivers are real
HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import psycopg
from flask import Flask

from statuspage import maintenance, operators
from statuspage.jobs.scheduler import history_job, notify_job, probe_database_job, refresh_job
from statuspage.maintenance import Window
from statuspage.state import Runtime
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL

from ..helpers.dom import parse
from ..helpers.trades import utc
from ..helpers.webhooks import Receiver

T = utc(2026, 4, 30, 12, 0)
PUBLIC = "https://status.example.com/"
OPERATOR = operators.Author("api", "10.0.0.7")
SVG = "{http://www.w3.org/2000/svg}"


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


# --- occurrences (pure) ---


def window(**fields: Any) -> Window:
    return Window(id=1, title="w", message="", components=("engine",), created_at=utc(2026, 1, 1), **fields)


def test_a_weekly_window_follows_its_time_zone_across_the_end_of_summer_time() -> None:
    weekly = window(cron="0 2 * * sun", duration_s=45 * 60, timezone="Europe/London")
    found = [(o.start, o.end) for o in maintenance.occurrences(weekly, utc(2026, 10, 12), utc(2026, 11, 2))]
    # 02:00 in London: BST (UTC+1) until 25 October 2026 01:00 UTC, GMT (UTC+0) after; 45 real minutes each.
    assert found == [(utc(2026, 10, 18, 1, 0), utc(2026, 10, 18, 1, 45)),
                     (utc(2026, 10, 25, 2, 0), utc(2026, 10, 25, 2, 45)),
                     (utc(2026, 11, 1, 2, 0), utc(2026, 11, 1, 2, 45))]
    assert maintenance.state(weekly, utc(2026, 10, 18, 1, 30)) == "in_progress"
    assert maintenance.state(weekly, utc(2026, 10, 18, 1, 45)) == "scheduled"  # the end is exclusive


def test_a_one_off_window_is_scheduled_then_in_progress_then_completed_and_cancelling_ends_it() -> None:
    once = window(starts_at=at(10), ends_at=at(40))
    assert [maintenance.state(once, at(m)) for m in (0, 10, 39.9, 40)] == [
        "scheduled", "in_progress", "in_progress", "completed"]
    ended_early = window(starts_at=at(10), ends_at=at(40), cancelled_at=at(20))
    assert [maintenance.state(ended_early, at(m)) for m in (15, 20)] == ["in_progress", "completed"]
    assert [(o.start, o.end) for o in maintenance.occurrences(ended_early, T, at(60))] == [(at(10), at(20))]
    called_off = window(starts_at=at(10), ends_at=at(40), cancelled_at=at(5))
    assert [maintenance.state(called_off, at(m)) for m in (6, 20)] == ["cancelled", "cancelled"]
    assert maintenance.occurrences(called_off, T, at(60)) == []


# --- end to end ---


def runtime(make_app: Callable[..., Flask], hook_url: str | None = None) -> Runtime:
    env = {"NOTIFY_WEBHOOK_URLS": hook_url, "PUBLIC_URL": PUBLIC, "NOTIFY_MIN_INCIDENT_S": "60"} if hook_url else {}
    app = make_app(start_background=False, PROBE_CONFIRM="1", **env)
    rt: Runtime = app.extensions["statuspage"]
    rt.app = app  # type: ignore[attr-defined]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    for name in ("engine", "metrics", "snapshot"):
        rt.state.observe(name, Observation(OPERATIONAL, f"{name} ok"), T, 1)
    return rt


def step(runtimes: list[Runtime], minutes: float, engine: str | None = None) -> None:
    """At T + minutes, in every process: the engine probe's result (if it changed), then the
    history job and the notify job, as their schedulers would run them."""
    now = at(minutes)
    for rt in runtimes:
        if engine:
            rt.state.observe("engine", Observation(engine, f"engine {engine}"), now, 1)
        history_job(rt, now)
        notify_job(rt, now)


def get(rt: Runtime, path: str) -> Any:
    return rt.app.test_client().get(path)  # type: ignore[attr-defined]


def schedule(conn: psycopg.Connection, start: float, end: float, names: tuple[str, ...] = ("engine",)) -> int:
    new = operators.NewWindow("Engine deploy", names, "Rolling restart", starts_at=at(start), ends_at=at(end))
    return operators.schedule(conn, new, T, OPERATOR)


def test_an_outage_inside_a_window_opens_no_incident_and_sends_no_alert_then_the_rules_apply_at_its_end(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    a, b = runtime(make_app, hook.url), runtime(make_app, hook.url)  # two processes, one leader
    step([a, b], 0)
    window_id = schedule(ops_db, 10, 40)
    step([a, b], 9)
    step([a, b], 10.25)
    step([a, b], 11, engine=DOWN)  # the deploy takes the engine down, inside the window
    for minute in range(12, 40):
        step([a, b], minute)

    # The page during the window: maintenance, shown as such everywhere, no incident.
    status = get(a, "/status.json").get_json()
    engine = next(c for c in status["components"] if c["name"] == "engine")
    assert (engine["state"], engine["since"]) == ("maintenance", "2026-04-30T12:10:00Z")
    assert engine["detail"] == "scheduled maintenance until 2026-04-30 12:40 UTC: Engine deploy"
    assert status["status"] == "maintenance"
    doc = parse(get(b, "/").data)
    assert doc.by_id("component-engine").attrs["data-state"] == "maintenance"
    assert doc.by_id("component-engine").find(cls="badge").text == "Maintenance"
    assert doc.by_id("banner").find(cls="banner__headline").text == "Maintenance in progress"
    assert doc.by_id(f"maintenance-{window_id}").find(cls="maintenance-now__title").text == \
        "Maintenance in progress: Engine deploy"
    badge = ET.fromstring(get(a, "/badge/engine.svg").data)
    assert [t.text for t in badge.iter(f"{SVG}text")] == ["engine", "maintenance"]
    registry = a.state.metrics.registry
    assert registry.get_sample_value("statuspage_component_state", {"component": "engine", "state": "down"}) == 0
    assert registry.get_sample_value("statuspage_component_state",
                                     {"component": "engine", "state": "maintenance"}) == 1
    assert ops_db.execute("SELECT count(*) FROM statuspage.incidents").fetchone()[0] == 0
    assert [r["body"]["event"] for r in hook.received] == ["maintenance.started"]

    # The window ends; the engine is still down: an incident opens at the end, one alert after the damping.
    step([a, b], 40.5)
    assert ops_db.execute("SELECT component, from_state, worst_state, opened_at FROM statuspage.incidents"
                          ).fetchall() == [("engine", "maintenance", DOWN, at(40))]
    assert get(a, "/status.json").get_json()["status"] == "partial outage"
    assert registry.get_sample_value("statuspage_component_state", {"component": "engine", "state": "down"}) == 1
    for minute in (41, 41.5, 42, 43):
        step([a, b], minute)
    assert [r["body"] for r in hook.received] == [
        {"event": "maintenance.started", "source": "operator", "maintenance_id": window_id, "title": "Engine deploy",
         "components": ["engine"], "message": "Rolling restart", "scheduled_for": "2026-04-30T12:10:00Z",
         "scheduled_until": "2026-04-30T12:40:00Z", "at": "2026-04-30T12:10:00Z", "page_url": PUBLIC},
        {"event": "maintenance.completed", "source": "operator", "maintenance_id": window_id,
         "title": "Engine deploy", "components": ["engine"], "message": "Rolling restart",
         "scheduled_for": "2026-04-30T12:10:00Z", "scheduled_until": "2026-04-30T12:40:00Z",
         "at": "2026-04-30T12:40:00Z", "page_url": PUBLIC},
        {"event": "incident.opened", "component": "engine", "from": "maintenance", "to": "down",
         "at": "2026-04-30T12:40:00Z", "duration_s": None, "detail": "engine down", "page_url": PUBLIC},
    ]


def test_a_component_that_recovers_inside_its_window_leaves_no_trace_but_maintenance(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    step([rt], 0)
    schedule(ops_db, 5, 20)
    step([rt], 6, engine=DOWN)
    step([rt], 12, engine=OPERATIONAL)
    for minute in (19, 21, 25, 30):
        step([rt], minute)
    assert ops_db.execute("SELECT count(*) FROM statuspage.incidents").fetchone()[0] == 0
    assert [r["body"]["event"] for r in hook.received] == ["maintenance.started", "maintenance.completed"]
    engine = next(c for c in get(rt, "/status.json").get_json()["components"] if c["name"] == "engine")
    assert (engine["state"], engine["since"]) == ("operational", "2026-04-30T12:20:00Z")  # since the window ended


def test_maintenance_minutes_count_neither_up_nor_down_and_mark_the_days_bar(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    rt = runtime(make_app)
    schedule(ops_db, 10, 40)
    step([rt], 0)
    for minute in range(1, 50):  # one history run per minute: one sample per minute
        step([rt], minute, engine=DOWN if minute == 11 else OPERATIONAL if minute == 40 else None)

    engine = get(rt, "/history.json").get_json()["components"]["engine"]
    today = engine["days"][-1]
    # 50 samples: 10 operational (12:00-12:09), 30 maintenance (12:10-12:39, the engine down from 12:11),
    # 10 operational (12:40-12:49). Without the window 29 of 50 would be down (42 % up).
    assert (today["day"], today["maintenance_minutes"], today["down_minutes"]) == ("2026-04-30", 30, 0)
    assert today["uptime_percent"] == 100.0
    assert engine["uptime_percent"]["24h"] == 100.0
    database = get(rt, "/history.json").get_json()["components"]["database"]["days"][-1]
    assert (database["maintenance_minutes"], database["uptime_percent"]) == (0, 100.0)
    bar = parse(get(rt, "/").data).by_id("history-engine").find_all("li", cls="bar")[-1]
    assert "bar--maintenance" in bar.classes
    # history began at 12:00: 50 of the day's 769 minutes were observed, 30 of them as maintenance
    assert bar.attrs["data-tip"] == "2026-04-30: 100 % up (50 min observed), 30 min maintenance"


def test_window_times_are_recorded_once_whoever_leads(ops_db: psycopg.Connection,
                                                      make_app: Callable[..., Flask],
                                                      receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    a, b = runtime(make_app, hook.url), runtime(make_app, hook.url)
    step([a, b], 0)
    window_id = schedule(ops_db, 2, 6, names=("engine", "metrics"))
    step([a, b], 3)
    leader, other = (a, b) if a.leader.is_leader else (b, a)
    # the leader dies between the start and the end: its session, and so its lock, go with it
    ops_db.execute("SELECT pg_terminate_backend(%s)", (leader.leader.conn.info.backend_pid,))
    for minute in (4, 5, 7, 8):
        step([other, leader], minute)
    assert [a.leader.is_leader, b.leader.is_leader].count(True) == 1  # a new leader, whichever took the lock
    events = ops_db.execute("SELECT event, at FROM statuspage.maintenance_events WHERE maintenance_id = %s "
                            "ORDER BY id", (window_id,)).fetchall()
    assert events == [("maintenance.started", at(2)), ("maintenance.completed", at(6))]
    assert [(r["body"]["event"], r["body"]["at"]) for r in hook.received] == [
        ("maintenance.started", "2026-04-30T12:02:00Z"), ("maintenance.completed", "2026-04-30T12:06:00Z")]
    assert len({r["key"] for r in hook.received}) == 2


def test_an_in_progress_window_cancelled_ends_at_once_with_its_completed_notification(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    window_id = schedule(ops_db, 1, 60)
    step([rt], 2)
    assert operators.cancel(ops_db, window_id, at(5), OPERATOR) == "completed"
    step([rt], 5.5)
    engine = next(c for c in get(rt, "/status.json").get_json()["components"] if c["name"] == "engine")
    assert engine["state"] == "operational"
    assert [(r["body"]["event"], r["body"]["at"], r["body"]["scheduled_until"]) for r in hook.received] == [
        ("maintenance.started", "2026-04-30T12:01:00Z", "2026-04-30T13:00:00Z"),
        ("maintenance.completed", "2026-04-30T12:05:00Z", "2026-04-30T12:05:00Z")]
