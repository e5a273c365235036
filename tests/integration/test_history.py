"""History on a real PostgreSQL: migrations, one writer, incidents, retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from statuspage import history
from statuspage.db import migrate
from statuspage.db.leader import Leader
from statuspage.status import Component
from statuspage.vocabulary import DEGRADED, DOWN, OPERATIONAL, UNKNOWN

from ..helpers.trades import utc
from ..helpers.wait import wait_until

T = utc(2026, 4, 30, 12, 0)
NAMES = ["engine", "metrics", "database", "snapshot"]


def test_migrations_apply_once_and_a_second_run_changes_nothing(hist) -> None:
    every = [path.stem for path in migrate.pending_files()]
    assert every[:2] == ["0001_history", "0002_notifications"] and "0004_history_truth" in every
    assert migrate.applied(hist) == every
    schema_before = hist.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'statuspage' ORDER BY 1, 2").fetchall()
    assert migrate.migrate(hist) == []
    assert migrate.migrate(hist) == []
    assert migrate.applied(hist) == every
    assert hist.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'statuspage' ORDER BY 1, 2").fetchall() == schema_before


def comps(**states: tuple[str, datetime]) -> dict[str, Component]:
    return {name: Component(name, state=s, since=since, detail=f"{name} {s}") for name, (s, since) in states.items()}


def test_state_changes_open_and_resolve_one_incident(hist) -> None:
    t0, t1, t2, t3 = (T + timedelta(minutes=m) for m in (0, 5, 9, 20))
    base = {"metrics": (OPERATIONAL, t0), "database": (OPERATIONAL, t0), "snapshot": (OPERATIONAL, t0)}
    history.record(hist, comps(engine=(OPERATIONAL, t0), **base), t0, "a")
    history.record(hist, comps(engine=(DEGRADED, t1), **base), t1, "a")
    history.record(hist, comps(engine=(DOWN, t2), **base), t2, "a")  # worse, same incident
    history.record(hist, comps(engine=(DOWN, t2), **base), t2 + timedelta(minutes=1), "a")  # no change
    history.record(hist, comps(engine=(OPERATIONAL, t3), **base), t3, "a")
    changes = hist.execute("SELECT from_state, to_state, at FROM statuspage.state_changes "
                           "WHERE component = 'engine' ORDER BY at").fetchall()
    assert changes == [(UNKNOWN, OPERATIONAL, t0), (OPERATIONAL, DEGRADED, t1), (DEGRADED, DOWN, t2),
                       (DOWN, OPERATIONAL, t3)]
    incidents = hist.execute("SELECT component, from_state, worst_state, opened_at, resolved_at, detail "
                             "FROM statuspage.incidents").fetchall()
    assert incidents == [("engine", OPERATIONAL, DOWN, t1, t3, "engine down")]
    h = history.read(hist, NAMES, t3)
    assert [(i.component, i.duration_s(t3)) for i in h.incidents] == [("engine", 15 * 60)]
    assert h.to_public()["incidents"][0]["duration_s"] == 900


def test_samples_are_one_per_minute_and_roll_up_per_day(hist) -> None:
    base = {"metrics": (OPERATIONAL, T), "database": (OPERATIONAL, T), "snapshot": (OPERATIONAL, T)}
    for second in range(0, 180, 15):  # 3 minutes of 15 s probes: 3 samples each, whoever writes
        state = OPERATIONAL if second < 60 else DOWN if second < 120 else DEGRADED
        history.record(hist, comps(engine=(state, T), **base), T + timedelta(seconds=second), "a")
        history.record(hist, comps(engine=(OPERATIONAL, T), **base), T + timedelta(seconds=second), "b")
    rows = hist.execute("SELECT state, recorded_by FROM statuspage.samples WHERE component = 'engine' "
                        "ORDER BY minute").fetchall()
    assert rows == [(OPERATIONAL, "a"), (DOWN, "a"), (DEGRADED, "a")]
    rollup = hist.execute("SELECT operational, degraded, down, unknown FROM statuspage.daily_rollups "
                          "WHERE component = 'engine' AND day = %s", (T.date(),)).fetchone()
    assert rollup == (1, 1, 1, 0)


def test_retention_prunes_samples_after_14_days_and_rollups_after_400(hist) -> None:
    for days in (13, 15):
        hist.execute("INSERT INTO statuspage.samples VALUES ('engine', %s, 'operational', 'a')",
                     (T - timedelta(days=days),))
    for days in (399, 401):
        hist.execute("INSERT INTO statuspage.daily_rollups (component, day, operational) VALUES ('engine', %s, 1)",
                     ((T - timedelta(days=days)).date(),))
    assert history.prune(hist, T) == (1, 1)
    assert hist.execute("SELECT count(*) FROM statuspage.samples").fetchone()[0] == 1
    oldest = hist.execute("SELECT min(day) FROM statuspage.daily_rollups").fetchone()[0]
    assert oldest == (T - timedelta(days=399)).date()
    assert history.prune(hist, T) == (0, 0)


def test_only_one_of_two_contenders_holds_the_lock_and_the_other_takes_over(hist, pg_dsn) -> None:
    a, b = Leader(pg_dsn, {}), Leader(pg_dsn, {})
    try:
        assert a.ensure() is True
        assert b.ensure() is False
        assert a.ensure() is True and b.ensure() is False  # stable while a lives
        # a's session is killed from outside: its lock goes with it
        pid = a.conn.info.backend_pid
        hist.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # pg_terminate_backend returns once the signal is sent; the lock goes when the session has ended
        wait_until(b.ensure, timeout=10, what="b taking the lock")
        assert a.ensure() is False  # a notices, reconnects, and follows
    finally:
        a.close()
        b.close()
