"""Client-side deadlines against a real PostgreSQL frozen by SIGSTOP, and webhook receivers and
engines that trickle: every call ends by its deadline, the connection with it, and everything
recovers on its own once the server runs again."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from statuspage import budgets, db, deadline
from statuspage.config import load_settings
from statuspage.db.leader import Leader
from statuspage.jobs.probes import scrape_engine
from statuspage.notify import Notifier, post

from ..helpers.app import FAST
from ..helpers.freeze import frozen, prepare
from ..helpers.wait import wait_until

# Room for a loaded machine (two cores shared with other test runs) on top of each deadline.
MARGIN = 3.0




def component(server, name: str) -> dict:
    return next(c for c in server.get("/status.json").json()["components"] if c["name"] == name)


def timed(call) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_a_frozen_server_holds_a_query_forever_unless_the_client_cuts_it(private_pg) -> None:
    """The fault itself: the server's statement_timeout cannot fire in a stopped server, and nothing
    on the client ends the read; a guarded call ends at its deadline and closes its connection."""
    unguarded = psycopg.connect(private_pg.dsn, autocommit=True, options="-c statement_timeout=200")
    guarded = psycopg.connect(private_pg.dsn, autocommit=True, options="-c statement_timeout=200")
    outcome: list[object] = []
    try:
        with frozen(private_pg):
            thread = threading.Thread(target=lambda: outcome.append(unguarded.execute("SELECT 1").fetchone()),
                                      daemon=True)
            thread.start()
            thread.join(3)
            assert thread.is_alive() and outcome == []  # 15 statement timeouts later, still waiting

            def call() -> None:
                with deadline.within(1.0, "test query"), deadline.guard(guarded):
                    guarded.execute("SELECT 1")

            elapsed, exc = timed(call)
            assert isinstance(exc, deadline.DeadlineExceeded) and isinstance(exc, psycopg.OperationalError)
            assert str(exc).startswith("test query: no answer within")
            assert 0.9 <= elapsed <= 1.0 + MARGIN
            assert guarded.closed  # psycopg saw the socket end: the connection is never used again
        thread.join(10)  # thawed: the unguarded query completes as if nothing had happened
        assert outcome == [(1,)]
    finally:
        unguarded.close()
        guarded.close()


def test_a_call_that_ends_in_time_leaves_its_connection_alone(private_pg) -> None:
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        for _ in range(50):
            with deadline.within(0.2, "quick"), deadline.guard(conn):
                assert conn.execute("SELECT 1").fetchone() == (1,)
        time.sleep(0.4)  # every deadline has passed: nothing fires after its call has returned
        assert not conn.closed and conn.execute("SELECT 2").fetchone() == (2,)


@pytest.fixture
def pool(private_pg) -> Iterator[db.ConnectionPool]:
    pool = db.make_pool(load_settings({"DATABASE_URL": private_pg.dsn, **FAST}))
    pool.wait(timeout=10)
    yield pool
    pool.close(timeout=2)


def test_the_database_probe_ends_within_its_timeout_on_a_frozen_server_and_recovers(private_pg, pool) -> None:
    assert db.ping(pool, 0.5) < 500
    with frozen(private_pg):
        # the pooled connection's checkout check is what hangs first, and is cut
        elapsed, exc = timed(lambda: db.ping(pool, 0.5))
        assert isinstance(exc, deadline.DeadlineExceeded) and elapsed <= 0.5 + MARGIN
        assert str(exc).startswith("database round trip: connection check: no answer within 0.")
        # then the pool has no connection, and its new ones cannot log in: a plain timeout
        elapsed, exc = timed(lambda: db.ping(pool, 0.5))
        assert isinstance(exc, psycopg.OperationalError) and elapsed <= 0.5 + MARGIN
    # thawed: the pool replaces what the deadline closed, on its own
    wait_until(lambda: timed(lambda: db.ping(pool, 0.5))[1] is None, timeout=10, what="ping succeeds again")


def test_the_history_leader_and_the_notifier_end_their_calls_on_a_frozen_server(private_pg) -> None:
    settings = load_settings({"DATABASE_URL": private_pg.dsn, **FAST, "DB_STATEMENT_TIMEOUT_MS": "500"})
    call_s = budgets.statement_s(settings)  # 1.5 s
    kwargs = db.connect_kwargs(settings, read_only=False)
    leader = Leader(private_pg.dsn, kwargs, call_s)
    notifier = Notifier(private_pg.dsn, kwargs, ["http://127.0.0.1:9/hook"], None, 1, leader.me, call_s)
    try:
        assert leader.ensure() and leader.is_leader
        notifier.deliver_due(datetime.now(UTC))  # connects; nothing queued
        with frozen(private_pg):
            # session check cut (call_s), then a reconnect that times out (psycopg's 2 s minimum)
            elapsed, exc = timed(lambda: leader.ensure() and pytest.fail("leader without a session"))
            assert exc is None and not leader.is_leader and leader.conn is None
            assert elapsed <= call_s + budgets.connect_s(settings) + MARGIN
            elapsed, exc = timed(lambda: notifier.deliver_due(datetime.now(UTC)))
            assert isinstance(exc, deadline.DeadlineExceeded) and "notify outbox" in str(exc)
            assert elapsed <= call_s + MARGIN
            assert notifier.conn is not None and notifier.conn.closed
        # thawed: both find their way back by themselves
        assert wait_until(leader.ensure, timeout=15, what="leadership again")
        notifier.close()
        notifier.deliver_due(datetime.now(UTC))
    finally:
        notifier.close()
        leader.close()


def test_a_frozen_database_is_shown_down_then_everything_recovers_after_sigcont(private_pg, make_app,
                                                                               serve) -> None:
    prepare(private_pg)
    env = {"PROBE_INTERVAL_S": "1", "PROBE_TIMEOUT_S": "0.5", "PROBE_CONFIRM": "2", "DB_STATEMENT_TIMEOUT_MS": "1000",
           "STALE_AFTER_S": "30"}
    app = make_app(private_pg.dsn, **env)
    server = serve(app)
    rt = app.extensions["statuspage"]
    wait_until(lambda: server.get("/readyz").status == 200 and rt.leader.is_leader, timeout=20, what="ready, leader")
    wait_until(lambda: component(server, "database")["state"] == "operational", what="database operational")
    before = server.get("/performance/landing").json()

    with frozen(private_pg):
        frozen_at = time.monotonic()
        # the badge goes down within PROBE_TIMEOUT_S + PROBE_INTERVAL_S * PROBE_CONFIRM (+ margin)
        wait_until(lambda: component(server, "database")["state"] == "down", timeout=0.5 + 1 * 2 + MARGIN,
                   every=0.05, what="database badge down while the server is frozen")
        assert time.monotonic() - frozen_at <= 0.5 + 2 + MARGIN
        assert "no answer within" in rt.state.components["database"].operator_detail or \
            "couldn't get a connection" in rt.state.components["database"].operator_detail
        # the refresh and the history run each end by their own deadline, with an error, not a hang
        refresh_s = budgets.refresh_s(rt.settings)
        wait_until(lambda: "no answer within" in rt.state.last_refresh_error
                   or "couldn't get a connection" in rt.state.last_refresh_error,
                   timeout=refresh_s + 1 + MARGIN, what="the refresh cut at its deadline")
        # the leader's session check is cut: its session, and the lock with it, are let go
        wait_until(lambda: not rt.leader.is_leader, timeout=budgets.statement_s(rt.settings) + 1 + MARGIN,
                   what="the history leader's session cut at its deadline")
        landing = server.get("/performance/landing")
        assert landing.status == 200 and landing.json()["windows"] == before["windows"]

    thawed_at = datetime.now(UTC)
    wait_until(lambda: component(server, "database")["state"] == "operational", timeout=2 * 1 + 2 * 1 + MARGIN,
               what="database operational after SIGCONT")
    fresh = wait_until(lambda: (r := server.get("/performance/landing").json())["as_of"] > before["as_of"] and r,
                       timeout=10, what="fresh numbers after SIGCONT")
    assert fresh["stale"] is False and fresh["windows"] == before["windows"]
    assert datetime.strptime(fresh["as_of"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) >= \
        thawed_at.replace(microsecond=0)
    wait_until(lambda: rt.leader.is_leader and rt.state.history_error == "", timeout=15,
               what="history leader again, no error")


def test_recovery_after_a_long_outage_takes_two_probe_intervals_not_the_pools_backoff(private_pg, make_app,
                                                                                     serve) -> None:
    """psycopg_pool retries with a doubling delay: 36 s into an outage its next attempt is due at about
    63 s, so a page relying on it stayed down for half a minute after the database was back."""
    prepare(private_pg)
    app = make_app(private_pg.dsn, PROBE_INTERVAL_S="1", PROBE_TIMEOUT_S="0.5", PROBE_CONFIRM="2",
                   DB_CONNECT_TIMEOUT_S="1", STALE_AFTER_S="5")
    server = serve(app)
    wait_until(lambda: server.get("/readyz").status == 200, timeout=20, what="ready")
    private_pg.stop()
    wait_until(lambda: component(server, "database")["state"] == "down", timeout=10, what="database down")
    time.sleep(36)
    private_pg.start()
    started = time.monotonic()
    # 2 * PROBE_INTERVAL_S for the pool to connect and a probe to run, PROBE_CONFIRM intervals to agree
    wait_until(lambda: component(server, "database")["state"] == "operational", timeout=2 * 1 + 2 * 1 + MARGIN,
               every=0.1, what="database operational again")
    recovered_in = time.monotonic() - started
    fresh = wait_until(lambda: (r := server.get("/performance/landing").json())["stale"] is False and r,
                       timeout=5, what="fresh numbers again")
    assert fresh["windows"]["all"]["trades"] == 3
    assert recovered_in <= 2 * 1 + 2 * 1 + MARGIN


# --- HTTP: the whole request ends by its deadline, whatever phase a peer stalls in ---


class Trickler:
    """A peer on 127.0.0.1 that answers one byte every 100 ms forever: each read succeeds, so a
    per-read socket timeout never fires."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(self.head)
                while not self.stop.wait(0.1):
                    conn.sendall(b"x")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nX-Slow: ", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"],
                         ids=["trickled-headers", "trickled-body"])
def test_a_trickling_webhook_receiver_is_cut_at_the_notify_timeout(head: bytes) -> None:
    receiver = Trickler(head)
    outcome: list = []
    try:
        elapsed, exc = timed(lambda: outcome.append(post(receiver.url, b"{}", 0.5, "k")))
    finally:
        receiver.close()
    assert exc is None and elapsed <= 0.5 + MARGIN
    assert outcome[0].outcome == "retry" and outcome[0].detail == "no complete answer within 0.5 s"


def test_an_engine_that_trickles_its_headers_is_cut_at_the_probe_timeout() -> None:
    engine = Trickler(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    scraped: list = []
    try:
        elapsed, exc = timed(lambda: scraped.append(scrape_engine(engine.url, 0.5)))
    finally:
        engine.close()
    assert exc is None and elapsed <= 0.5 + MARGIN
    assert not scraped[0].ok and "timed out" in scraped[0].error
