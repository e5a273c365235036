"""Operators write to the page through one validated path, from the CLI and the JSON API (issue 13).

The CLI runs as a subprocess against the session's PostgreSQL, the API over real HTTP on 127.0.0.1.
Every refusal is checked for its exact one-line message, its exit status or HTTP status, and for
having written nothing at all (every operator table and the outbox counted before and after).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask import Flask

from statuspage.formatting import utcnow

from ..helpers.http import LiveServer, Reply, http
from ..helpers.opsdata import BEARER, TOKEN, cli, rows

KNOWN = "known components are engine, metrics, database, snapshot"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the CLI ---


def test_cli_opens_updates_resolves_and_lists_an_incident_recording_who_wrote_it(pg_dsn: str,
                                                                                ops_db: psycopg.Connection) -> None:
    opened = cli(pg_dsn, "incident", "open", "--title", "Engine flat", "--impact", "major", "--component", "engine",
                 "--component", "metrics", "--status", "investigating", "--message", "We know; no open risk.")
    assert opened.returncode == 0, opened.stderr
    incident_id = int(opened.stdout.strip())
    row = ops_db.execute("SELECT title, impact, components, status, resolved_at FROM statuspage.operator_incidents "
                         "WHERE id = %s", (incident_id,)).fetchone()
    assert row == ("Engine flat", "major", ["engine", "metrics"], "investigating", None)

    updated = cli(pg_dsn, "incident", "update", str(incident_id), "--status", "identified", "--message",
                  "Database connection pool exhausted.\nNext update in 30 min.")
    assert updated.returncode == 0 and updated.stdout.startswith(f"incident {incident_id}: identified"), updated
    resolved = cli(pg_dsn, "incident", "update", str(incident_id), "--status", "resolved", "--message", "Fixed.")
    assert resolved.returncode == 0, resolved.stderr
    assert ops_db.execute("SELECT status, resolved_at IS NOT NULL FROM statuspage.operator_incidents WHERE id = %s",
                          (incident_id,)).fetchone() == ("resolved", True)
    timeline = ops_db.execute("SELECT event, status, message FROM statuspage.incident_updates WHERE incident_id = %s "
                              "ORDER BY id", (incident_id,)).fetchall()
    assert timeline == [
        ("incident.opened", "investigating", "We know; no open risk."),
        ("incident.updated", "identified", "Database connection pool exhausted.\nNext update in 30 min."),
        ("incident.resolved", "resolved", "Fixed.")]
    post = cli(pg_dsn, "incident", "postmortem", str(incident_id), "--message", "Root cause: a deploy.")
    assert post.returncode == 0, post.stderr

    listed = cli(pg_dsn, "incident", "list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0] == "id\tkind\tstatus\timpact\tcomponents\topened\ttitle"
    assert lines[1].split("\t")[:5] == [str(incident_id), "operator", "resolved", "major", "engine,metrics"]
    assert lines[1].endswith("\tEngine flat")

    log = ops_db.execute("SELECT via, who, action, subject FROM statuspage.operator_log ORDER BY id").fetchall()
    assert [(via, action, subject) for via, _, action, subject in log] == [
        ("cli", "incident.open", incident_id), ("cli", "incident.update", incident_id),
        ("cli", "incident.update", incident_id), ("cli", "incident.postmortem", incident_id)]
    assert {who for _, who, _, _ in log} == {f"{__import__('getpass').getuser()}@{socket.gethostname()}"}


def test_cli_schedules_lists_and_cancels_maintenance_and_sets_an_announcement(pg_dsn: str,
                                                                              ops_db: psycopg.Connection) -> None:
    start = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    once = cli(pg_dsn, "maintenance", "schedule", "--title", "Engine deploy", "--component", "engine", "--start",
               iso(start), "--end", iso(start + timedelta(minutes=45)), "--message", "New release")
    assert once.returncode == 0, once.stderr
    weekly = cli(pg_dsn, "maintenance", "schedule", "--title", "Weekly DB vacuum", "--component", "database",
                 "--cron", "0 2 * * sun", "--duration", "45m", "--timezone", "Europe/London")
    assert weekly.returncode == 0, weekly.stderr
    once_id, weekly_id = int(once.stdout), int(weekly.stdout)
    stored = ops_db.execute("SELECT id, starts_at, ends_at, cron, duration_s, timezone FROM statuspage.maintenances "
                            "ORDER BY id").fetchall()
    assert stored == [(once_id, start, start + timedelta(minutes=45), None, None, None),
                      (weekly_id, None, None, "0 2 * * sun", 2700, "Europe/London")]

    listed = cli(pg_dsn, "maintenance", "list").stdout.splitlines()
    assert listed[1].split("\t")[:2] == [str(weekly_id), "scheduled"]
    assert listed[2].split("\t")[:2] == [str(once_id), "scheduled"]
    assert cli(pg_dsn, "maintenance", "cancel", str(once_id)).stdout.strip() == f"maintenance {once_id}: cancelled"
    again = cli(pg_dsn, "maintenance", "cancel", str(once_id))
    assert (again.returncode, again.stderr) == (2, f"statuspage maintenance cancel: maintenance {once_id} is already "
                                                   "cancelled\n")

    until = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    announced = cli(pg_dsn, "announce", "--message", "New dashboards on Monday", "--until", iso(until))
    assert announced.returncode == 0 and announced.stdout.strip() == f"announcement set until {iso(until)}"
    assert ops_db.execute("SELECT message, until FROM statuspage.announcement").fetchall() == [
        ("New dashboards on Monday", until)]
    assert cli(pg_dsn, "announce", "clear").stdout.strip() == "announcement cleared"
    assert ops_db.execute("SELECT count(*) FROM statuspage.announcement").fetchone()[0] == 0


FUTURE = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
REFUSED_BY_THE_CLI = [
    (["incident", "open", "--title", "x", "--impact", "major", "--component", "engine", "--component", "website",
      "--message", "m"], f"statuspage incident open: unknown component 'website': {KNOWN}"),
    (["incident", "open", "--title", "   ", "--impact", "major", "--component", "engine", "--message", "m"],
     "statuspage incident open: title is empty"),
    (["incident", "open", "--title", "t", "--impact", "huge", "--component", "engine", "--message", "m"],
     "statuspage incident open: impact 'huge' is not one of none, minor, major, critical"),
    (["incident", "open", "--title", "t", "--impact", "minor", "--component", "engine", "--message", "x" * 5001],
     "statuspage incident open: message is 5,001 characters long; at most 5,000 are allowed"),
    (["incident", "open", "--title", "t", "--impact", "minor", "--component", "engine", "--message", "a\x1b[2Jb"],
     "statuspage incident open: message contains control characters"),
    (["incident", "update", "987654321", "--status", "identified", "--message", "m"],
     "statuspage incident update: incident 987654321 does not exist"),
    (["incident", "update", "12", "--status", "fixed", "--message", "m"],
     "statuspage incident update: status 'fixed' is not one of investigating, identified, monitoring, resolved"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--start", iso(FUTURE),
      "--end", iso(FUTURE - timedelta(minutes=5))],
     f"statuspage maintenance schedule: end {iso(FUTURE - timedelta(minutes=5))} is not after start {iso(FUTURE)}"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--cron", "0 0 30 2 *",
      "--duration", "45m", "--timezone", "UTC"],
     "statuspage maintenance schedule: cron expression '0 0 30 2 *' never fires"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--cron", "0 2 * * sun",
      "--duration", "45m", "--timezone", "Mars/Olympus_Mons"],
     "statuspage maintenance schedule: time zone 'Mars/Olympus_Mons' does not exist (use an IANA name such as "
     "Europe/London or UTC)"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--cron", "0 2 * * 0",
      "--duration", "45m", "--timezone", "UTC"],
     "statuspage maintenance schedule: cron expression '0 2 * * 0': write the day of week as names (mon-fri, "
     "sun), not numbers, which mean different days in different cron dialects"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--start", "2026-05-01T02:00:00",
      "--end", "2026-05-01T03:00:00Z"],
     "statuspage maintenance schedule: start '2026-05-01T02:00:00' has no time zone: add Z (UTC) or an offset "
     "such as +01:00"),
    (["maintenance", "schedule", "--title", "t", "--component", "engine", "--start", iso(FUTURE), "--end",
      iso(FUTURE + timedelta(hours=1)), "--cron", "0 2 * * sun"],
     "statuspage maintenance schedule: give either start and end (or minutes) or cron, duration and timezone, "
     "not both"),
    (["announce", "--message", ""], "statuspage announce: message is empty"),
    (["announce", "--message", "m", "--until", "2020-01-01T00:00:00Z"],
     "statuspage announce: until 2020-01-01T00:00:00Z is in the past"),
    (["incident", "update", "abc", "--status", "identified", "--message", "m"],
     "python -m statuspage incident update: argument ID: 'abc' is not an id (a whole number, as printed when it "
     "was created)"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED_BY_THE_CLI, ids=lambda v: v[1] if isinstance(v, list) else None)
def test_cli_refuses_bad_input_in_one_line_with_exit_status_2_and_writes_nothing(
        pg_dsn: str, ops_db: psycopg.Connection, args: list[str], message: str) -> None:
    before = rows(ops_db)
    result = cli(pg_dsn, *args)
    assert (result.returncode, result.stderr, result.stdout) == (2, message + "\n", "")
    assert rows(ops_db) == before


def test_cli_refuses_an_update_to_a_resolved_incident_and_resolving_an_automatic_one(
        pg_dsn: str, ops_db: psycopg.Connection) -> None:
    incident_id = int(cli(pg_dsn, "incident", "open", "--title", "t", "--impact", "minor", "--component", "engine",
                          "--message", "m").stdout)
    resolved = cli(pg_dsn, "incident", "update", str(incident_id), "--status", "resolved", "--message", "ok")
    assert resolved.returncode == 0
    early = cli(pg_dsn, "incident", "postmortem", "987654321", "--message", "pm")
    assert early.stderr == "statuspage incident postmortem: incident 987654321 does not exist\n"
    auto_id = ops_db.execute("INSERT INTO statuspage.incidents (component, from_state, worst_state, opened_at, detail) "
                             "VALUES ('database', 'operational', 'down', now(), 'database down') RETURNING id"
                             ).fetchone()[0]
    before = rows(ops_db)
    late = cli(pg_dsn, "incident", "update", str(incident_id), "--status", "monitoring", "--message", "m")
    assert (late.returncode, late.stderr) == (2, f"statuspage incident update: incident {incident_id} is resolved: "
                                                 "it takes no more updates\n")
    automatic = cli(pg_dsn, "incident", "update", str(auto_id), "--status", "resolved", "--message", "m")
    assert (automatic.returncode, automatic.stderr) == (
        2, f"statuspage incident update: incident {auto_id} is automatic: it resolves when its component recovers, "
           "not by an update\n")
    open_pm = cli(pg_dsn, "incident", "postmortem", str(auto_id), "--message", "pm")
    assert open_pm.stderr == (f"statuspage incident postmortem: incident {auto_id} is not resolved yet: a postmortem "
                              "follows the resolution\n")
    assert rows(ops_db) == before
    # an automatic incident takes updates that are not resolutions
    assert cli(pg_dsn, "incident", "update", str(auto_id), "--status", "identified", "--message",
               "Failover in progress").returncode == 0


def test_cli_without_a_reachable_database_says_so_in_one_line_without_the_password(ops_db: psycopg.Connection) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    result = cli(f"postgresql://page:pw-SENTINEL-1@127.0.0.1:{port}/engine", "announce", "--message", "m")
    assert result.returncode == 1
    assert result.stderr == (f"statuspage announce: cannot write to the history database (host=127.0.0.1 "
                             f"port={port} dbname=engine user=page password=<redacted>): OperationalError\n")


# --- the JSON API ---


@pytest.fixture
def api(make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer], ops_db: psycopg.Connection) -> LiveServer:
    return serve(make_app(start_background=False, OPS_TOKEN=TOKEN))


def call(server: LiveServer, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
         ) -> Reply:
    raw = None if body is None else json.dumps(body).encode()
    return http(method, server.url + path, {**BEARER, "Content-Type": "application/json", **(headers or {})}, raw)


def test_the_api_opens_updates_and_resolves_an_incident(api: LiveServer, ops_db: psycopg.Connection) -> None:
    opened = call(api, "POST", "/api/ops/incidents", {"title": "Engine flat", "impact": "critical",
                                                      "components": ["engine"], "message": "Investigating."})
    assert opened.status == 201 and opened.headers["cache-control"] == "no-store"
    body = opened.json()
    assert set(body) == {"id", "status", "opened_at"} and body["status"] == "investigating"
    update = call(api, "POST", f"/api/ops/incidents/{body['id']}/updates", {"status": "resolved", "message": "Done."})
    assert update.status == 201 and update.json()["incident_id"] == body["id"]
    assert call(api, "POST", f"/api/ops/incidents/{body['id']}/postmortem", {"message": "Why."}).status == 200
    assert ops_db.execute("SELECT via, who, action FROM statuspage.operator_log ORDER BY id").fetchall() == [
        ("api", "127.0.0.1", "incident.open"), ("api", "127.0.0.1", "incident.update"),
        ("api", "127.0.0.1", "incident.postmortem")]


def test_a_deploy_pipeline_says_maintenance_for_the_next_n_minutes_in_one_call(api: LiveServer,
                                                                              ops_db: psycopg.Connection) -> None:
    before = utcnow().replace(microsecond=0)
    reply = call(api, "POST", "/api/ops/maintenances", {"title": "Engine deploy", "components": ["engine", "metrics"],
                                                        "minutes": 15})
    after = utcnow()
    assert reply.status == 201, reply.text
    body = reply.json()
    start = datetime.fromisoformat(body["scheduled_for"])
    until = datetime.fromisoformat(body["scheduled_until"])
    assert before <= start <= after and until - start == timedelta(minutes=15)
    assert ops_db.execute("SELECT title, components FROM statuspage.maintenances WHERE id = %s",
                          (body["id"],)).fetchone() == ("Engine deploy", ["engine", "metrics"])
    cancelled = call(api, "POST", f"/api/ops/maintenances/{body['id']}/cancel")
    assert (cancelled.status, cancelled.json()) == (200, {"id": body["id"], "state": "completed"})  # it had begun


REFUSED_BY_THE_API = [
    ("POST", "/api/ops/incidents", {"title": "t", "impact": "minor", "components": ["nosuch"], "message": "m"},
     400, f"unknown component 'nosuch': {KNOWN}"),
    ("POST", "/api/ops/incidents", {"title": "", "impact": "minor", "components": ["engine"], "message": "m"},
     400, "title is empty"),
    ("POST", "/api/ops/incidents", {"title": "t", "impact": "minor", "components": ["engine"], "message": "m" * 5001},
     400, "message is 5,001 characters long; at most 5,000 are allowed"),
    ("POST", "/api/ops/incidents", {"title": 7, "impact": "minor", "components": ["engine"], "message": "m"},
     400, "title must be a string"),
    ("POST", "/api/ops/incidents", {"title": "t", "impact": "minor", "components": ["engine"], "message": "a\u0000b"},
     400, "message contains control characters"),
    ("POST", "/api/ops/incidents", {"title": "t", "impact": "minor", "components": "engine", "message": "m",
                                    "severity": 3}, 400,
     "unknown field 'severity'; expected components, impact, message, status, title"),
    ("POST", "/api/ops/incidents", [1, 2], 400,
     "the request body must be a JSON object (Content-Type: application/json)"),
    ("POST", "/api/ops/incidents/987654321/updates", {"status": "identified", "message": "m"}, 404,
     "incident 987654321 does not exist"),
    ("POST", "/api/ops/maintenances", {"title": "t", "components": ["engine"], "start": iso(FUTURE),
                                       "end": iso(FUTURE - timedelta(hours=1))}, 400,
     f"end {iso(FUTURE - timedelta(hours=1))} is not after start {iso(FUTURE)}"),
    ("POST", "/api/ops/maintenances", {"title": "t", "components": ["engine"], "cron": "0 0 31 4 *",
                                       "duration": "30m", "timezone": "UTC"}, 400,
     "cron expression '0 0 31 4 *' never fires"),
    ("POST", "/api/ops/maintenances", {"title": "t", "components": ["engine"], "cron": "0 2 * * sun",
                                       "duration": "30m", "timezone": "Europe/Atlantis"}, 400,
     "time zone 'Europe/Atlantis' does not exist (use an IANA name such as Europe/London or UTC)"),
    ("POST", "/api/ops/maintenances", {"title": "t", "components": ["engine"], "cron": "*/10 * * * *",
                                       "duration": "30m", "timezone": "UTC"}, 400,
     "cron expression '*/10 * * * *' fires every 10 min, less than the duration: occurrences would overlap"),
    ("POST", "/api/ops/maintenances", {"title": "t", "components": ["engine"], "minutes": 0}, 400,
     "minutes must be between 1 minute and 7 days"),
    ("POST", "/api/ops/maintenances/987654321/cancel", None, 404, "maintenance 987654321 does not exist"),
    ("PUT", "/api/ops/announcement", {"message": "m", "until": "tomorrow"}, 400,
     "until 'tomorrow' is not an ISO 8601 time such as 2026-05-01T02:00:00Z"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), REFUSED_BY_THE_API,
                         ids=[case[4][:40] for case in REFUSED_BY_THE_API])
def test_the_api_refuses_bad_input_with_an_error_naming_the_problem_and_writes_nothing(
        api: LiveServer, ops_db: psycopg.Connection, method: str, path: str, body: object, status: int,
        error: str) -> None:
    before = rows(ops_db)
    reply = call(api, method, path, body)
    assert (reply.status, reply.json()) == (status, {"error": error})
    assert rows(ops_db) == before


def test_the_api_refuses_an_update_to_a_resolved_incident_with_409(api: LiveServer, ops_db: psycopg.Connection) -> None:
    incident_id = call(api, "POST", "/api/ops/incidents", {"title": "t", "impact": "none", "components": ["engine"],
                                                           "message": "m"}).json()["id"]
    assert call(api, "POST", f"/api/ops/incidents/{incident_id}/updates",
                {"status": "resolved", "message": "ok"}).status == 201
    before = rows(ops_db)
    reply = call(api, "POST", f"/api/ops/incidents/{incident_id}/updates", {"status": "monitoring", "message": "m"})
    assert (reply.status, reply.json()) == (409, {"error": f"incident {incident_id} is resolved: it takes no more "
                                                           "updates"})
    assert rows(ops_db) == before


def test_a_wrong_token_is_401_and_logged_without_the_token(api: LiveServer, ops_db: psycopg.Connection,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    near_miss = TOKEN[:-1] + "X"
    with caplog.at_level(logging.WARNING, logger="statuspage"):
        for headers in ({"Authorization": f"Bearer {near_miss}"}, {"Authorization": ""}):
            reply = call(api, "POST", "/api/ops/incidents", {"title": "t"}, headers)
            assert (reply.status, reply.json()) == (401, {"error": "unauthorized"})
            assert reply.headers["www-authenticate"].startswith("Bearer ")
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals == ["ops api: refused POST /api/ops/incidents from 127.0.0.1: missing or wrong bearer token"] * 2
    assert not any(near_miss in r.getMessage() or TOKEN in r.getMessage() for r in caplog.records)
    assert rows(ops_db)["operator_log"] == 0


def test_without_a_token_configured_the_api_does_not_exist(make_app: Callable[..., Flask],
                                                          serve: Callable[[Flask], LiveServer]) -> None:
    server = serve(make_app(start_background=False))
    for method, path in (("POST", "/api/ops/incidents"), ("PUT", "/api/ops/announcement"),
                         ("DELETE", "/api/ops/announcement")):
        reply = http(method, server.url + path, {**BEARER, "Content-Type": "application/json"}, b"{}")
        assert (reply.status, reply.json()) == (404, {"error": "not found"})
