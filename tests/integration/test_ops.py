"""The operator view: off without OPS_TOKEN, closed without the token, and the only place where
error text, hosts, tracker drift and probe internals appear.

Faults are real: a database of the test's own that the test stops, an engine URL nothing listens
on, an unreadable tracker file. Jobs run with the test's own ``now``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from statuspage.config import redact_dsn
from statuspage.db.leader import identity
from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres, free_port
from statuspage.formatting import utc_iso, utcnow
from statuspage.jobs.scheduler import (
    history_job,
    job_intervals,
    probe_database_job,
    probe_engine_job,
    probe_local_job,
    refresh_job,
)
from statuspage.state import AppState
from statuspage.web import ops

from ..helpers.app import public_gets
from ..helpers.dom import parse
from ..helpers.wait import wait_until

TOKEN = "ops-token-0123456789-abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


# --- off, closed ---


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "OPTIONS"])
def test_without_a_token_configured_the_view_does_not_exist(make_app: Callable[..., Flask], method: str) -> None:
    client = make_app(start_background=False).test_client()
    for path, unknown in (("/ops", "/no-such-page"), ("/ops.json", "/no-such-page.json")):
        reply, baseline = client.open(path, method=method, headers=BEARER), client.open(unknown, method=method)
        assert reply.status_code == 404
        assert (reply.data, reply.mimetype) == (baseline.data, baseline.mimetype)  # nothing tells them apart


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Bearer wrong-token-0123456789", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
    f"Basic {base64.b64encode(f'ops:{TOKEN}'.encode()).decode()}", f"Token {TOKEN}", TOKEN, f"Bearer {TOKEN.upper()}",
    "Bearer \u00e9\u00e8-not-ascii-at-all",
])
def test_a_missing_or_wrong_token_gets_401_asking_for_a_bearer_token(make_app: Callable[..., Flask],
                                                                     authorization: str | None) -> None:
    client = make_app(start_background=False, OPS_TOKEN=TOKEN).test_client()
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/ops", "/ops.json"):
        reply = client.get(path, headers=headers)
        assert reply.status_code == 401, (path, authorization)
        assert reply.headers["WWW-Authenticate"].startswith("Bearer ")
        assert reply.headers["Cache-Control"] == "no-store"
        assert TOKEN not in reply.text and "operator_detail" not in reply.text
    assert client.get("/ops.json", headers=headers).get_json() == {"error": "unauthorized"}


def test_the_token_is_compared_in_constant_time(make_app: Callable[..., Flask],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = ops.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(ops.hmac, "compare_digest", spy)
    client = make_app(start_background=False, OPS_TOKEN=TOKEN).test_client()
    assert client.get("/ops.json", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.get("/ops.json", headers=BEARER).status_code == 200
    assert compared == [(b"guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


# --- what it shows, and what nothing else shows ---


class Faults:
    """A page whose database went down, whose engine cannot be reached and whose tracker file is
    garbage (at a path that carries ``marker``)."""

    def __init__(self, pg: EmbeddedPostgres, app: Flask, marker: str, engine_port: int,
                 runs: dict[str, datetime]) -> None:
        self.pg, self.app, self.marker, self.engine_port, self.runs = pg, app, marker, engine_port, runs

    @property
    def state(self) -> AppState:
        return self.app.extensions["statuspage"].state


@pytest.fixture
def faults(private_pg: EmbeddedPostgres, make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[Faults]:
    marker = f"operator-only-{uuid.uuid4().hex[:12]}"
    t0 = utcnow() - timedelta(minutes=5)
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        seed.create_schema(conn)
        seed.insert(conn, seed.history(40, 20, t0))
    tracker = tmp_path / f"tracker-{marker}.json"
    tracker.write_text("{not json")
    engine_port = free_port()  # nothing listens there
    app = make_app(dsn=private_pg.dsn, start_background=False, OPS_TOKEN=TOKEN, PROBE_CONFIRM="2",
                   DB_CONNECT_TIMEOUT_S="1", TRACKER_JSON_PATH=str(tracker),
                   ENGINE_METRICS_URL=f"http://127.0.0.1:{engine_port}/metrics")
    rt, runs = app.extensions["statuspage"], {}

    def run(job: Callable, now: datetime) -> None:
        job(rt, now)
        runs[job.__name__.removesuffix("_job")] = now

    for job in (refresh_job, probe_database_job, probe_engine_job, probe_local_job, history_job):
        run(job, t0)  # the first results are taken at once: engine and metrics down
    private_pg.stop()
    run(refresh_job, t0 + timedelta(seconds=10))
    run(probe_database_job, t0 + timedelta(seconds=10))
    run(probe_database_job, t0 + timedelta(seconds=20))  # down, confirmed
    private_pg.start()
    run(history_job, t0 + timedelta(seconds=30))  # records the outage: the feeds have an incident

    def back_up_once() -> bool:  # pending, not yet confirmed (the pool may need a moment to reconnect)
        run(probe_database_job, t0 + timedelta(seconds=40))
        return rt.state.components["database"].pending_state == "operational"

    wait_until(back_up_once, timeout=20, every=0.2, what="a database probe that succeeds again")
    yield Faults(private_pg, app, marker, engine_port, runs)


def test_the_operator_view_shows_what_the_public_page_leaves_out(faults: Faults) -> None:
    client = faults.app.test_client()
    reply = client.get("/ops.json", headers=BEARER)
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    assert "no-store" in reply.headers["Cache-Control"]
    view = reply.get_json()
    state, runs = faults.state, faults.runs

    assert view["database"] == redact_dsn(faults.pg.dsn)
    assert view["snapshot"]["last_refresh_error"] == state.last_refresh_error != ""
    assert faults.marker in view["tracker_drift"] and "unreadable" in view["tracker_drift"]
    components = {c["name"]: c for c in view["components"]}
    database, engine = components["database"], components["engine"]
    assert database["state"] == "down" and database["operator_detail"].startswith(("OperationalError", "PoolTimeout"))
    assert (database["pending_state"], database["pending_count"]) == ("operational", 1)
    assert database["checked_at"] == utc_iso(runs["probe_database"]) and database["latency_ms"] > 0
    assert engine["state"] == "down" and engine["operator_detail"].startswith("ConnectionRefusedError")
    # ENGINE_METRICS_URL is secret: shown as its host and port only
    assert f"(http://127.0.0.1:{faults.engine_port}/<redacted>)" in engine["operator_detail"]
    assert {job["name"]: job["last_run"] for job in view["jobs"]} == {
        job: utc_iso(runs[job]) if job in runs else None for job in job_intervals(faults.app.extensions["statuspage"])}

    page = parse(client.get("/ops", headers=BEARER).data)
    assert page.by_id("ops-database").text == view["database"]
    assert page.by_id("ops-refresh-error").text == view["snapshot"]["last_refresh_error"]
    assert page.by_id("ops-tracker-drift").text == view["tracker_drift"]
    assert page.by_id("ops-component-engine").find(cls="ops-operator-detail").text == engine["operator_detail"]


def test_operator_detail_never_reaches_the_page_the_fragments_the_json_or_the_feeds(faults: Faults) -> None:
    state = faults.state
    secrets = {faults.marker, state.last_refresh_error, state.tracker_drift, redact_dsn(faults.pg.dsn),
               f"127.0.0.1:{faults.pg.port}", f"port {faults.pg.port}", f"127.0.0.1:{faults.engine_port}", identity(),
               *(c.operator_detail for c in state.components.values() if c.operator_detail)}
    assert all(secrets) and len(secrets) >= 8
    client = faults.app.test_client()
    paths = public_gets(faults.app)
    assert {"/", "/status.json", "/performance/landing", "/history.json", "/history.atom"} <= set(paths)
    incidents = json.loads(client.get("/history.json").data)["incidents"]
    assert any(i["component"] == "database" for i in incidents)  # the feeds do report the outage
    for path in paths:
        reply = client.get(path)
        assert reply.status_code in (200, 503), path
        for secret in secrets:
            assert secret not in reply.text, (path, secret)
