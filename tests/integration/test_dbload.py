"""The database load is set by processes and intervals, never by visitors.

Each process runs its background jobs on their intervals, and each job run sends a fixed set of
statements; requests read memory. So the statements a page sends per minute are
``processes x sum over jobs of (60 / interval x statements per run)``, whatever the traffic.
Counted by the server itself (``pg_stat_statements``, preloaded by the session's embedded
PostgreSQL) and by the pool's own statistics, per job run rather than per second, so a loaded
machine that delays the jobs cannot bend the result.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from flask import Flask

from statuspage.jobs.scheduler import (
    history_job,
    notify_job,
    probe_database_job,
    probe_engine_job,
    probe_local_job,
    refresh_job,
)
from statuspage.state import Runtime

from ..helpers.http import LiveServer, get
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

# Everything a visitor (or a poll) can ask for.
PATHS = ("/", "/performance/landing", "/status.json", "/fragments/banner", "/fragments/windows",
         "/fragments/components", "/fragments/history", "/history.json", "/history.atom", "/badge/overall.svg",
         "/badge/database.svg", "/healthz", "/livez", "/readyz", "/metrics")

# Statements sent to this database, those of this test's own counting left out.
_COUNT = """
SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


@pytest.fixture
def counter(stat_statements: psycopg.Connection) -> Callable[[], int]:
    """Statements executed in the test database so far, from pg_stat_statements."""
    return lambda: int(stat_statements.execute(_COUNT).fetchone()[0])


@pytest.fixture
def trades(writer: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    for trade_id, (age, pnl) in enumerate([(1, "12.50"), (30, "-4.00"), (200, "7.25"), (2000, "3.00")], start=1):
        add_trade(writer, trade_id, now - timedelta(hours=age), pnl, fees="0.10")


def burst(url: str, n: int, workers: int = 8) -> Counter[int]:
    """``n`` requests spread over every path, ``workers`` at a time; their statuses counted."""
    paths = [PATHS[i % len(PATHS)] for i in range(n)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(lambda path: get(url + path).status, paths))


def test_a_burst_of_visitors_sends_no_statement_to_the_database(make_app, serve, trades, counter) -> None:
    app = make_app(start_background=False)
    rt: Runtime = app.extensions["statuspage"]
    for job in (refresh_job, probe_database_job, probe_engine_job, probe_local_job, history_job, notify_job):
        job(rt)  # every view has something to show: snapshot, components, history
    server = serve(app)
    before, pool_before = counter(), rt.pool.get_stats().get("requests_num", 0)

    statuses = burst(server.url, 450)

    assert set(statuses) == {200}, statuses
    assert counter() - before == 0
    assert rt.pool.get_stats().get("requests_num", 0) == pool_before  # not even a connection was asked for


class JobRuns:
    """Background job runs of one process, counted as APScheduler reports them."""

    def __init__(self, app: Flask) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        app.extensions["statuspage"].scheduler.add_listener(self._ran, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _ran(self, event: JobExecutionEvent) -> None:
        with self._lock:
            self.counts[event.job_id] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def statements_per_run(runs: JobRuns, count: Callable[[], int], seconds: float,
                       during: Callable[[], object] = lambda: None) -> tuple[float, int, int]:
    """(statements per job run, statements, job runs) over ``seconds``, doing ``during`` meanwhile."""
    statements, jobs = count(), runs.total()
    deadline = time.monotonic() + seconds
    during()
    time.sleep(max(0.0, deadline - time.monotonic()))
    statements, jobs = count() - statements, runs.total() - jobs
    assert jobs > 0, "no background job ran in the window"
    return statements / jobs, statements, jobs


def test_statements_follow_the_jobs_whatever_the_traffic(make_app, serve, trades, counter) -> None:
    app = make_app()  # the real scheduler, every interval 1 s (tests' FAST settings)
    runs = JobRuns(app)
    server: LiveServer = serve(app)
    wait_until(lambda: server.get("/performance/landing").status == 200 and server.get("/history.json").status == 200,
               what="the first snapshot and history")
    time.sleep(1.5)  # past the first runs, which differ (the cold history read, the leader taking the lock)

    try:
        quiet_rate, quiet, quiet_jobs = statements_per_run(runs, counter, 5)
        served: Counter[int] = Counter()
        busy_rate, busy, busy_jobs = statements_per_run(runs, counter, 5,
                                                        lambda: served.update(burst(server.url, 600)))
    finally:
        # let a running job finish before the runtime closes, or it could take the history lock again
        app.extensions["statuspage"].scheduler.shutdown(wait=True)

    assert set(served) <= {200, 304} and sum(served.values()) == 600
    # Each job run sends the same few statements with or without 600 visitors; one statement per
    # request would have added 600 to the ~100 of the window.
    assert busy_rate <= quiet_rate * 1.3 + 1, (quiet, quiet_jobs, busy, busy_jobs)
    assert busy - quiet_rate * busy_jobs < 60, (quiet, quiet_jobs, busy, busy_jobs)
