"""The Statuspage-compatible public API (issue 13) over real HTTP: every endpoint answers with exactly
the field names of the public Statuspage v2 API and only its values, maps this page's states as the
docs/api.md says, is served from cached bytes with an ETag, and carries ``Access-Control-Allow-Origin: *``
where (and only where) it should.

The field lists below are Statuspage's, written out here from its public documentation, not taken
from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask

from statuspage import operators
from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.state import Runtime
from statuspage.status import Observation
from statuspage.vocabulary import DEGRADED, DOWN, OPERATIONAL

from ..helpers.http import LiveServer, get, http
from ..helpers.opsdata import BEARER, TOKEN
from ..helpers.trades import utc

T = utc(2026, 4, 30, 12, 0)
OPERATOR = operators.Author("api", "10.0.0.1")
ENDPOINTS = ["status.json", "summary.json", "components.json", "incidents.json", "incidents/unresolved.json",
             "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json",
             "scheduled-maintenances/active.json"]

PAGE = {"id", "name", "url", "time_zone", "updated_at"}
STATUS = {"indicator", "description"}
COMPONENT = {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date",
             "group_id", "page_id", "group", "only_show_if_degraded"}
INCIDENT = {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink",
            "started_at", "page_id", "incident_updates", "components"}
UPDATE = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components"}
MAINTENANCE = INCIDENT | {"scheduled_for", "scheduled_until"}
INDICATORS = {"none": "All Systems Operational", "minor": "Minor Service Outage", "major": "Partial System Outage",
              "critical": "Major System Outage", "maintenance": "Service Under Maintenance"}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


def timestamp(value: Any) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def check_incident(incident: dict[str, Any], keys: set[str], statuses: set[str]) -> None:
    assert set(incident) == keys
    assert isinstance(incident["id"], str) and incident["status"] in statuses and incident["impact"] in IMPACTS
    assert all(timestamp(incident[k]) for k in ("created_at", "updated_at", "started_at"))
    for update in incident["incident_updates"]:
        assert set(update) == UPDATE and update["incident_id"] == incident["id"]
        assert update["status"] in statuses and isinstance(update["body"], str)
    stamps = [u["created_at"] for u in incident["incident_updates"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    for component in incident["components"]:
        assert set(component) == COMPONENT


def check(body: dict[str, Any], name: str) -> None:
    """Every field of every object, against Statuspage's lists and values."""
    assert set(body["page"]) == PAGE and body["page"]["time_zone"] == "Etc/UTC"
    if "status" in body:
        assert set(body["status"]) == STATUS
        assert INDICATORS[body["status"]["indicator"]] == body["status"]["description"]
    for component in body.get("components", []):
        assert set(component) == COMPONENT and component["status"] in COMPONENT_STATUSES
    for incident in body.get("incidents", []):
        check_incident(incident, INCIDENT, INCIDENT_STATUSES)
    for maintenance in body.get("scheduled_maintenances", []):
        check_incident(maintenance, MAINTENANCE, MAINTENANCE_STATUSES)
        assert timestamp(maintenance["scheduled_for"]) and timestamp(maintenance["scheduled_until"])
    expected_top = {"status.json": {"page", "status"},
                    "summary.json": {"page", "status", "components", "incidents", "scheduled_maintenances"},
                    "components.json": {"page", "components"}}.get(
        name, {"page", "incidents"} if name.startswith("incidents") else {"page", "scheduled_maintenances"})
    assert set(body) == expected_top


@pytest.fixture
def live(ops_db: psycopg.Connection, make_app: Callable[..., Flask],
         serve: Callable[[Flask], LiveServer]) -> tuple[Runtime, LiveServer]:
    app = make_app(start_background=False, OPS_TOKEN=TOKEN, PUBLIC_URL="https://status.example.com/")
    rt: Runtime = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    for name in ("metrics", "snapshot"):
        rt.state.observe(name, Observation(OPERATIONAL, f"{name} ok"), T, 1)
    history_job(rt, T)
    return rt, serve(app)


