"""Liveness means the page's own jobs still run: a dependency that is down, locked or frozen makes
them fail, never look dead, so /healthz stays 200 through it; a job stuck past its hard deadline, or
a scheduler that stopped, turns it 503. The decision is pure and proved over every valid
combination of settings; the real cases run against a real PostgreSQL."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from statuspage import budgets
from statuspage.budgets import LIVENESS_SLACK_S, job_deadlines
from statuspage.config import Settings, load_settings
from statuspage.status import JobRun, jobs_alive

from ..helpers.freeze import frozen, prepare
from ..helpers.trades import utc
from ..helpers.wait import wait_until

T0 = utc(2026, 4, 30, 14, 30)
JOBS = ("refresh", "probe_database", "probe_engine", "probe_local", "history", "notify")
# What the decision assumes of a healthy process, well inside LIVENESS_SLACK_S together: the
# scheduler starts a run at most this late, and a run's in-memory work takes at most this long.
LATE_S, WORK_S = 2.0, 2.0


def intervals_of(s: Settings) -> dict[str, float]:
    # as scheduler.job_intervals has them, from settings alone
    return {"refresh": s.refresh_interval_s, "probe_database": s.probe_interval_s,
            "probe_engine": s.probe_interval_s, "probe_local": s.probe_interval_s,
            "history": s.probe_interval_s, "notify": min(s.probe_interval_s, 5.0)}


def test_the_intervals_above_are_the_schedulers(writer, make_app) -> None:
    from statuspage.jobs.scheduler import job_intervals

    rt = make_app(start_background=False, REFRESH_INTERVAL_S="7", STALE_AFTER_S="30", PROBE_INTERVAL_S="11",
                  PROBE_TIMEOUT_S="2").extensions["statuspage"]
    assert job_intervals(rt) == intervals_of(rt.settings)


def positive(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def valid_settings(draw: st.DrawFn) -> Settings:
    """Any combination config.load_settings accepts, across each setting's whole valid range."""
    refresh = draw(positive(0.001, 86400))
    probe = draw(positive(0.001, 86400))
    env = {
        "DATABASE_URL": "postgresql://reader@db.example:5432/engine",
        "REFRESH_INTERVAL_S": repr(refresh),
        "STALE_AFTER_S": repr(refresh * draw(positive(1.001, 100))),
        "PROBE_INTERVAL_S": repr(probe),
        "PROBE_TIMEOUT_S": repr(probe * draw(positive(0.001, 0.999))),
        "PROBE_CONFIRM": str(draw(st.integers(1, 100))),
        "DB_CONNECT_TIMEOUT_S": repr(draw(positive(0.001, 600))),
        "DB_STATEMENT_TIMEOUT_MS": str(draw(st.integers(1, 3_600_000))),
        "NOTIFY_TIMEOUT_S": repr(draw(positive(0.001, 600))),
    }
    return load_settings(env)


@st.composite
def healthy_runs(draw: st.DrawFn, interval: float, deadline: float) -> list[tuple[float, float]]:
    """(start, end) of successive runs, each ending within its deadline (plus in-memory work) and
    each starting within one interval (plus scheduler lateness) of the last one's end."""
    runs, last_end = [], 0.0
    for _ in range(draw(st.integers(1, 6))):
        start = last_end + draw(positive(0, 1)) * (interval + LATE_S)
        end = start + draw(positive(0, 1)) * (deadline + WORK_S)
        runs.append((start, end))
        last_end = end
    return runs


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), s=valid_settings())
def test_every_healthy_schedule_is_alive_under_every_valid_setting(data: st.DataObject, s: Settings) -> None:
    """Whatever the settings, a job that keeps being run is alive at every moment, in particular at
    the end of a run that took its whole hard deadline (a dependency that never answered) and just
    before a start that came a whole interval late. The old rule (three intervals since the last
    run) failed exactly here whenever a deadline exceeded three intervals."""
    intervals, deadlines = intervals_of(s), job_deadlines(s)
    for job in JOBS:
        runs = data.draw(healthy_runs(intervals[job], deadlines[job]), label=job)
        latest: dict[str, JobRun] = {}
        for start, end in runs:
            # the latest moment of the gap before this run: idle since the last end (or start-up)
            assert jobs_alive(latest, intervals, deadlines, at(start), T0)[job]
            latest[job] = JobRun(at(start))
            # the latest moment of the run: still running
            assert jobs_alive(latest, intervals, deadlines, at(end), T0)[job]
            latest[job] = JobRun(at(start), at(end))
        # after the last run, up to when the next one is due
        assert jobs_alive(latest, intervals, deadlines, at(runs[-1][1] + intervals[job] + LATE_S), T0)[job]


