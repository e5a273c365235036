"""Notifications against real HTTP receivers on 127.0.0.1: once per event, retried through
failures and hangs, sent by one leader only, and never lost when a leader dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from statuspage.demo.simengine import SimEngine
from statuspage.jobs.scheduler import history_job, notify_job, probe_database_job, refresh_job
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL
from statuspage.web.ops import operator_view

from ..helpers import ROOT
from ..helpers.app import app_process, run_jobs
from ..helpers.trades import utc
from ..helpers.wait import wait_until

T = utc(2026, 4, 30, 12, 0)
PUBLIC = "https://status.example.com/"




def runtime(make_app, url: str, **env: str):
    app = make_app(start_background=False, NOTIFY_WEBHOOK_URLS=url, PUBLIC_URL=PUBLIC, **env)
    return run_jobs(app, T, (refresh_job, probe_database_job, history_job), pool_ready=True)


def step(rt, seconds: float, state: str | None = None) -> None:
    """At T + seconds: optionally the database changes state; then the history and notify jobs run."""
    now = T + timedelta(seconds=seconds)
    if state:
        rt.state.observe("database", Observation(state, f"database {state}"), now, 1)
    history_job(rt, now)
    notify_job(rt, now)


def test_an_incident_sends_one_opened_and_one_resolved(writer, make_app, receiver) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    step(rt, 40)
    assert hook.received == []  # 30 s old: could still be a flap
    step(rt, 75)
    step(rt, 90)
    step(rt, 200, OPERATIONAL)
    step(rt, 215)
    assert hook.delivered() == [
        {"event": "incident.opened", "component": "database", "from": "operational", "to": "down",
         "at": "2026-04-30T12:00:10Z", "duration_s": None, "detail": "database down", "page_url": PUBLIC},
        {"event": "incident.resolved", "component": "database", "from": "down", "to": "operational",
         "at": "2026-04-30T12:03:20Z", "duration_s": 190, "detail": "database down", "page_url": PUBLIC},
    ]
    assert len(hook.received) == 2
    assert len({r["key"] for r in hook.received}) == 2


def test_a_flap_shorter_than_the_minimum_sends_nothing(writer, make_app, receiver) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    step(rt, 40, OPERATIONAL)
    for seconds in (80, 120, 400):
        step(rt, seconds)
    assert hook.received == []


def test_a_receiver_failing_three_times_gets_the_message_once(writer, make_app, receiver) -> None:
    hook = receiver(["500", "502", "503"])
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    for seconds in (75, 400, 800, 1200, 1600, 2000):  # each past the longest backoff (300 s)
        step(rt, seconds)
    assert [r["answer"] for r in hook.received] == ["500", "502", "503", "200"]
    assert len({r["key"] for r in hook.received}) == 1  # one message, retried under one key
    assert len(hook.delivered("incident.opened")) == 1
    registry = rt.state.metrics.registry
    assert registry.get_sample_value("statuspage_notifications_total", {"outcome": "retry"}) == 3
    assert registry.get_sample_value("statuspage_notifications_total", {"outcome": "delivered"}) == 1


def test_retries_wait_for_their_backoff(writer, make_app, receiver) -> None:
    hook = receiver(["500"])
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    step(rt, 75)
    step(rt, 75.5)  # backoff after one failure is 1 to 2 s: too early
    assert len(hook.received) == 1
    step(rt, 78)
    assert [r["answer"] for r in hook.received] == ["500", "200"]


def test_a_hanging_receiver_is_timed_out_and_retried(writer, make_app, receiver) -> None:
    hook = receiver(["hang"])
    rt = runtime(make_app, hook.url, NOTIFY_TIMEOUT_S="0.5")
    step(rt, 10, DOWN)
    started = time.monotonic()
    step(rt, 75)
    assert time.monotonic() - started < 5  # bounded by the 0.5 s timeout, with room for a busy machine
    assert hook.delivered() == []
    step(rt, 400)
    assert len(hook.delivered("incident.opened")) == 1


def test_a_4xx_is_final_and_shown_to_the_operator(writer, make_app, receiver) -> None:
    hook = receiver(["404"])
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    for seconds in (75, 400, 800):
        step(rt, seconds)
    assert [r["answer"] for r in hook.received] == ["404"]
    step(rt, 801)  # the history job reads what the operator view shows
    failures = operator_view(rt, T + timedelta(seconds=801))["failed_notifications"]
    assert [(f["event"], f["last_error"], f["receiver"], f["attempts"]) for f in failures] == [
        ("incident.opened", "HTTP 404", f"http://127.0.0.1:{hook.server.server_port}/…", 1)]
    assert rt.state.metrics.registry.get_sample_value("statuspage_notifications_total", {"outcome": "failed"}) == 1


def test_a_leader_that_dies_after_the_outbox_write_still_delivers_exactly_once(writer, make_app, receiver) -> None:
    hook = receiver()
    first = runtime(make_app, hook.url)
    step_first = T + timedelta(seconds=10)
    first.state.observe("database", Observation(DOWN, "database down"), step_first, 1)
    history_job(first, step_first)
    history_job(first, T + timedelta(seconds=75))  # the outbox row is written here...
    assert writer.execute("SELECT status FROM statuspage.notifications").fetchall() == [("pending",)]
    # ...and the leader dies before its notify job runs: its session, and so its lock, are gone
    writer.execute("SELECT pg_terminate_backend(%s)", (first.leader.conn.info.backend_pid,))

    second = runtime(make_app, hook.url)
    second.state.observe("database", Observation(DOWN, "database down"), step_first, 1)
    assert second.leader.is_leader
    notify_job(second, T + timedelta(seconds=80))
    notify_job(first, T + timedelta(seconds=81))  # a stale sender finds nothing left to claim
    notify_job(second, T + timedelta(seconds=90))
    assert len(hook.delivered("incident.opened")) == 1 and len(hook.received) == 1


def test_a_row_leased_by_a_dead_sender_is_sent_after_the_lease_runs_out(writer, make_app, receiver) -> None:
    hook = receiver()
    rt = runtime(make_app, hook.url)
    step(rt, 10, DOWN)
    history_job(rt, T + timedelta(seconds=75))
    # another process claimed it at 12:01:15 and died mid-send
    writer.execute("UPDATE statuspage.notifications SET claimed_by = 'dead:1', attempts = 1, "
                   "lease_until = %s", (T + timedelta(seconds=90),))
    notify_job(rt, T + timedelta(seconds=80))
    assert hook.received == []
    notify_job(rt, T + timedelta(seconds=91))
    assert len(hook.delivered("incident.opened")) == 1


def test_no_secret_reaches_a_payload(pg_dsn, make_app, writer, receiver) -> None:
    hook = receiver()
    secret_dsn = pg_dsn.replace("postgres@", "postgres:pw-SENTINEL-7731@")
    rt = runtime(make_app, hook.url, DATABASE_URL=secret_dsn, OPS_TOKEN="ops-SENTINEL-token-0042")
    rt.state.observe("database", Observation(DOWN, "database is not reachable", "OperationalError at "
                                             "host 10.1.2.3 password pw-SENTINEL-7731"), T, 1)
    step(rt, 75)
    assert len(hook.received) == 1
    raw = hook.received[0]["raw"]
    for secret in (b"SENTINEL", b"s3cr3t-hook-token", b"10.1.2.3"):
        assert secret not in raw


def test_two_processes_send_each_message_once(writer, pg_dsn, receiver) -> None:
    hook = receiver()
    with SimEngine() as engine:
        procs = [app_process(pg_dsn, engine.url, NOTIFY_WEBHOOK_URLS=hook.url, NOTIFY_MIN_INCIDENT_S="1")
                 for _ in range(2)]
        try:
            wait_until(lambda: writer.execute("SELECT count(*) FROM statuspage.state_changes "
                                              "WHERE component = 'engine'").fetchone()[0], timeout=20,
                       what="the engine seen operational")
            engine.db_connected = False
            wait_until(lambda: hook.delivered("incident.opened"), timeout=20, what="opened delivered")
            engine.db_connected = True
            wait_until(lambda: hook.delivered("incident.resolved"), timeout=20, what="resolved delivered")
            time.sleep(3)  # both processes run their jobs several more times
            assert [m["event"] for m in hook.delivered()] == ["incident.opened", "incident.resolved"]
            assert len(hook.received) == 2
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_notify_test_reports_each_receiver(receiver) -> None:
    good, bad = receiver(), receiver(["404"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(DATABASE_URL="postgresql://page@db.invalid/engine", NOTIFY_WEBHOOK_URLS=f"{good.url},{bad.url}")
    result = subprocess.run([sys.executable, "-m", "statuspage", "notify", "test"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"notify test: http://127.0.0.1:{good.server.server_port}/…: delivered (HTTP 200)",
        f"notify test: http://127.0.0.1:{bad.server.server_port}/…: failed (HTTP 404)",
    ]
    assert good.received[0]["body"]["event"] == "incident.test" and good.received[0]["body"]["test"] is True
    assert "s3cr3t-hook-token" not in result.stdout + result.stderr


def test_database_probe_never_waits_for_notifications(writer, make_app, receiver, serve) -> None:
    """A receiver that hangs holds only the notify job: probes, refresh and pages carry on."""
    hook = receiver(["hang"] * 50)
    # PROBE_CONFIRM high: the engine stays where the test puts it, whatever its own probe sees
    app = make_app(NOTIFY_WEBHOOK_URLS=hook.url, NOTIFY_MIN_INCIDENT_S="0.1", NOTIFY_TIMEOUT_S="2",
                   PROBE_CONFIRM="1000")
    server = serve(app)
    rt = app.extensions["statuspage"]
    wait_until(lambda: rt.leader.is_leader, timeout=10, what="leadership")
    rt.state.observe("engine", Observation(DOWN, "engine is not reachable"), rt.state.started_at, 1)
    wait_until(lambda: hook.received, timeout=15, what="a send in flight")
    runs = dict(rt.state.job_runs)
    wait_until(lambda: all(rt.state.job_runs[j] > runs[j] for j in ("refresh", "probe_database")),
               timeout=10, what="refresh and probes keep running")
    assert server.get("/livez").status == 200
    assert server.get("/performance/landing").status == 200
