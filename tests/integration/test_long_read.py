"""A history too long for one statement is read in pieces, over as many refreshes as the deadline
asks (statuspage/db/chunks.py): the page goes live on it, never publishes part of it, and publishes
the numbers of the whole history, including a change made while the pieces were being read.

Each test makes every refresh stop after one piece (a reserve no deadline leaves), so a few hundred
trades take many refreshes, exactly as ten million do under the real deadline (bench/RESULTS.md),
and keeps the history's durations in as narrow a band as its daily range allows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from statuspage.demo import seed
from statuspage.jobs.scheduler import refresh_job
from statuspage.snapshot import query_params
from statuspage.state import Runtime

from ..helpers import recompute
from ..helpers.app import runtime
from ..helpers.track_expected import Trade, expected_track, insert
from ..helpers.trades import utc

T = utc(2026, 4, 30, 14, 30)
PIECE = 40  # rows a piece holds (track_chunk.sql cuts after this many, and trades never share a closed_at here)


def history(n: int, now: datetime) -> list[Trade]:
    """``n`` trades over the 300 days before ``now``, with the demo's losing spells."""
    return [Trade(t.id, t.closed_at, t.pnl, t.fees, t.symbol, t.side, t.qty, t.entry_price, t.exit_price, t.opened_at)
            for t in seed.history(n, 300, now - timedelta(hours=1), seed=3)]


def reading_app(writer: psycopg.Connection, make_app, trades: list[Trade]) -> tuple[Flask, Runtime]:
    """``trades`` in the table, and an app (scheduler off) whose every refresh reads one piece."""
    insert(writer, trades)
    app = make_app(start_background=False)
    rt = runtime(app)
    sealed = rt.state.sealed
    sealed.chunk_rows = sealed.track.chunk_rows = PIECE
    sealed.reserve_s = sealed.track.reserve_s = math.inf  # never left: every refresh stops after its first piece
    sealed.track.band_min = 1  # durations dropped as the pieces come in, as at ten million trades
    sealed.track.check_rows = PIECE  # the day's check, were it to run, would take refreshes too
    return app, rt


def assert_whole(rt: Runtime, trades: list[Trade]) -> None:
    """The published snapshot is that of every trade, recomputed in plain Python."""
    snap = rt.state.snapshot
    assert snap is not None and snap.as_of == T and snap.track is not None
    assert snap.to_public(stale=False) == recompute.expected_public(
        [recompute.Trade(t.id, t.closed_at, t.pnl, t.fees) for t in trades], T)
    assert snap.track.to_public(stale=False) == expected_track(trades, T)


def reading_count(app: Flask) -> float:
    metrics = app.test_client().get("/metrics").text
    line = next(ln for ln in metrics.splitlines() if ln.startswith('statuspage_refreshes_total{outcome="reading"}'))
    return float(line.split()[-1])


def test_the_first_numbers_are_the_whole_historys_after_as_many_refreshes_as_pieces(
        writer: psycopg.Connection, make_app) -> None:
    trades = history(500, T)
    app, rt = reading_app(writer, make_app, trades)
    client = app.test_client()
    refreshes = 0
    while rt.state.snapshot is None and refreshes < 100:
        refresh_job(rt, T)  # a fixed time: one refresh per call
        refreshes += 1
        if rt.state.snapshot is None:
            assert rt.state.last_refresh_error.startswith("reading the ")
            # nothing of a part is ever served as the numbers
            assert client.get("/performance/landing").status_code == 503
            assert client.get("/healthz").status_code == 503
            assert "waiting for the first data" in client.get("/status.json").get_data(as_text=True)

    assert rt.state.snapshot is not None
    before = sum(t.closed_at < query_params(T)["until"] for t in trades)
    # each piece holds at most PIECE + 1 rows (the row at the cut starts the next one); the landing's
    # read and the track record's share at most one refresh
    assert refreshes >= 2 * math.ceil(before / (PIECE + 1)) - 1
    assert reading_count(app) == refreshes - 1
    assert rt.state.last_refresh_error == ""
    assert_whole(rt, trades)
    kept = rt.state.sealed.track.base.part.sorted_durations  # about 450 trades, of which 2 x 100 or so kept
    assert kept.band is not None and kept.count == before and sum(len(run) for run in kept.runs) < before / 2


def test_the_days_after_the_long_history_are_read_over_as_many_refreshes_as_they_need(
        writer: psycopg.Connection, make_app) -> None:
    # At 10 million trades the 29 days after the history, each its own statement, could outlast
    # what the pieces left of a refresh: they stop and go on like the pieces, never published half.
    trades = history(500, T)
    app, rt = reading_app(writer, make_app, trades)
    rt.state.sealed.track.days_reserve_s = math.inf  # never left: every refresh reads one day
    client = app.test_client()
    messages = []
    for _ in range(200):
        refresh_job(rt, T)
        if rt.state.snapshot is not None:
            break
        messages.append(rt.state.last_refresh_error)
        assert client.get("/performance/landing").status_code == 503
    # all of it read today: no check of it today (it would take as many refreshes again at 10 M)
    assert rt.state.sealed.track.checking is None and rt.state.sealed.track.checked_on == T.date()
    days = [m for m in messages if m.startswith("reading the track record's days")]
    # one day a refresh, the first of them read by the refresh that read the last piece
    assert len(days) == 29 - 1, messages[-3:]
    assert days[0].endswith("1 of about 29 days so far") and days[-1].endswith("28 of about 29 days so far")
    assert_whole(rt, trades)


def test_the_refresh_job_goes_on_with_the_next_piece_at_once(writer: psycopg.Connection, make_app) -> None:
    now = datetime.now(UTC)
    trades = history(300, now)
    app, rt = reading_app(writer, make_app, trades)

    refresh_job(rt)  # as the scheduler calls it: one job run, not one per piece

    assert rt.state.snapshot is not None
    assert reading_count(app) >= 2
    assert rt.state.snapshot.windows["all"].trades == len(trades)
    assert rt.state.snapshot.windows["all"].pnl == sum((t.pnl for t in trades), Decimal(0))


def test_a_change_to_the_history_while_it_is_read_starts_the_read_again(
        writer: psycopg.Connection, make_app) -> None:
    trades = history(500, T)
    _, rt = reading_app(writer, make_app, trades)
    for _ in range(3):
        refresh_job(rt, T)
    assert rt.state.snapshot is None and rt.state.last_refresh_error.startswith("reading the history")

    # a late trade far back, and a correction of one already read: the pieces read so far are stale
    late = Trade(10_001, T - timedelta(days=200), Decimal("-1000"), Decimal("1"))
    insert(writer, [late])
    writer.execute("UPDATE closed_trades SET pnl = pnl + 7 WHERE id = 1")
    corrected = [Trade(**{**t.__dict__, "pnl": t.pnl + 7}) if t.id == 1 else t for t in trades]
    for _ in range(100):
        refresh_job(rt, T)
        if rt.state.snapshot is not None:
            break

    assert_whole(rt, [*corrected, late])


def test_a_scheduler_shutting_down_stops_the_read_after_the_refresh_in_progress(
        writer: psycopg.Connection, make_app) -> None:
    app, rt = reading_app(writer, make_app, history(300, datetime.now(UTC)))
    rt.scheduler = BackgroundScheduler()  # never started: as one that is shutting down, not running

    refresh_job(rt)

    assert rt.state.snapshot is None and reading_count(app) == 1