@settings(max_examples=300, deadline=None)
@given(s=valid_settings(), job=st.sampled_from(JOBS), over=positive(0.001, 3600))
def test_a_stuck_or_unscheduled_job_is_dead_under_every_valid_setting(s: Settings, job: str, over: float) -> None:
    intervals, deadlines = intervals_of(s), job_deadlines(s)
    # stuck in a run beyond its hard deadline and the slack
    stuck = at(deadlines[job] + LIVENESS_SLACK_S + over)
    assert not jobs_alive({job: JobRun(at(0))}, intervals, deadlines, stuck, T0)[job]
    # never started again after a run ended: the scheduler stopped
    gone = at(1 + intervals[job] + LIVENESS_SLACK_S + over)
    assert not jobs_alive({job: JobRun(at(0), at(1))}, intervals, deadlines, gone, T0)[job]
    # and before any run at all, judged from start-up
    assert not jobs_alive({}, intervals, deadlines, at(intervals[job] + LIVENESS_SLACK_S + over), T0)[job]


def test_each_hard_deadline_covers_the_calls_its_job_makes() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://reader@db.example:5432/engine", "DB_CONNECT_TIMEOUT_S": "5",
                       "DB_STATEMENT_TIMEOUT_MS": "5000", "PROBE_TIMEOUT_S": "3", "NOTIFY_TIMEOUT_S": "5"})
    call = 5 + budgets.MARGIN_S
    assert job_deadlines(s) == {
        # the leadership check (a connect), then the pickup (the wait for the leader's first publication,
        # a pooled wait and one transaction's worth, then twice a connect and a query) and the
        # process's own read when that fails: a wait for a pooled connection, one transaction
        "refresh": 5 + (5 + call) + 2 * (5 + call) + (5 + call),
        "probe_database": 3, "probe_engine": 3, "probe_local": 3,
        "history": 5 + 4 * call,  # connect, session check, lock, write, read
        "notify": 5 + call + 20 * (2 * call + 5 + budgets.MARGIN_S),  # connect, orphans, 20 x (claim, post, settle)
    }


# --- the real thing: a served app whose database fails in each way ---


def watch_health(server, seconds: float) -> tuple[list[tuple[int, str]], dict[str, float]]:
    """/healthz every 0.2 s for ``seconds``: every (status, body status) seen, and the longest run
    of each job observed (from /ops-free state: the app's own record)."""
    rt = server.app.extensions["statuspage"]
    seen, longest = [], dict.fromkeys(JOBS, 0.0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        reply = server.get("/healthz")
        seen.append((reply.status, reply.json()["status"]))
        for job in JOBS:
            run = rt.state.job_latest.get(job)
            if run and run.ended:
                longest[job] = max(longest[job], (run.ended - run.started).total_seconds())
        time.sleep(0.2)
    return seen, longest


def assert_within_deadlines(rt, longest: dict[str, float]) -> None:
    deadlines = job_deadlines(rt.settings)
    for job, took in longest.items():
        assert took <= deadlines[job] + 1.5, f"{job} ran {took:.1f} s, hard deadline {deadlines[job]:.1f} s"


FAULT = {"REFRESH_INTERVAL_S": "1", "STALE_AFTER_S": "30", "PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5"}


def test_healthz_stays_200_through_a_database_stop_longer_than_three_intervals(private_pg, make_app, serve) -> None:
    """DB_CONNECT_TIMEOUT_S 5 and REFRESH_INTERVAL_S 1: every refresh waits 5 s for a connection,
    five intervals; under the old rule the refresh looked dead after three."""
    prepare(private_pg)
    server = serve(make_app(private_pg.dsn, **FAULT, DB_CONNECT_TIMEOUT_S="5"))
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="ready")
    private_pg.stop()
    seen, longest = watch_health(server, 14)
    assert {status for status, _ in seen} == {200}, seen
    assert seen[-1] == (200, "degraded")
    assert longest["refresh"] >= 4  # the refresh did wait its 5 s, more than three intervals
    assert_within_deadlines(server.app.extensions["statuspage"], longest)
    private_pg.start()
    wait_until(lambda: server.get("/healthz").json()["status"] == "ok", timeout=15, what="ok again")


def test_healthz_stays_200_while_a_table_lock_blocks_every_refresh(private_pg, make_app, serve) -> None:
    prepare(private_pg)
    server = serve(make_app(private_pg.dsn, **FAULT, DB_STATEMENT_TIMEOUT_MS="4000"))
    rt = server.app.extensions["statuspage"]
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="ready")
    with psycopg.connect(private_pg.dsn) as locker:
        locker.execute("LOCK TABLE closed_trades IN ACCESS EXCLUSIVE MODE")
        seen, longest = watch_health(server, 12)
        assert "statement timeout" in rt.state.last_refresh_error
        locker.rollback()
    assert {status for status, _ in seen} == {200}, seen
    assert longest["refresh"] >= 3.5  # each refresh waited out the lock until the statement timeout
    assert_within_deadlines(rt, longest)
    wait_until(lambda: rt.state.last_refresh_error == "", timeout=10, what="refreshes succeed again")


