"""Webhook receivers hear the operators too (issue 13): ``incident.opened``, ``incident.updated`` and
``incident.resolved`` for operator incidents, ``incident.updated`` for an operator's update on an
automatic incident, each carrying the message, through the existing outbox: exactly once across
processes, and at once (an operator's words are no flap). Receivers are real HTTP servers on
127.0.0.1; jobs run with the test's own ``now``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
from flask import Flask

from statuspage import notify, operators
from statuspage.jobs.scheduler import history_job, notify_job, probe_database_job, refresh_job
from statuspage.state import Runtime
from statuspage.status import Observation
from statuspage.vocabulary import DOWN

from ..helpers.trades import utc
from ..helpers.webhooks import Receiver

T = utc(2026, 4, 30, 12, 0)
PUBLIC = "https://status.example.com/"
OPERATOR = operators.Author("form", "10.0.0.9")


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def runtime(make_app: Callable[..., Flask], url: str) -> Runtime:
    app = make_app(start_background=False, NOTIFY_WEBHOOK_URLS=url, PUBLIC_URL=PUBLIC, NOTIFY_MIN_INCIDENT_S="60")
    rt: Runtime = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    return rt


def run(runtimes: list[Runtime], seconds: float) -> None:
    for rt in runtimes:
        history_job(rt, at(seconds))
        notify_job(rt, at(seconds))


def test_an_operator_incident_is_sent_opened_updated_and_resolved_with_its_messages_once(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], receiver: Callable[..., Receiver]) -> None:
    hook, chat = receiver(), receiver()
    urls = f"{hook.url},{chat.url}"
    a, b = runtime(make_app, urls), runtime(make_app, urls)
    run([a, b], 0)
    new = operators.NewIncident("Engine flat", "major", ("engine", "metrics"), "investigating", "We know.\nNo risk.")
    incident_id = operators.open_incident(ops_db, new, at(5), OPERATOR)
    run([a, b], 6)  # sent at once: no flap damping for what an operator wrote
    operators.update_incident(ops_db, incident_id, operators.NewUpdate("identified", "Pool exhausted."), at(20),
                              OPERATOR)
    operators.update_incident(ops_db, incident_id, operators.NewUpdate("resolved", "Fixed."), at(30), OPERATOR)
    for seconds in (31, 45, 90, 300):
        run([a, b], seconds)

    base = {"source": "operator", "incident_id": incident_id, "title": "Engine flat", "impact": "major",
            "components": ["engine", "metrics"], "page_url": PUBLIC}
    expected = [
        {"event": "incident.opened", **base, "status": "investigating", "message": "We know.\nNo risk.",
         "at": "2026-04-30T12:00:05Z"},
        {"event": "incident.updated", **base, "status": "identified", "message": "Pool exhausted.",
         "at": "2026-04-30T12:00:20Z"},
        {"event": "incident.resolved", **base, "status": "resolved", "message": "Fixed.",
         "at": "2026-04-30T12:00:30Z"},
    ]
    for receiver_ in (hook, chat):
        assert [r["body"] for r in receiver_.received] == expected
        assert len({r["key"] for r in receiver_.received}) == 3


def test_an_update_on_an_automatic_incident_is_sent_as_incident_updated(
        ops_db: psycopg.Connection, make_app: Callable[..., Flask], receiver: Callable[..., Receiver]) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    rt.state.observe("database", Observation(DOWN, "database is not reachable"), at(1), 1)
    run([rt], 1)
    auto_id = ops_db.execute("SELECT id FROM statuspage.incidents").fetchone()[0]
    operators.update_incident(ops_db, auto_id, operators.NewUpdate("identified", "Failover running."), at(10),
                              OPERATOR)
    run([rt], 11)
    run([rt], 70)  # the automatic "opened" waits for the flap damping (60 s); the operator's did not
    assert [r["body"]["event"] for r in hook.received] == ["incident.updated", "incident.opened"]
    assert hook.received[0]["body"] == {
        "event": "incident.updated", "source": "operator", "incident_id": auto_id, "title": "Database down",
        "impact": "major", "status": "identified", "components": ["database"], "message": "Failover running.",
        "at": "2026-04-30T12:00:10Z", "page_url": PUBLIC}
    row = ops_db.execute("SELECT incident_id FROM statuspage.notifications WHERE event = 'incident.updated'").fetchone()
    assert row == (auto_id,)


def test_chat_webhooks_get_operator_events_in_one_line() -> None:
    update = {"event": "incident.updated", "source": "operator", "incident_id": 7, "title": "Engine flat",
              "impact": "critical", "status": "monitoring", "components": ["engine"], "message": "Fix deployed.",
              "at": "2026-04-30T12:00:20Z", "page_url": PUBLIC}
    assert json.loads(notify.request_body("https://hooks.slack.com/services/T/B/x", update)) == {
        "text": "[CRITICAL] Engine flat (Trading engine), monitoring: Fix deployed. https://status.example.com/"}
    started = {"event": "maintenance.started", "source": "operator", "maintenance_id": 3, "title": "Engine deploy",
               "components": ["engine", "metrics"], "message": "", "scheduled_for": "2026-04-30T12:10:00Z",
               "scheduled_until": "2026-04-30T12:40:00Z", "at": "2026-04-30T12:10:00Z", "page_url": PUBLIC}
    assert json.loads(notify.request_body("https://discord.com/api/webhooks/1/x", started)) == {
        "content": "[MAINTENANCE] Engine deploy (Trading engine, Engine metrics) started, until "
                   "2026-04-30T12:40:00Z. https://status.example.com/"}