def v2(server: LiveServer, name: str) -> dict[str, Any]:
    reply = get(f"{server.url}/api/v2/{name}")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert reply.headers["access-control-allow-origin"] == "*"
    body = reply.json()
    check(body, name)
    return body


def test_every_endpoint_has_statuspages_fields_and_an_unknown_component_is_left_out(
        live: tuple[Runtime, LiveServer]) -> None:
    _, server = live
    for name in ENDPOINTS:
        v2(server, name)
    summary = v2(server, "summary.json")
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["page"]["url"] == "https://status.example.com"
    # the engine is unknown here (no ENGINE_METRICS_URL): Statuspage has no word for it
    assert [(c["id"], c["name"], c["status"], c["position"]) for c in summary["components"]] == [
        ("metrics", "Engine metrics", "operational", 2), ("database", "Database", "operational", 3),
        ("snapshot", "Data snapshot", "operational", 4)]


@pytest.mark.parametrize(("database", "component", "indicator"), [
    (DEGRADED, "degraded_performance", "minor"), (DOWN, "major_outage", "major")])
def test_component_states_and_the_indicator_map_as_documented(live: tuple[Runtime, LiveServer], database: str,
                                                              component: str, indicator: str) -> None:
    rt, server = live
    rt.state.observe("database", Observation(database, f"database {database}"), T + timedelta(minutes=1), 1)
    assert {c["id"]: c["status"] for c in v2(server, "components.json")["components"]}["database"] == component
    assert v2(server, "status.json")["status"] == {"indicator": indicator, "description": INDICATORS[indicator]}


def test_incidents_of_both_kinds_with_their_updates(live: tuple[Runtime, LiveServer],
                                                   ops_db: psycopg.Connection) -> None:
    rt, server = live
    rt.state.observe("database", Observation(DOWN, "database is not reachable"), T + timedelta(minutes=1), 1)
    history_job(rt, T + timedelta(minutes=1))
    auto_id = ops_db.execute("SELECT id FROM statuspage.incidents").fetchone()[0]
    new = operators.NewIncident("Engine flat", "critical", ("engine", "metrics"), "investigating", "Looking.")
    incident_id = operators.open_incident(ops_db, new, T + timedelta(minutes=2), OPERATOR)
    operators.update_incident(ops_db, incident_id, operators.NewUpdate("monitoring", "Fix out."),
                              T + timedelta(minutes=5), OPERATOR)
    history_job(rt, T + timedelta(minutes=6))

    assert v2(server, "status.json")["status"] == {"indicator": "critical", "description": "Major System Outage"}
    unresolved = v2(server, "incidents/unresolved.json")["incidents"]
    assert [(i["id"], i["name"], i["status"], i["impact"]) for i in unresolved] == [
        (str(incident_id), "Engine flat", "monitoring", "critical"), (str(auto_id), "Database down", "investigating",
                                                                      "major")]
    operator = unresolved[0]
    assert [(u["status"], u["body"]) for u in operator["incident_updates"]] == [("monitoring", "Fix out."),
                                                                              ("investigating", "Looking.")]
    assert operator["monitoring_at"] == "2026-04-30T12:05:00Z" and operator["resolved_at"] is None
    assert operator["shortlink"] == f"https://status.example.com/#incident-{incident_id}"
    assert [c["id"] for c in operator["components"]] == ["metrics"]  # the engine is unknown here

    operators.update_incident(ops_db, incident_id, operators.NewUpdate("resolved", "Done."),
                              T + timedelta(minutes=7), OPERATOR)
    operators.add_postmortem(ops_db, incident_id, "Root cause.", T + timedelta(minutes=8), OPERATOR)
    rt.state.observe("database", Observation(OPERATIONAL, "database ok"), T + timedelta(minutes=8), 1)
    history_job(rt, T + timedelta(minutes=9))
    assert v2(server, "incidents/unresolved.json")["incidents"] == []
    incidents = {i["id"]: i for i in v2(server, "incidents.json")["incidents"]}
    assert incidents[str(incident_id)]["status"] == "postmortem"  # Statuspage's word once one is published
    assert incidents[str(incident_id)]["resolved_at"] == "2026-04-30T12:07:00Z"
    assert [(u["status"], u["created_at"]) for u in incidents[str(auto_id)]["incident_updates"]] == [
        ("resolved", "2026-04-30T12:08:00Z"), ("investigating", "2026-04-30T12:01:00Z")]
    assert v2(server, "summary.json")["status"]["indicator"] == "none"


