"""One engine read per deployment (statuspage/published.py): the history leader reads and publishes,
every other process serves the same bytes without reading the engine; a refused publication or a
history outage falls back to the process's own read, and says so; every change in the history, and
a leader killed in the middle of publishing, end with what every process serves equal to a plain
recomputation."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.demo.simengine import SimEngine
from statuspage.formatting import utcnow
from statuspage.jobs.scheduler import refresh_job
from statuspage.published import decode
from statuspage.snapshot import violations

from ..helpers.app import app_process, runtime
from ..helpers.dom import parse
from ..helpers.gunicorn import EXPECTED, LANDING, TRADES, Gunicorn
from ..helpers.history_faults import (
    T,
    assert_published,
    corrected,
    deleted,
    history,
    late_trade,
    statistics_reset,
    table_statistics_reset,
    truncated_and_refilled,
)
from ..helpers.track_expected import Trade, insert
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

# What every process must answer with the same bytes: the numbers, not the per-process components.
SHARED = ("/performance/landing", "/performance/track-record.json", "/performance/equity.json",
          "/performance/daily.csv")
OPS = "o" * 24


def answers(app: Flask) -> dict[str, tuple[bytes, str]]:
    out = {}
    for path in SHARED:
        reply = app.test_client().get(path)
        assert reply.status_code == 200, (path, reply.data[:200])
        out[path] = (reply.data, reply.headers["ETag"])
    return out


def source(app: Flask) -> dict[str, float]:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return {s.labels["source"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "statuspage_snapshot_source"}


def ops(app: Flask) -> dict:
    reply = app.test_client().get("/ops.json", headers={"Authorization": f"Bearer {OPS}"})
    assert reply.status_code == 200
    return reply.get_json()["snapshot"]


def engine_reads(stats: psycopg.Connection) -> int:
    """Statements against the engine's table since the last reset, as pg_stat_statements counts them."""
    return stats.execute("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
                         "WHERE query ILIKE '%closed_trades%' AND query NOT ILIKE '%pg_stat_statements%'").fetchone()[0]


def leader_and_other(writer: psycopg.Connection, make_app: Callable[..., Flask], trades: list[Trade],
                     **env: str) -> tuple[Flask, Flask]:
    insert(writer, trades)
    leader, other = (make_app(start_background=False, OPS_TOKEN=OPS, **env) for _ in range(2))
    refresh_job(runtime(leader), T)
    refresh_job(runtime(other), T)
    assert runtime(leader).leader.is_leader and not runtime(other).leader.is_leader
    return leader, other


