"""An outage of the database that also holds the history and the outbox (the default set-up), on a
real PostgreSQL that the test stops and starts, with a real webhook receiver on 127.0.0.1.

While it is down: each process alerts directly, once, every process under the same Idempotency-Key,
and the page shows the outage as ongoing. When it returns: the history holds what happened with its
true times (a flap included), and the outbox does not alert again under another key.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

from statuspage.demo import seed
from statuspage.jobs.scheduler import history_job, probe_database_job, refresh_job
from statuspage.status import Observation
from statuspage.vocabulary import DOWN, OPERATIONAL, UNKNOWN

from ..helpers.dom import parse
from ..helpers.trades import utc
from ..helpers.wait import wait_until

INTERVAL_S = 1  # PROBE_INTERVAL_S of these tests


def _rows(dsn: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _away_from_the_tick() -> None:
    """Wait until a fraction 0.25-0.5 s past a whole second: probes run on the whole seconds, and a
    real outage almost never begins in the millisecond they take (see history.alert_key)."""
    wait_until(lambda: 0.25 <= datetime.now(UTC).microsecond / 1e6 <= 0.5, timeout=3, every=0.01,
               what="a moment between two probe ticks")


def test_a_database_outage_is_alerted_and_shown_while_it_lasts_and_recorded_true_after(
        private_pg, make_app, serve, receiver) -> None:
    hook = receiver()
    dsn = private_pg.dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed.create_schema(conn)
    # Two processes, as under gunicorn with two workers; history and outbox in the engine's database.
    # DB_SLOW_MS high: a cold database's first round trips on a busy machine are not this test's subject
    env = {"PROBE_CONFIRM": "1", "NOTIFY_WEBHOOK_URLS": hook.url, "NOTIFY_MIN_INCIDENT_S": "2",
           "PROBE_INTERVAL_S": str(INTERVAL_S), "DB_SLOW_MS": "5000"}
    apps = [make_app(dsn=dsn, **env) for _ in range(2)]
    runtimes = [app.extensions["statuspage"] for app in apps]
    server = serve(apps[0])
    wait_until(lambda: _rows(dsn, "SELECT 1 FROM statuspage.state_changes WHERE component = 'database' "
                                  "AND to_state = 'operational'"), timeout=20, what="the database recorded up")
    wait_until(lambda: all(rt.state.history_reachable for rt in runtimes), what="both processes read history")
    # Both past their first snapshot (on a loaded machine a first refresh can time out, and "waiting
    # for the first data" is an incident of its own, alerted too): only the database's is this test's.
    wait_until(lambda: all(rt.state.snapshot is not None and rt.state.components["snapshot"].state == OPERATIONAL
                           for rt in runtimes), timeout=30, what="both processes serving numbers")
    delivered_before = [rt.state.metrics.registry.get_sample_value("statuspage_notifications_total",
                                                                   {"outcome": "delivered"}) for rt in runtimes]

    _away_from_the_tick()
    stopping = datetime.now(UTC)
    private_pg.stop()
    stopped = datetime.now(UTC)

    # -- while it is down --
    opened = wait_until(lambda: len(hook.messages("database", "incident.opened")) >= 2 and
                        hook.messages("database", "incident.opened"), timeout=20,
                        what="an alert from each process while the database is down")
    assert not private_pg.is_running()
    time.sleep(4 * INTERVAL_S)  # several more notify runs in each process: nothing more is sent
    opened = hook.messages("database", "incident.opened")
    assert len(opened) == 2, opened  # one per process
    for rt, before in zip(runtimes, delivered_before, strict=True):  # ...and each process counts its own one
        assert rt.state.metrics.registry.get_sample_value("statuspage_notifications_total",
                                                          {"outcome": "delivered"}) == before + 1
    assert opened[0]["key"] == opened[1]["key"]  # the receiver can drop the repeat
    assert opened[0]["body"] == opened[1]["body"]
    body = opened[0]["body"]
    assert (body["component"], body["from"], body["to"]) == ("database", OPERATIONAL, DOWN)
    went_down = datetime.strptime(body["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert stopping.replace(microsecond=0) <= went_down <= stopped + timedelta(seconds=INTERVAL_S + 1)
    assert opened[0]["key"] == f"statuspage-database-{went_down:%Y%m%dT%H%M%S}Z-opened"

    # The page shows it although nothing can be written: ongoing incident, down minute today.
    shown = server.get("/history.json").json()
    ongoing = [i for i in shown["incidents"] if i["component"] == "database" and i["resolved_at"] is None]
    assert len(ongoing) == 1 and ongoing[0]["recorded"] is False and ongoing[0]["to"] == DOWN
    today = shown["components"]["database"]["days"][-1]
    assert today["day"] == datetime.now(UTC).date().isoformat() and today["down_minutes"] >= 1
    page = parse(server.get("/").text)
    listed = [li for li in page.find_all("li", cls="incident") if "Database" in li.text]
    assert listed and "ongoing" in listed[0].text

    # -- it returns --
    restarting = datetime.now(UTC)
    private_pg.start()
    resolved = wait_until(lambda: hook.messages("database", "incident.resolved"), timeout=30,
                          what="the resolved message, through the outbox")
    time.sleep(3 * INTERVAL_S)  # past the hold of late "opened" messages (two intervals)

    changes = _rows(dsn, "SELECT from_state, to_state, at FROM statuspage.state_changes "
                         "WHERE component = 'database' ORDER BY at, id")
    assert [(f, t) for f, t, _ in changes] == [(UNKNOWN, OPERATIONAL), (OPERATIONAL, DOWN), (DOWN, OPERATIONAL)]
    down_at, up_at = changes[1][2], changes[2][2]
    # its true time: within a probe interval of the stop, not when the database came back
    assert stopping <= down_at <= stopped + timedelta(seconds=INTERVAL_S + 1)
    assert restarting <= up_at
    incident = _rows(dsn, "SELECT id, opened_at, resolved_at, alert_key FROM statuspage.incidents "
                          "WHERE component = 'database'")
    assert [(o, r) for _, o, r, _ in incident] == [(down_at, up_at)]
    assert incident[0][3] == f"database-{down_at:%Y%m%dT%H%M%S}Z"
    # no second alert: the outbox row of the "opened" message was settled as already sent
    assert len(hook.messages("database", "incident.opened")) == 2
    assert {m["key"] for m in hook.messages("database", "incident.opened")} == {opened[0]["key"]}
    assert _rows(dsn, "SELECT status FROM statuspage.notifications WHERE event = 'incident.opened' "
                      "AND incident_id = %s", (incident[0][0],)) == [("delivered",)]
    assert len(resolved) == 1 and resolved[0]["key"] == f"statuspage-{incident[0][3]}-resolved"
    assert resolved[0]["body"]["duration_s"] == int((up_at - down_at).total_seconds())
    # the minutes of the outage were written too
    assert _rows(dsn, "SELECT count(*) FROM statuspage.samples WHERE component = 'database' AND state = 'down'")[0][0]
    shown = server.get("/history.json").json()
    assert [i["recorded"] for i in shown["incidents"] if i["component"] == "database"] == [True]


T = utc(2026, 4, 30, 12, 0)


def test_a_flap_during_the_outage_is_written_in_order_with_its_true_times(private_pg, make_app) -> None:
    """The history database is down while the page sees down, up, down, up: all four changes are
    written when it returns, at the times they happened (the old writer kept only the last state)."""
    dsn = private_pg.dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed.create_schema(conn)
    token = "ops-token-for-this-test-0016"
    app = make_app(dsn=dsn, start_background=False, OPS_TOKEN=token)
    rt = app.extensions["statuspage"]
    rt.pool.wait(timeout=10)
    refresh_job(rt, T)
    probe_database_job(rt, T)
    history_job(rt, T)
    assert rt.leader.is_leader and rt.state.history_reachable

    private_pg.stop()
    flap = [(10, DOWN), (40, OPERATIONAL), (70, DOWN), (130, OPERATIONAL)]
    for seconds, state in flap:
        now = T + timedelta(seconds=seconds)
        rt.state.observe("database", Observation(state, f"database {state}"), now, 1)
        history_job(rt, now)
        assert rt.state.history_reachable is False
    shown = rt.state.history.to_public()  # the page's view meanwhile, from memory
    assert [(i["opened_at"], i["resolved_at"], i["recorded"]) for i in shown["incidents"]] == [
        ("2026-04-30T12:01:10Z", "2026-04-30T12:02:10Z", False),
        ("2026-04-30T12:00:10Z", "2026-04-30T12:00:40Z", False)]
    assert shown["components"]["database"]["days"][-1]["down_minutes"] == 2  # 12:00 and 12:01, worst of each
    ops = app.test_client().get("/ops.json", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert ops["history_unwritten"] == 4 + 3 and ops["history_dropped"] == 0  # 4 changes, 3 minutes

    private_pg.start()
    history_job(rt, T + timedelta(seconds=150))
    assert rt.state.history_reachable is True
    changes = _rows(dsn, "SELECT from_state, to_state, at FROM statuspage.state_changes "
                         "WHERE component = 'database' ORDER BY at, id")
    assert changes == [(UNKNOWN, OPERATIONAL, T)] + [
        (before, after, T + timedelta(seconds=s))
        for (_, before), (s, after) in zip([(0, OPERATIONAL), *flap], flap, strict=False)]
    incidents = _rows(dsn, "SELECT opened_at, resolved_at, recorded_at FROM statuspage.incidents ORDER BY opened_at")
    assert incidents == [(T + timedelta(seconds=10), T + timedelta(seconds=40), T + timedelta(seconds=150)),
                         (T + timedelta(seconds=70), T + timedelta(seconds=130), T + timedelta(seconds=150))]
    samples = _rows(dsn, "SELECT minute, state FROM statuspage.samples WHERE component = 'database' ORDER BY minute")
    assert samples == [(T, DOWN), (T + timedelta(minutes=1), DOWN), (T + timedelta(minutes=2), OPERATIONAL)]
    assert len(rt.state.backlog) == 0  # all written, nothing kept twice
    history_job(rt, T + timedelta(seconds=160))  # a second run writes nothing again
    assert len(_rows(dsn, "SELECT 1 FROM statuspage.state_changes WHERE component = 'database'")) == 5


def test_a_follower_drops_what_a_live_leader_records(private_pg, make_app) -> None:
    """Only one process writes: a process that finds the lock held forgets its own copy."""
    dsn = private_pg.dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed.create_schema(conn)
    leader, follower = (make_app(dsn=dsn, start_background=False).extensions["statuspage"] for _ in range(2))
    for rt in (leader, follower):
        rt.pool.wait(timeout=10)
        probe_database_job(rt, T)
        history_job(rt, T)
    assert leader.leader.is_leader and not follower.leader.is_leader
    follower.state.observe("database", Observation(DOWN, "database down"), T + timedelta(seconds=5), 1)
    assert len(follower.state.backlog) == 1
    history_job(follower, T + timedelta(seconds=10))
    assert len(follower.state.backlog) == 0
    assert _rows(dsn, "SELECT count(*) FROM statuspage.state_changes WHERE to_state = 'down'") == [(0,)]
