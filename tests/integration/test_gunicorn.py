"""gunicorn for real, as a subprocess against a real PostgreSQL: several workers, one scheduler
each and none in the master, /metrics over every worker, clean exits and final start-up errors."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime

import psycopg
import pytest

from ..helpers.gunicorn import EXPECTED, LANDING, TRADES
from ..helpers.http import http
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

# Trades relative to now, far from every window edge: (age, pnl).


@pytest.fixture
def seeded(writer: psycopg.Connection) -> None:
    """The trades behind EXPECTED, written before gunicorn starts."""
    now = datetime.now(UTC)
    for trade_id, (age, pnl) in enumerate(TRADES, start=1):
        add_trade(writer, trade_id, now - age, pnl)


def _samples(metrics: str, name: str) -> dict[str, float]:
    """``{'{labels}': value}`` of every sample named exactly ``name``."""
    found = re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", metrics, flags=re.MULTILINE)
    return {labels: float(value) for labels, value in found}


def test_two_workers_serve_the_same_landing_numbers_and_both_take_requests(pg_dsn, seeded, start_gunicorn) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    server.wait_ready()
    workers = set(server.worker_pids())

    def both_served_correct_numbers() -> bool:
        for reply in server.get_many(LANDING, 32):
            if reply.status != 200:  # a worker still on its first read (a loaded machine): ask again
                assert reply.json() == {"error": "no snapshot yet: the page has not completed its first read of "
                                                 "the database"}
                return False
            windows = reply.json()["windows"]
            assert {name: (w["trades"], w["pnl"]) for name, w in windows.items()} == EXPECTED
        return server.pids_that_served(LANDING) == workers

    wait_until(both_served_correct_numbers, timeout=20, what="both workers serving the landing numbers")
    assert len(workers) == 2


def test_metrics_sum_requests_over_workers_and_report_landing_gauges_once(pg_dsn, seeded, start_gunicorn) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    server.wait_ready()
    server.get_many(LANDING, 40)
    server.get_many("/healthz", 10)

    def both_in_the_log() -> bool:
        server.get_many(LANDING, 8)  # the kernel decides which worker accepts: ask until both have answered
        return server.pids_that_served(LANDING) == set(server.worker_pids())

    wait_until(both_in_the_log, timeout=30, what="both workers in the access log")

    metrics = server.get("/metrics").text
    # Each worker counted only its own share; /metrics adds them up.
    assert sum(_samples(metrics, "flask_http_request_total").values()) == sum(server.made.values())
    landing = {k: v for k, v in _samples(metrics, "flask_http_request_duration_seconds_count").items()
               if 'endpoint="public.landing"' in k}
    assert sum(landing.values()) == server.made[LANDING]
    # A snapshot value once per window: not per pid, not summed over the two workers.
    assert _samples(metrics, "statuspage_landing_trades") == {
        f'{{window="{name}"}}': float(trades) for name, (trades, _) in EXPECTED.items()}
    assert _samples(metrics, "statuspage_landing_pnl_usd") == {
        f'{{window="{name}"}}': float(pnl) for name, (_, pnl) in EXPECTED.items()}
    assert list(_samples(metrics, "statuspage_db_connected").items()) == [("", 1.0)]
    assert len(_samples(metrics, "statuspage_last_successful_refresh_timestamp_seconds")) == 1
    assert "pid=" not in metrics


def test_access_log_is_one_json_object_per_request_without_query_or_headers(pg_dsn, start_gunicorn) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    wait_until(lambda: len(server.scheduler_pids()) == 2, what="two schedulers started")
    # A path that would forge a field or split the line if it were logged unescaped.
    hostile = '/x","status":"999"\\\ny'
    reply = http("GET", server.url + "/x%22%2C%22status%22%3A%22999%22%5C%0Ay?token=s3cret-query",
                 headers={"Authorization": "Bearer s3cret-header", "Cookie": "session=s3cret-cookie"})
    assert reply.status == 404
    entries = wait_until(server.access, what="the access log line")
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [("GET", hostile, "404")]
    assert "s3cret" not in server.out.read_text()


def test_each_worker_runs_one_scheduler_and_the_master_none(pg_dsn, writer, start_gunicorn) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    server.wait_ready()
    master = server.proc.pid
    assert f"Listening at: {server.url.replace('127.0.0.1', '0.0.0.0')} ({master})" in server.log()
    workers = server.worker_pids()
    assert len(workers) == 2 and master not in workers
    assert sorted(server.scheduler_pids()) == sorted(workers)  # once per worker, never in the master
    # Nothing threaded in the master: no scheduler, no pool, no control-socket thread.
    assert os.listdir(f"/proc/{master}/task") == [str(master)]


def test_sigterm_stops_gunicorn_cleanly_within_10_seconds(pg_dsn, writer, start_gunicorn) -> None:
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    server.wait_ready()
    workers = server.worker_pids()
    server.started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    rc, elapsed = server.wait_exit(timeout=10)
    assert rc == 0 and elapsed < 10
    for pid in workers:
        assert f"worker {pid}: scheduler stopped, database pool closed" in server.log()


@pytest.mark.parametrize(("env", "message"), [
    ({"DATABASE_URL": None}, ("statuspage: DATABASE_URL is not set: set DATABASE_URL to the engine database, "
                              "e.g. postgresql://user:password@host:5432/dbname")),
    ({"REFRESH_INTERVAL_S": "abc"}, "statuspage: REFRESH_INTERVAL_S must be a number, got 'abc'"),
    # gunicorn.conf.py's own variables. (A WEB_CONCURRENCY that is not a number stops gunicorn
    # before it reads the file: its own default, int($WEB_CONCURRENCY), raises at import.)
    ({"PORT": "http"}, "statuspage: PORT must be a whole number, got 'http'"),
    ({"WEB_CONCURRENCY": "0"}, "statuspage: WEB_CONCURRENCY must be greater than 0, got '0'"),
], ids=["missing-DATABASE_URL", "bad-REFRESH_INTERVAL_S", "bad-PORT", "zero-WEB_CONCURRENCY"])
def test_a_bad_setting_stops_gunicorn_within_10_seconds_with_the_message(pg_dsn, start_gunicorn, env,
                                                                         message) -> None:
    server = start_gunicorn(**{"DATABASE_URL": pg_dsn, **env})
    rc, elapsed = server.wait_exit(timeout=10)
    assert rc != 0 and elapsed < 10
    assert message in server.log().splitlines()
    assert "Booting worker" not in server.log()  # stopped in the master, before any fork


def test_a_replaced_worker_leaves_no_series_behind(pg_dsn, seeded, start_gunicorn, tmp_path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_4242.db").write_bytes(b"from a previous run")
    server = start_gunicorn(DATABASE_URL=pg_dsn, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    server.wait_ready()
    assert not (metrics_dir / "counter_4242.db").exists()  # emptied at start

    gone = server.worker_pids()[0]
    os.kill(gone, signal.SIGTERM)  # the master replaces it
    wait_until(lambda: len(server.scheduler_pids()) == 3, what="a replacement worker with its scheduler")
    wait_until(lambda: not list(metrics_dir.glob(f"gauge_live*_{gone}.db")), what="the dead worker's gauges dropped")
    wait_until(lambda: all(r.status == 200 for r in server.get_many(LANDING, 16)), what="landing 200 everywhere")

    metrics = server.get("/metrics").text
    assert len(_samples(metrics, "statuspage_landing_trades")) == 3
    assert "pid=" not in metrics
    # The dead worker's requests still count: counters are never dropped.
    assert sum(_samples(metrics, "flask_http_request_total").values()) == sum(server.made.values())