def test_the_leader_reads_and_publishes_and_another_process_serves_the_same_bytes_without_reading(
        writer: psycopg.Connection, stat_statements: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    trades = history(300)
    leader, other = leader_and_other(writer, make_app, trades)
    now = T + timedelta(seconds=1)
    refresh_job(runtime(leader), now)
    stat_statements.execute("SELECT pg_stat_statements_reset()")
    refresh_job(runtime(other), now)
    assert engine_reads(stat_statements) == 0  # it never read the engine's table

    assert_published(runtime(other), trades, now)  # the landing numbers and the track record, median included
    assert answers(other) == answers(leader)  # the same bytes and ETags
    assert source(other) == {"published": 1, "engine": 0} and source(leader) == {"published": 0, "engine": 1}
    metrics = other.test_client().get("/metrics").get_data(as_text=True)
    assert 'statuspage_refreshes_total{outcome="published"} 2.0' in metrics  # at T and at T + 1 s
    assert 'statuspage_refreshes_total{outcome="ok"} 0.0' in metrics  # no read of its own
    assert ops(other)["source"] == "published" and ops(other)["publish_error"] is None
    assert ops(other)["published_version"] == ops(leader)["published_version"] is not None
    page = other.test_client().get("/ops", headers={"Authorization": f"Bearer {OPS}"})
    assert page.status_code == 200
    assert parse(page.data).by_id("ops-source").text.startswith("the leader's published read; published version")

    # the published form carries two durations per window, not one per trade
    body = writer.execute("SELECT body FROM statuspage.published_snapshot ORDER BY version DESC LIMIT 1").fetchone()[0]
    track = decode(body).snapshot.track
    assert all(part.sorted_durations.count == 2 for part in track.windows.values())
    assert runtime(leader).state.snapshot.track.windows["all"].sorted_durations.count == 300


def corrupt_7d_count(body: str) -> str:
    data = json.loads(body)
    windows = dict(data["publication"]["snapshot"]["windows"])
    windows["7d"]["trades"] = windows["all"]["trades"] + 1  # more trades in 7 days than all time
    data["publication"]["snapshot"]["windows"] = [[k, v] for k, v in windows.items()]
    return json.dumps(data)


@pytest.mark.parametrize("corrupt", [
    corrupt_7d_count,
    lambda body: body.replace('"pnl":"', '"pnl":"NaN', 1),  # a number that is not one
    lambda body: body[: len(body) // 2],  # half a row
    lambda body: json.dumps({"format": json.loads(body)["format"]}),  # a body without its publication
], ids=["invariant", "nan", "truncated", "empty"])
def test_a_publication_that_is_broken_is_refused_and_the_process_reads_the_engine_itself(
        writer: psycopg.Connection, make_app: Callable[..., Flask], corrupt: Callable[[str], str],
        caplog: pytest.LogCaptureFixture) -> None:
    trades = history(120)
    leader, other = leader_and_other(writer, make_app, trades)
    now = T + timedelta(seconds=1)
    refresh_job(runtime(leader), now)
    version, body = writer.execute("SELECT version, body FROM statuspage.published_snapshot "
                                   "ORDER BY version DESC LIMIT 1").fetchone()
    writer.execute("UPDATE statuspage.published_snapshot SET body = %s WHERE version = %s", (corrupt(body), version))
    refresh_job(runtime(other), now)
    assert_published(runtime(other), trades, now)  # its own read: the right numbers all the same
    assert source(other) == {"published": 0, "engine": 1}
    assert ops(other)["publish_error"].startswith(f"published version {version} refused")

    # refused once: the next refresh reads the engine again, and neither fetches nor refuses that body again
    later = now + timedelta(seconds=1)
    refresh_job(runtime(other), later)
    assert_published(runtime(other), trades, later)
    assert ops(other)["publish_error"].startswith(f"published version {version} refused")
    assert caplog.text.count(f"published version {version} refused") == 1
    assert runtime(other).reader.newest(version) is None  # the probe of what it knows: no body
    # a newer publication is served again
    added = [Trade(10_000, T - timedelta(minutes=3), Decimal("7.5"))]
    insert(writer, added)
    refresh_job(runtime(leader), later)
    refresh_job(runtime(other), later)
    assert source(other) == {"published": 1, "engine": 0} and ops(other)["publish_error"] is None
    assert_published(runtime(other), [*trades, *added], later)


def test_publications_that_begin_again_below_the_version_served_are_served(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    # the history database restored from an older backup: its versions begin again lower down
    trades = history(100)
    leader, other = leader_and_other(writer, make_app, trades)
    assert ops(other)["published_version"] > 1
    writer.execute("TRUNCATE statuspage.published_snapshot")
    writer.execute("ALTER SEQUENCE statuspage.published_snapshot_version_seq RESTART WITH 1")
    added = [Trade(10_000, T - timedelta(minutes=3), Decimal("-12.25"))]
    insert(writer, added)
    now = T + timedelta(seconds=1)
    refresh_job(runtime(leader), now)
    assert ops(leader)["published_version"] == 1
    refresh_job(runtime(other), now)
    assert ops(other)["published_version"] == 1 and source(other) == {"published": 1, "engine": 0}
    assert_published(runtime(other), [*trades, *added], now)

def test_with_the_history_database_down_every_process_reads_the_engine_and_says_so(
        writer: psycopg.Connection, private_pg: EmbeddedPostgres, make_app: Callable[..., Flask]) -> None:
    trades = history(150)
    leader, other = leader_and_other(writer, make_app, trades, HISTORY_DATABASE_URL=private_pg.dsn)
    assert source(other)["published"] == 1
    private_pg.stop()
    added = [Trade(10_000, T - timedelta(minutes=3), Decimal("42.42"))]
    insert(writer, added)
    now = T + timedelta(seconds=1)
    for app in (leader, other):
        refresh_job(runtime(app), now)
        assert_published(runtime(app), [*trades, *added], now)  # never blank, never old: its own read
        assert source(app) == {"published": 0, "engine": 1}
    assert "out of reach" in ops(other)["publish_error"]

    private_pg.start()
    for app in (leader, other):
        runtime(app).leader.ensure()  # what the history job does every PROBE_INTERVAL_S
    later = T + timedelta(seconds=2)
    for app in (leader, other):
        refresh_job(runtime(app), later)
    assert [source(app)["published"] for app in (leader, other)].count(1) == 1  # one leader again, one follower
    assert answers(leader) == answers(other)
    assert_published(runtime(other), [*trades, *added], later)


def id_jump(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    added = [Trade(max(t.id for t in trades) + 1_000_000_000, T - timedelta(minutes=2), Decimal("-7.5"))]
    insert(writer, added)
    return [*trades, *added]


@pytest.mark.parametrize("fault", [late_trade, corrected, deleted, truncated_and_refilled, statistics_reset,
                                   table_statistics_reset, id_jump])
def test_a_change_in_the_history_reaches_every_process_at_the_next_refresh(
        writer: psycopg.Connection, make_app: Callable[..., Flask],
        fault: Callable[[psycopg.Connection, list[Trade]], list[Trade]]) -> None:
    leader, other = leader_and_other(writer, make_app, history(300))
    refresh_job(runtime(leader), T + timedelta(seconds=1))  # steady: the statistics confirm the history
    expected = fault(writer, history(300))
    now = T + timedelta(seconds=2)
    refresh_job(runtime(leader), now)
    refresh_job(runtime(other), now)
    assert_published(runtime(other), expected, now)
    assert answers(other) == answers(leader)


def test_what_only_the_verification_sees_reaches_every_process_with_the_leaders_verification(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    trades = history(300)
    leader, other = leader_and_other(writer, make_app, trades, VERIFY_INTERVAL_S="600")
    refresh_job(runtime(leader), T + timedelta(seconds=1))
    hidden = Trade(-7, T - timedelta(days=100), Decimal("-321.09"), Decimal("0.5"))  # below every id, old
    insert(writer, [hidden])
    due = T + timedelta(seconds=600)
    refresh_job(runtime(leader), due)
    refresh_job(runtime(other), due)
    assert_published(runtime(other), [*trades, hidden], due)


def test_a_leader_killed_in_the_middle_of_publishing_leaves_whole_rows_and_another_takes_over(
        writer: psycopg.Connection, pg_dsn: str, engine: SimEngine, make_app: Callable[..., Flask]) -> None:
    trades = history(200)
    insert(writer, trades)
    dying = app_process(pg_dsn, engine.url)
    try:
        wait_until(lambda: writer.execute("SELECT count(*) FROM statuspage.published_snapshot").fetchone()[0] >= 2,
                   timeout=30, what="the process in its own process group leads and publishes")
        # Its next publish waits on the table, mid-statement: killed there, as by the OOM killer.
        with psycopg.connect(pg_dsn) as blocker:
            blocker.execute("LOCK TABLE statuspage.published_snapshot IN EXCLUSIVE MODE")
            wait_until(lambda: writer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'statuspage-history%%' "
                "AND wait_event_type = 'Lock' AND query LIKE '%%published_snapshot%%'").fetchone()[0] == 1,
                timeout=10, what="the leader's publish blocked")
            os.killpg(dying.pid, signal.SIGKILL)
            dying.wait(timeout=10)
            blocker.rollback()
    finally:
        if dying.poll() is None:
            os.killpg(dying.pid, signal.SIGKILL)
            dying.wait(timeout=10)
    # Every row there is whole: the statement either wrote it all or nothing.
    for (body,) in writer.execute("SELECT body FROM statuspage.published_snapshot").fetchall():
        snap = decode(body).snapshot
        assert snap is not None and violations(snap) == []
    # The history changes after the death; a process running on its own takes over and publishes it.
    expected = deleted(writer, trades)
    successor = make_app(OPS_TOKEN=OPS)
    follower = make_app(start_background=False, OPS_TOKEN=OPS)
    # the dead leader's session ends once its blocked statement finishes: then the lock is free
    wait_until(lambda: runtime(successor).leader.is_leader, timeout=15, what="a new leader")

    def served() -> bool:
        refresh_job(runtime(follower), None)
        snap = runtime(follower).state.snapshot
        return snap is not None and snap.windows["all"].trades == len(expected)

    wait_until(served, timeout=15, what="the new leader's publication served")
    snap = runtime(follower).state.snapshot
    assert runtime(follower).state.source == "published"
    assert_published(runtime(follower), expected, snap.as_of)


def test_a_new_leader_serves_the_last_publication_while_its_own_long_first_read_goes_on(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    trades = history(300)
    old, _ = leader_and_other(writer, make_app, trades)
    published_at = runtime(old).state.snapshot.as_of
    runtime(old).close()  # the leader is gone; the history grows
    added = [Trade(5_000, T - timedelta(minutes=30), Decimal("17.25"))]
    insert(writer, added)
    new = make_app(start_background=False, OPS_TOKEN=OPS)
    rt = runtime(new)
    rt.state.sealed.chunk_rows = rt.state.sealed.track.chunk_rows = 40  # as at ten million trades:
    rt.state.sealed.reserve_s = rt.state.sealed.track.reserve_s = math.inf  # a piece per refresh
    refresh_job(rt, T + timedelta(seconds=1))
    assert rt.leader.is_leader and rt.state.source == "published"
    assert_published(rt, trades, published_at)  # the old leader's numbers, with their own time
    assert answers(new)  # every shared endpoint answers 200 meanwhile
    for step in range(2, 40):
        refresh_job(rt, T + timedelta(seconds=step))
        if rt.state.source == "engine":
            break
    assert step > 2  # it took several refreshes, serving the publication meanwhile
    assert_published(rt, [*trades, *added], T + timedelta(seconds=step))


def test_two_gunicorn_instances_read_the_engine_once_and_serve_the_same_bytes(
        writer: psycopg.Connection, stat_statements: psycopg.Connection, pg_dsn: str,
        start_gunicorn: Callable[..., Gunicorn]) -> None:
    now = utcnow()
    for trade_id, (age, pnl) in enumerate(TRADES, start=1):
        add_trade(writer, trade_id, now - age, pnl)
    instances = [start_gunicorn(DATABASE_URL=pg_dsn, REFRESH_INTERVAL_S="1") for _ in range(2)]
    for server in instances:
        server.wait_ready()

    def one_answer_everywhere() -> bool:
        seen = {(r.status, r.headers.get("etag"), r.body) for s in instances for r in s.get_many(LANDING, 16)}
        return len(seen) == 1

    wait_until(one_answer_everywhere, timeout=20, what="every worker of both instances with the same bytes")
    windows = instances[1].get(LANDING).json()["windows"]
    assert {name: (w["trades"], w["pnl"]) for name, w in windows.items()} == EXPECTED
    # four workers refresh every second; one of them reads the engine
    stat_statements.execute("SELECT pg_stat_statements_reset()")
    time.sleep(4)
    reads = stat_statements.execute(  # last_trade.sql, once per refresh of the engine
        "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements "
        "WHERE query ILIKE '%%AS last_trade_at%%'").fetchone()[0]
    assert 1 <= reads <= 6, reads  # one reader: about 4 in 4 s; every worker would be about 16

    def leaders(server: Gunicorn) -> float:  # the workers' gauges, summed by the exporter
        return sum(s.value for family in text_string_to_metric_families(server.get("/metrics").text)
                   for s in family.samples if s.name == "statuspage_history_leader")

    assert sorted(leaders(server) for server in instances) == [0, 1]