def test_maintenance_in_progress_and_upcoming(live: tuple[Runtime, LiveServer], ops_db: psycopg.Connection) -> None:
    rt, server = live
    rt.state.observe("engine", Observation(OPERATIONAL, "engine ok"), T, 1)
    now = T + timedelta(minutes=1)
    running = operators.schedule(ops_db, operators.new_window(
        {"title": "Engine deploy", "components": ["engine"], "minutes": 30}, now), now, OPERATOR)
    weekly = operators.schedule(ops_db, operators.new_window(
        {"title": "Vacuum", "components": ["database"], "cron": "0 3 * * sat", "duration": "1h", "timezone": "UTC"},
        now), now, OPERATOR)
    history_job(rt, now + timedelta(seconds=5))

    assert v2(server, "status.json")["status"] == {"indicator": "maintenance", "description": INDICATORS["maintenance"]}
    components = {c["id"]: c["status"] for c in v2(server, "components.json")["components"]}
    assert components == {"engine": "under_maintenance", "metrics": "operational", "database": "operational",
                          "snapshot": "operational"}
    active = v2(server, "scheduled-maintenances/active.json")["scheduled_maintenances"]
    assert [(m["name"], m["status"], m["impact"], m["scheduled_for"], m["scheduled_until"]) for m in active] == [
        ("Engine deploy", "in_progress", "maintenance", "2026-04-30T12:01:00Z", "2026-04-30T12:31:00Z")]
    assert [c["id"] for c in active[0]["components"]] == ["engine"]
    assert active[0]["shortlink"] == f"https://status.example.com/#maintenance-{running}"
    upcoming = v2(server, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
    # 30 April 2026 is a Thursday: the next Saturday 03:00 UTC is 2 May
    assert [(m["name"], m["status"], m["scheduled_for"], m["scheduled_until"]) for m in upcoming] == [
        ("Vacuum", "scheduled", "2026-05-02T03:00:00Z", "2026-05-02T04:00:00Z")]
    summary = v2(server, "summary.json")["scheduled_maintenances"]
    assert sorted(m["status"] for m in summary) == ["in_progress", "scheduled"]
    assert weekly > running

    history_job(rt, T + timedelta(minutes=32))  # the deploy window is over
    everything = v2(server, "scheduled-maintenances.json")["scheduled_maintenances"]
    assert [(m["name"], m["status"], m["resolved_at"]) for m in everything] == [
        ("Vacuum", "scheduled", None), ("Engine deploy", "completed", "2026-04-30T12:31:00Z")]
    assert v2(server, "scheduled-maintenances/active.json")["scheduled_maintenances"] == []


def test_answers_are_cached_bytes_with_an_etag_and_cors_is_on_these_get_endpoints_only(
        live: tuple[Runtime, LiveServer]) -> None:
    _, server = live
    for name in ENDPOINTS:
        first, second = get(f"{server.url}/api/v2/{name}"), get(f"{server.url}/api/v2/{name}")
        assert first.body == second.body and first.headers["etag"] == second.headers["etag"]
        again = get(f"{server.url}/api/v2/{name}", {"If-None-Match": first.headers["etag"]})
        assert (again.status, again.body, again.headers["access-control-allow-origin"]) == (304, b"", "*")
    for path in ("/status.json", "/history.json", "/", "/performance/landing", "/openapi.json"):
        assert "access-control-allow-origin" not in get(server.url + path).headers, path
    write = http("PUT", server.url + "/api/ops/announcement", {**BEARER, "Content-Type": "application/json"},
                 b'{"message": "hello"}')
    assert write.status == 200 and "access-control-allow-origin" not in write.headers
    assert get(f"{server.url}/api/v2/nothing.json").json() == {"error": "not found"}
    assert http("POST", f"{server.url}/api/v2/summary.json").status == 405
