"""Workers of one instance hand each other their last good snapshot: a worker that cannot get a
database connection serves its siblings' numbers, with their true age, instead of "no snapshot yet"."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from statuspage import handoff
from statuspage.db import make_pool
from statuspage.demo import seed
from statuspage.snapshot import refresh_once

from ..helpers.app import settings_for
from ..helpers.gunicorn import EXPECTED, LANDING, TRADES
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

TRACK = "/performance/track-record.json"


@pytest.fixture
def snap(pg_dsn, writer):
    now = datetime.now(UTC)
    for trade_id, (age, pnl) in enumerate(TRADES, start=1):
        add_trade(writer, trade_id, now - age, pnl, fees="0.35")
    pool = make_pool(settings_for(pg_dsn))
    try:
        yield refresh_once(pool, now, 5)
    finally:
        pool.close(timeout=2)


def read_at(data: dict, moment: datetime) -> dict:
    """A handoff file's snapshot, said to be read at ``moment``."""
    data["snapshot"]["as_of"] = moment.isoformat()
    return data


def test_a_snapshot_survives_the_file_exactly(snap, tmp_path: Path) -> None:
    handoff.save(tmp_path, snap)
    assert [p.name for p in tmp_path.iterdir()] == [f"snapshot-{os.getpid()}.json"]  # no temporary left
    # every field, every Decimal digit, the true as_of, the track record with two durations a window
    adopted = handoff.newest(tmp_path)
    assert adopted == snap.slim() and adopted.track is not None
    assert adopted.track.to_public(stale=False) == snap.track.to_public(stale=False)


def test_the_newest_valid_snapshot_is_adopted_and_broken_ones_are_refused(snap, tmp_path: Path) -> None:
    midnight = snap.as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    # read a little earlier the same day: the same 30 days, still valid
    earlier = read_at(handoff.encode(snap), snap.as_of - min(timedelta(minutes=5), snap.as_of - midnight))
    (tmp_path / "snapshot-1.json").write_text(json.dumps(earlier))
    (tmp_path / "snapshot-5.json").write_text(json.dumps(handoff.encode(snap)))
    newer_but_broken = read_at(handoff.encode(snap), snap.as_of + timedelta(seconds=1))
    windows = dict(newer_but_broken["snapshot"]["windows"])
    windows["7d"]["trades"] = 999  # more trades in 7 days than in 30: not nested
    (tmp_path / "snapshot-2.json").write_text(json.dumps(newer_but_broken))
    (tmp_path / "snapshot-3.json").write_text("{half a fi")
    (tmp_path / "snapshot-4.json").write_text(json.dumps({**handoff.encode(snap), "version": 99}))
    assert handoff.newest(tmp_path) == snap.slim()
    (tmp_path / "snapshot-5.json").unlink()
    adopted = handoff.newest(tmp_path)
    assert adopted is not None and adopted.as_of == datetime.fromisoformat(earlier["snapshot"]["as_of"])
    for name in ("snapshot-1.json", "snapshot-2.json", "snapshot-3.json", "snapshot-4.json"):
        (tmp_path / name).unlink()
    assert handoff.newest(tmp_path) is None


def test_files_of_gone_processes_are_pruned_once_a_newer_read_exists(snap, tmp_path: Path) -> None:
    gone = read_at(handoff.encode(snap), snap.as_of - timedelta(seconds=1))
    dead_pid = 2**22 + 12345  # above the usual pid_max: no such process
    (tmp_path / f"snapshot-{dead_pid}.json").write_text(json.dumps(gone))
    (tmp_path / "snapshot-1.json").write_text(json.dumps(gone))  # pid 1 lives: its file stays
    handoff.save(tmp_path, snap)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot-1.json", f"snapshot-{os.getpid()}.json"]


def test_a_replaced_worker_that_cannot_connect_serves_its_siblings_numbers(private_pg, start_gunicorn) -> None:
    """Two workers; the page's role may open no more sessions (its slots are full); one worker is
    killed. Its replacement cannot read the database, and serves the same landing numbers."""
    now = datetime.now(UTC)
    with psycopg.connect(private_pg.dsn, autocommit=True) as admin:
        seed.create_schema(admin)
        for trade_id, (age, pnl) in enumerate(TRADES, start=1):
            add_trade(admin, trade_id, now - age, pnl)
        admin.execute("CREATE ROLE page LOGIN")
        admin.execute("GRANT SELECT ON closed_trades TO page")
        page_dsn = private_pg.dsn.replace("postgres@", "page@", 1)
        server = start_gunicorn(DATABASE_URL=page_dsn, HISTORY_DATABASE_URL=private_pg.dsn)
        server.wait_ready()

        admin.execute("ALTER ROLE page CONNECTION LIMIT 0")  # sessions already open go on
        with pytest.raises(psycopg.OperationalError, match='too many connections for role "page"'):
            psycopg.connect(page_dsn, connect_timeout=5).close()
        killed = server.worker_pids()[0]
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: len(server.worker_pids()) == 3, what="a replacement worker booted")
        replacement = server.worker_pids()[-1]

        def every_answer_has_the_numbers() -> bool:
            for reply in server.get_many(LANDING, 16):
                assert reply.status == 200, reply.text
                body = reply.json()
                assert {name: (w["trades"], w["pnl"]) for name, w in body["windows"].items()} == EXPECTED
                assert body["stale"] is False
            return replacement in server.pids_that_served(LANDING)

        wait_until(every_answer_has_the_numbers, timeout=30, what="the replacement serving the landing numbers")

        def every_answer_has_the_track_record() -> bool:  # the same one, from a sibling's file
            replies = {(r.status, r.body) for r in server.get_many(TRACK, 16)}
            assert {status for status, _ in replies} == {200}, replies
            return len(replies) == 1 and replacement in server.pids_that_served(TRACK)

        wait_until(every_answer_has_the_track_record, timeout=30, what="the replacement serving the track record")
        # it really could not read for itself
        wait_until(lambda: 'too many connections for role "page"' in server.log(), what="the replacement refused")
        statuses = {e["status"] for e in server.access() if e["path"] == LANDING and int(e["pid"].strip("<>")) ==
                    replacement}
        assert statuses == {"200"}  # never "no snapshot yet"