def test_healthz_stays_200_while_the_database_is_frozen(private_pg, make_app, serve) -> None:
    prepare(private_pg)
    server = serve(make_app(private_pg.dsn, **FAULT, DB_STATEMENT_TIMEOUT_MS="3000"))
    rt = server.app.extensions["statuspage"]
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="ready")
    with frozen(private_pg):
        seen, longest = watch_health(server, 14)
    assert {status for status, _ in seen} == {200}, seen
    assert seen[-1] == (200, "degraded")
    assert_within_deadlines(rt, longest)
    wait_until(lambda: server.get("/healthz").json()["status"] == "ok", timeout=15, what="ok again")


def test_a_job_really_stuck_past_its_hard_deadline_turns_healthz_503(writer, make_app, serve, tmp_path) -> None:
    """The tracker file is a FIFO nobody writes: opening it blocks the local probe for good."""
    fifo = tmp_path / "tracker.json"
    os.mkfifo(fifo)
    server = serve(make_app(TRACKER_JSON_PATH=str(fifo), STALE_AFTER_S="30"))
    rt = server.app.extensions["statuspage"]
    wait_until(lambda: server.get("/healthz").status == 200, timeout=20, what="healthy")
    def running_since() -> datetime | None:
        run = rt.state.job_latest.get("probe_local")
        return run.started if run and run.ended is None else None

    stuck_since = wait_until(running_since, what="the local probe blocked on the FIFO")
    try:
        limit = job_deadlines(rt.settings)["probe_local"] + LIVENESS_SLACK_S
        reply = wait_until(lambda: (r := server.get("/healthz")).status == 503 and r, timeout=limit + 10,
                           what="healthz 503")
        assert (datetime.now(UTC) - stuck_since).total_seconds() >= limit
        assert reply.json()["status"] == "failing" and reply.json()["jobs"]["probe_local"] is False
        assert [job for job, ok in reply.json()["jobs"].items() if not ok] == ["probe_local"]
        livez = server.get("/livez")
        assert livez.status == 503 and livez.json()["jobs"]["probe_local"] is False
        assert server.get("/readyz").status == 200  # readiness is about the database and the numbers
    finally:
        # Unblock it for good: a writer appears (O_RDWR does not wait for one), the path becomes a
        # plain file for the runs to come, and the blocked run reads "[]" and ends.
        writer_fd = os.open(fifo, os.O_RDWR)
        plain = tmp_path / "tracker.tmp"
        plain.write_text("[]")
        os.replace(plain, fifo)
        os.write(writer_fd, b"[]")
        os.close(writer_fd)
    wait_until(lambda: server.get("/healthz").status == 200, timeout=10, what="alive again")


def test_a_stopped_scheduler_turns_healthz_503(writer, make_app, serve) -> None:
    server = serve(make_app(STALE_AFTER_S="30"))
    rt = server.app.extensions["statuspage"]
    wait_until(lambda: server.get("/healthz").status == 200, timeout=20, what="healthy")
    rt.scheduler.shutdown(wait=True)
    stopped = time.monotonic()
    reply = wait_until(lambda: (r := server.get("/healthz")).status == 503 and r, timeout=1 + LIVENESS_SLACK_S + 10,
                       what="healthz 503")
    assert time.monotonic() - stopped >= 1 + LIVENESS_SLACK_S - 1.5  # not before the next run was overdue
    assert reply.json()["status"] == "failing" and not all(reply.json()["jobs"].values())
    assert server.get("/livez").status == 503


def test_under_gunicorn_healthz_stays_200_on_every_worker_while_the_database_is_frozen(
        private_pg, start_gunicorn) -> None:
    prepare(private_pg)
    server = start_gunicorn(DATABASE_URL=private_pg.dsn, DB_STATEMENT_TIMEOUT_MS="3000")
    wait_until(lambda: len(server.scheduler_pids()) == 2, what="two schedulers started")
    server.wait_served("/healthz")
    seen: list[int] = []
    failing: list[str] = []  # what a 503 said, for the failure message
    with frozen(private_pg):
        end = time.monotonic() + 14
        while time.monotonic() < end:
            for r in server.get_many("/healthz", 8):
                seen.append(r.status)
                if r.status != 200:
                    failing.append(r.body.decode())
            time.sleep(0.2)
        degraded = [r.json()["status"] for r in server.get_many("/healthz", 16)]
    assert set(seen) == {200} and set(degraded) == {"degraded"}, failing[:3]
    assert {int(e["pid"].strip("<>")) for e in server.access() if e["path"] == "/healthz"} == \
        set(server.worker_pids())  # both workers answered throughout
    wait_until(lambda: {r.json()["status"] for r in server.get_many("/healthz", 16)} == {"ok"}, timeout=20,
               what="ok again on every worker")
