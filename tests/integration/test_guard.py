"""The snapshot guard: an emptied or replaced trades table is held back, never published as truth.

The incident's shape for real: the engine's table recreated empty under a running page (and under a
page that starts afresh), through the real scheduler, real HTTP, real gunicorn and the operator's
real command. The history database that keeps the guard's memory is stopped and frozen for real.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from statuspage import guard
from statuspage.config import ConfigError
from statuspage.demo import seed
from statuspage.demo.pgserver import EmbeddedPostgres
from statuspage.formatting import utcnow
from statuspage.guard import MarkStore, large_drop
from statuspage.jobs.scheduler import refresh_job
from statuspage.state import Runtime

from ..helpers import ROOT
from ..helpers.app import settings_for
from ..helpers.dom import parse
from ..helpers.http import LiveServer, get
from ..helpers.wait import wait_until

LANDING = "/performance/landing"


def recreate_empty(conn: psycopg.Connection) -> None:
    """What the incident looked like from the page: the same name, an empty table."""
    conn.execute("DROP TABLE closed_trades")
    seed.create_schema(conn)


def runtime(app: Flask) -> Runtime:
    return app.extensions["statuspage"]


def component(server: LiveServer, name: str) -> dict:
    return next(c for c in server.get("/status.json").json()["components"] if c["name"] == name)


def samples(metrics_text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics_text) for s in family.samples}


def accept(dsn: str, *args: str, history_dsn: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m statuspage snapshot accept`` as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HISTORY_DATABASE_URL")}
    env["DATABASE_URL"] = dsn
    if history_dsn:
        env["HISTORY_DATABASE_URL"] = history_dsn
    return subprocess.run([sys.executable, "-m", "statuspage", "snapshot", "accept", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def accepts(dsn: str) -> list[tuple[str, int | None, int]]:
    with psycopg.connect(dsn) as conn:
        return [tuple(row) for row in conn.execute(
            "SELECT accepted_by, from_count, to_count FROM statuspage.snapshot_accepts ORDER BY id")]


# --- the threshold ---


@pytest.mark.parametrize(("reference", "found", "held"), [
    (432, 0, True),  # the incident: to zero is always held
    (1, 0, True),
    (500, 499, False),  # one trade corrected away
    (500, 495, False),  # 5 trades: not more than 5
    (500, 494, True),  # 6 trades, 1.2 %
    (100_000, 99_500, False),  # 500 trades but 0.5 %
    (100_000, 98_999, True),  # 1001 trades, 1.001 %
    (3, 1, False),  # 2 trades of 3: more than 1 % but not more than 5 trades
    (432, 433, False),  # growth
    (0, 0, False),
])
def test_a_large_drop_is_more_than_five_trades_and_more_than_one_percent(reference: int, found: int,
                                                                         held: bool) -> None:
    assert large_drop(reference, found, max_percent=1, max_trades=5) is held


@pytest.mark.parametrize(("name", "raw"), [("GUARD_DROP_PERCENT", "0"), ("GUARD_DROP_PERCENT", "101"),
                                           ("GUARD_DROP_PERCENT", "lots"), ("GUARD_DROP_TRADES", "-1"),
                                           ("GUARD_DROP_TRADES", "2.5")])
def test_a_bad_threshold_setting_is_one_line_naming_it(pg_dsn: str, name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_for(pg_dsn, **{name: raw})
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(f"{name} ")


# --- the incident, against a running page ---


def test_an_emptied_table_is_held_back_flagged_and_published_only_once_an_operator_accepts(
        pg_dsn: str, writer: psycopg.Connection, make_app: Callable[..., Flask],
        serve: Callable[[Flask], LiveServer]) -> None:
    seed.insert(writer, seed.history(432, 60, datetime.now(UTC)))
    app = make_app()  # the real scheduler: a refresh every second
    server = serve(app)
    wait_until(lambda: server.get("/readyz").status == 200, what="ready with 432 trades")
    before = server.get(LANDING).json()
    assert before["windows"]["all"]["trades"] == 432 and before["held"] is False and before["held_reason"] is None

    recreate_empty(writer)
    reason = "all-time trade count fell from 432 to 0; holding the last good numbers until an operator accepts"
    wait_until(lambda: component(server, "snapshot")["state"] == "degraded", what="snapshot degraded")
    assert component(server, "snapshot")["detail"].startswith(reason)

    held = server.get(LANDING).json()
    assert held["held"] is True and held["held_reason"] == reason
    assert held["windows"] == before["windows"] and held["daily"] == before["daily"]  # the last good numbers
    status = server.get("/status.json").json()
    assert status["snapshot"]["held"] is True and status["status"] == "degraded"
    page = parse(server.get("/").body)
    assert "Figures held back." in page.by_id("held-banner").text
    assert page.by_id("held-tag").text == "Held back: not current"
    assert page.field("all", "trades") == "432"
    assert page.find(cls="banner__headline").text == "Degraded performance"
    ready = server.get("/readyz")
    assert ready.status == 503 and ready.json()["checks"]["snapshot_current"] is False
    assert server.get("/healthz").json()["status"] == "degraded"  # the page itself is fine: no restart

    exported = samples(server.get("/metrics").text)
    assert exported[("statuspage_snapshot_held", ())] == 1.0  # the alert's expression: max(...) == 1
    assert exported[("statuspage_refreshes_total", (("outcome", "held"),))] >= 1
    assert exported[("statuspage_landing_trades", (("window", "all"),))] == 432.0

    result = accept(pg_dsn, "--by", "ops-on-call")
    assert result.returncode == 0, result.stderr
    assert "all-time trades 432 -> 0, accepted by ops-on-call" in result.stdout
    assert accepts(pg_dsn) == [("ops-on-call", 432, 0)]

    wait_until(lambda: server.get(LANDING).json()["windows"]["all"]["trades"] == 0, what="0 trades published")
    after = server.get(LANDING).json()
    assert after["held"] is False and after["held_reason"] is None
    wait_until(lambda: server.get("/readyz").status == 200, what="ready again")
    assert component(server, "snapshot")["state"] == "operational"
    assert samples(server.get("/metrics").text)[("statuspage_snapshot_held", ())] == 0.0
    assert parse(server.get("/").body).find(id="held-banner") is None


def test_a_request_answered_while_the_hold_begins_never_keeps_the_numbers_marked_current(
        writer: psycopg.Connection, make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]) -> None:
    # Requests read the state without its lock and cache bytes per version: the version moves only
    # once the hold is in place (statuspage/state.py). A request answered in between used to cache
    # "held": false under the new version, and a worker served it until the next change (seen in CI).
    now = utcnow()
    seed.insert(writer, seed.history(50, 20, now))
    app = make_app(start_background=False)
    server = serve(app)
    refresh_job(runtime(app), now)
    assert server.get(LANDING).json()["held"] is False
    answered: list[bool] = []

    class AskWhileLogging(logging.Handler):  # runs inside the hold, on the refreshing thread
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("refresh: all-time trade count fell"):
                answered.append(server.get(LANDING).json()["held"])

    handler = AskWhileLogging()
    logging.getLogger("statuspage.state").addHandler(handler)
    try:
        recreate_empty(writer)
        refresh_job(runtime(app), now + timedelta(seconds=1))
    finally:
        logging.getLogger("statuspage.state").removeHandler(handler)
    assert answered == [True]
    assert server.get(LANDING).json()["held"] is True


def test_a_restarted_page_remembers_and_holds_back_an_emptied_table(writer: psycopg.Connection,
                                                                    make_app: Callable[..., Flask],
                                                                    serve: Callable[[Flask], LiveServer]) -> None:
    seed.insert(writer, seed.history(432, 60, utcnow()))
    first = make_app(start_background=False)
    refresh_job(runtime(first), utcnow())
    assert runtime(first).state.snapshot.windows["all"].trades == 432

    recreate_empty(writer)
    runtime(first).close()  # restarted: its lock and its publication's leader gone
    # ...on a history database without the publication (as when upgrading from a version that wrote none)
    writer.execute("TRUNCATE statuspage.published_snapshot")
    # A new process against the same databases: nothing in its memory, the stored mark says 432.
    server = serve(make_app())
    reason = "all-time trade count fell from 432 to 0; holding the numbers back until an operator accepts"
    wait_until(lambda: component(server, "snapshot")["detail"] == reason, what="held at start-up")
    assert component(server, "snapshot")["state"] == "down"  # nothing it could show
    landing = server.get(LANDING)
    assert landing.status == 503 and landing.json() == {"error": reason}
    health = server.get("/healthz")
    assert health.status == 503 and health.json() == {"status": "starting", "detail": reason}  # never goes live
    page = parse(server.get("/").body)
    assert page.by_id("waiting").find(cls="waiting__title").text == "Figures held back"
    assert reason in page.by_id("held-banner").text

    # ...and another process, which serves what the new leader published, holds them back too
    other = make_app(start_background=False)
    refresh_job(runtime(other), utcnow())
    assert runtime(other).state.source == "published" and runtime(other).state.snapshot is None
    assert runtime(other).state.held is not None
    assert other.test_client().get(LANDING).get_json() == {"error": reason}


def test_a_restarted_page_with_the_last_publication_holds_back_and_shows_the_last_good_numbers(
        writer: psycopg.Connection, make_app: Callable[..., Flask]) -> None:
    seed.insert(writer, seed.history(432, 60, utcnow()))
    first = make_app(start_background=False)
    refresh_job(runtime(first), utcnow())
    good = first.test_client().get(LANDING).get_json()["windows"]
    recreate_empty(writer)
    runtime(first).close()
    restarted = make_app(start_background=False)
    refresh_job(runtime(restarted), utcnow())  # it leads: the last publication, then its own read, held
    body = restarted.test_client().get(LANDING).get_json()
    assert body["held"] is True and body["windows"] == good  # the numbers last published, flagged
    assert body["held_reason"] == ("all-time trade count fell from 432 to 0; holding the last good numbers "
                                   "until an operator accepts")
    assert restarted.test_client().get("/healthz").status_code == 200


def test_a_page_that_first_starts_on_an_empty_table_publishes_it(writer: psycopg.Connection,
                                                                make_app: Callable[..., Flask]) -> None:
    app = make_app(start_background=False)
    rt = runtime(app)
    refresh_job(rt, utcnow())  # nothing stored, nothing remembered: nothing to compare with
    assert rt.state.held is None and rt.state.snapshot.windows["all"].trades == 0
    assert app.test_client().get(LANDING).get_json()["held"] is False


def test_a_small_correction_is_published_and_corrections_that_add_up_are_held(writer: psycopg.Connection,
                                                                              make_app: Callable[..., Flask]) -> None:
    now = utcnow()
    trades = seed.history(500, 60, now)
    seed.insert(writer, trades)
    app = make_app(start_background=False)
    rt = runtime(app)
    refresh_job(rt, now)

    writer.execute("DELETE FROM closed_trades WHERE id = %s", (trades[250].id,))  # one of 500
    refresh_job(rt, now + timedelta(seconds=1))
    assert rt.state.held is None and rt.state.snapshot.windows["all"].trades == 499

    # Six more: 7 fewer than the highest count published (500), more than 5 trades and 1 % of 500.
    writer.execute("DELETE FROM closed_trades WHERE id = ANY(%s)", ([t.id for t in trades[:6]],))
    refresh_job(rt, now + timedelta(seconds=2))
    assert rt.state.held is not None and (rt.state.held.reference, rt.state.held.found) == (500, 493)
    assert rt.state.snapshot.windows["all"].trades == 499


# --- the stored mark ---


def test_the_stored_mark_only_rises_whatever_the_order_of_writers_and_an_acceptance_lowers_it(
        pg_dsn: str, writer: psycopg.Connection) -> None:
    kwargs = {"connect_timeout": 2}
    stores = [MarkStore(pg_dsn, kwargs, 5) for _ in range(3)]
    t0 = datetime(2026, 4, 30, 12, tzinfo=UTC)
    try:
        assert stores[0].read() is None
        for store, count in zip(stores * 2, [431, 432, 430, 432, 12, 400], strict=True):
            store.raise_to(count, t0)  # several processes publishing, in any order
        assert stores[1].read() == guard.Mark(432, t0, None)

        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            assert guard.accept(conn, 0, t0 + timedelta(minutes=5), "ops") == 432
        # a refresh that read 432 before the acceptance publishes afterwards: the mark stays accepted
        stores[2].raise_to(432, t0 + timedelta(minutes=4))
        assert stores[0].read() == guard.Mark(0, t0 + timedelta(minutes=5), t0 + timedelta(minutes=5))
        stores[2].raise_to(3, t0 + timedelta(minutes=6))  # the new history grows
        assert stores[0].read().count == 3
    finally:
        for store in stores:
            store.close()
    assert accepts(pg_dsn) == [("ops", 432, 0)]


def test_accept_without_database_url_names_it_and_with_an_unreachable_database_says_so(pg_dsn: str) -> None:
    missing = subprocess.run([sys.executable, "-m", "statuspage", "snapshot", "accept"], cwd=ROOT,
                             env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and missing.stderr.startswith("statuspage: DATABASE_URL is not set")
    unreachable = accept("postgresql://reader:s3cret-pw@127.0.0.1:9/engine",
                         history_dsn="postgresql://writer:s3cret-pw@127.0.0.1:9/engine")
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("snapshot accept: cannot read the engine database (host=127.0.0.1 port=9 ")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in unreachable.stderr + unreachable.stdout


# --- the history database unavailable: never blocks publishing, never blanks the numbers ---


@contextmanager
def frozen(pg: EmbeddedPostgres) -> Iterator[None]:
    """Every process of the cluster stopped with SIGSTOP: connections open, nothing answers."""
    postmaster = psutil.Process(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        with suppress(psutil.NoSuchProcess):  # a short-lived helper may just have exited
            process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


def test_with_the_history_database_down_or_frozen_the_guard_uses_its_own_memory(
        writer: psycopg.Connection, private_pg: EmbeddedPostgres, make_app: Callable[..., Flask]) -> None:
    now = utcnow()
    seed.insert(writer, seed.history(20, 10, now))
    app = make_app(start_background=False, HISTORY_DATABASE_URL=private_pg.dsn, DB_CONNECT_TIMEOUT_S="2")
    rt = runtime(app)
    refresh_job(rt, now)
    with psycopg.connect(private_pg.dsn) as history:  # the mark is in the history database
        assert history.execute("SELECT high_water FROM statuspage.snapshot_guard").fetchone() == (20,)

    with frozen(private_pg):
        writer.execute("DELETE FROM closed_trades WHERE id > 5")
        started = time.monotonic()
        refresh_job(rt, now + timedelta(seconds=1))
        took = time.monotonic() - started
        assert took < 2 + 5, took  # DB_CONNECT_TIMEOUT_S bounds the wait for the history database
        assert rt.state.held is not None and (rt.state.held.reference, rt.state.held.found) == (20, 5)
        assert rt.state.snapshot.windows["all"].trades == 20  # the last good numbers stay on screen
        assert "no answer from the history database within 2 s" in rt.guard.store_error
        started = time.monotonic()
        refresh_job(rt, now + timedelta(seconds=2))  # the first call still hangs: this one does not wait
        assert time.monotonic() - started < 2
        assert "has not returned" in rt.guard.store_error

    private_pg.stop()
    refresh_job(rt, now + timedelta(seconds=3))
    assert rt.state.held is not None and rt.guard.store_error  # AdminShutdown, then connection refused
    writer.execute("INSERT INTO closed_trades SELECT id + 1000, symbol, side, qty, entry_price, exit_price, pnl, fees,"
                   " opened_at, closed_at FROM closed_trades")  # the engine recovers: 10 trades, still far below
    refresh_job(rt, now + timedelta(seconds=4))
    assert rt.state.held is not None and rt.state.held.found == 10

    private_pg.start()
    wait_until(lambda: (refresh_job(rt, now + timedelta(seconds=5)), rt.guard.store_error == "")[1], timeout=30,
               what="the history database readable again")
    assert rt.guard.stored.count == 20 and rt.state.held is not None


def test_a_process_serving_a_siblings_numbers_holds_back_a_drop_from_them_without_the_history_database(
        writer: psycopg.Connection, private_pg: EmbeddedPostgres, make_app: Callable[..., Flask],
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker can show its siblings' read before its own first read; if that read then finds the
    # table emptied while the stored mark cannot be read, what the worker shows is the reference.
    now = utcnow()
    seed.insert(writer, seed.history(20, 10, now))
    monkeypatch.setenv("STATUSPAGE_SNAPSHOT_DIR", str(tmp_path))
    refresh_job(runtime(make_app(start_background=False)), now)  # the sibling: reads, publishes, shares
    private_pg.stop()
    rt = runtime(make_app(start_background=False, HISTORY_DATABASE_URL=private_pg.dsn))
    assert rt.state.snapshot.windows["all"].trades == 20  # adopted at start

    recreate_empty(writer)
    refresh_job(rt, now + timedelta(seconds=1))
    assert rt.guard.store_error  # the stored mark was out of reach
    assert rt.state.held is not None and (rt.state.held.reference, rt.state.held.found) == (20, 0)
    assert rt.state.snapshot.windows["all"].trades == 20


# --- through real gunicorn: every worker holds, and every worker learns the acceptance ---


def test_under_gunicorn_every_worker_holds_back_and_every_worker_publishes_after_accept(
        pg_dsn: str, writer: psycopg.Connection, start_gunicorn: Callable[..., object]) -> None:
    seed.insert(writer, seed.history(50, 20, datetime.now(UTC)))
    server = start_gunicorn(DATABASE_URL=pg_dsn)
    server.wait_ready()
    assert {r.json()["windows"]["all"]["trades"] for r in server.get_many(LANDING, 16)} == {50}

    recreate_empty(writer)

    seen: set[tuple[bool, int]] = set()

    def every_worker_holds() -> bool:
        seen.clear()
        seen.update((r.json()["held"], r.json()["windows"]["all"]["trades"]) for r in server.get_many(LANDING, 16))
        return seen == {(True, 50)} and server.pids_that_served(LANDING) == set(server.worker_pids())

    try:
        wait_until(every_worker_holds, timeout=20, what="both workers holding the numbers back")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (held, all-time trades) last served: {sorted(seen)}") from exc
    assert samples(server.get("/metrics").text)[("statuspage_snapshot_held", ())] == 1.0
    assert get(server.url + "/readyz").status == 503

    result = accept(pg_dsn)
    assert result.returncode == 0 and "all-time trades 50 -> 0" in result.stdout, result.stderr
    wait_until(lambda: all(not r.json()["held"] and r.json()["windows"]["all"]["trades"] == 0
                           for r in server.get_many(LANDING, 16)), timeout=20, what="both workers publishing 0")
    wait_until(lambda: samples(server.get("/metrics").text)[("statuspage_snapshot_held", ())] == 0.0,
               what="the held gauge back to 0")
