"""The track record on small histories in the real PostgreSQL: a hand-computed example, the shapes
the issue names (a month of zero-pnl trades, a single trade, no trade, a history that starts in the
middle of a month), odd rows, rows the track record leaves out, what is kept between refreshes, and
the invariants that reject a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from flask import Flask
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from statuspage.jobs.scheduler import refresh_job
from statuspage.snapshot import SealedCache, refresh_once, violations
from statuspage.track import Episode, Path, TrackCache, read_track

from ..helpers.app import run_jobs
from ..helpers.track_expected import Trade, expected_equity, expected_track, insert
from ..helpers.trades import utc

T = utc(2026, 4, 30, 14, 30)


def track_at(pool: ConnectionPool, now: datetime = T, sealed: SealedCache | None = None) -> dict:
    snap = refresh_once(pool, now, 10, sealed)
    assert snap.track is not None
    return snap.track.to_public(stale=False)


HAND = [  # cumulative: 100, 70, 20, 100, 90, 90
    Trade(1, utc(2026, 2, 15, 10), Decimal("100"), Decimal("1"), "BTC-USD", "long"),
    Trade(2, utc(2026, 2, 20, 9), Decimal("-30"), Decimal("1"), "ETH-USD", "short"),
    Trade(3, utc(2026, 3, 2, 8), Decimal("-50"), Decimal("2"), "BTC-USD", "short"),
    Trade(4, utc(2026, 3, 10, 10), Decimal("80"), Decimal("1"), "ETH-USD", "long"),
    Trade(5, utc(2026, 4, 25, 12), Decimal("-10"), Decimal("0.5"), "BTC-USD", "long"),
    Trade(6, utc(2026, 4, 29, 12), Decimal("0"), Decimal("0.5"), "BTC-USD", "long"),
]


def test_a_hand_computed_track_record(writer: psycopg.Connection, pool: ConnectionPool) -> None:
    insert(writer, HAND)
    public = track_at(pool)

    assert public["months"] == [
        {"month": "2026-02", "trades": 2, "wins": 1, "losses": 1, "pnl": "70.00", "fees": "2.00"},
        {"month": "2026-03", "trades": 2, "wins": 1, "losses": 1, "pnl": "30.00", "fees": "3.00"},
        {"month": "2026-04", "trades": 2, "wins": 0, "losses": 1, "pnl": "-10.00", "fees": "1.00"},
    ]
    assert public["years"] == [{"year": "2026", "trades": 6, "wins": 2, "losses": 3, "pnl": "90.00", "fees": "6.00"}]
    # 100 is the peak after trade 1; trades 2 and 3 fall to 20; trade 4 is back at 100; trade 5 falls
    # to 90 and trade 6 (zero) stays there: one finished episode of 80, one open of 10
    assert public["drawdowns"] == [
        {"start": "2026-02-15T10:00:00Z", "trough_at": "2026-03-02T08:00:00Z", "end": "2026-03-10T10:00:00Z",
         "depth": "80.00", "duration_days": 23},
        {"start": "2026-03-10T10:00:00Z", "trough_at": "2026-04-25T12:00:00Z", "end": None,
         "depth": "10.00", "duration_days": 51},
    ]
    assert public["current_drawdown"] == {"depth": "10.00", "start": "2026-03-10T10:00:00Z"}
    # every trade was held an hour and traded 1 at 100 and 101: volume 201 each
    assert public["stats"]["all"] == {
        "trades": 6, "expectancy": "15.00", "avg_win": "90.00", "avg_loss": "-30.00", "payoff_ratio": 3.0,
        "longest_win_streak": 1, "longest_loss_streak": 2, "avg_duration_s": 3600.0, "median_duration_s": 3600.0,
        "volume": "1206.00"}
    assert public["stats"]["7d"] == {  # trades 5 and 6
        "trades": 2, "expectancy": "-5.00", "avg_win": None, "avg_loss": "-10.00", "payoff_ratio": None,
        "longest_win_streak": 0, "longest_loss_streak": 1, "avg_duration_s": 3600.0, "median_duration_s": 3600.0,
        "volume": "402.00"}
    assert public["by_side"] == [
        {"side": "long", "trades": 4, "wins": 2, "losses": 1, "win_rate": 0.5, "pnl": "170.00", "fees": "3.00"},
        {"side": "short", "trades": 2, "wins": 0, "losses": 2, "win_rate": 0.0, "pnl": "-80.00", "fees": "3.00"},
    ]
    assert [(r["symbol"], r["pnl"]) for r in public["by_symbol"]] == [("ETH-USD", "50.00"), ("BTC-USD", "40.00")]
    assert public == expected_track(HAND, T)


def test_no_trades_is_an_empty_record_not_an_error(writer: psycopg.Connection, pool: ConnectionPool) -> None:
    snap = refresh_once(pool, T, 10)
    assert snap.track is not None
    public = snap.track.to_public(stale=False)
    assert public["months"] == [] and public["years"] == [] and public["drawdowns"] == []
    assert public["current_drawdown"] == {"depth": "0.00", "start": None}
    assert public["stats"]["all"] == {
        "trades": 0, "expectancy": None, "avg_win": None, "avg_loss": None, "payoff_ratio": None,
        "longest_win_streak": 0, "longest_loss_streak": 0, "avg_duration_s": None, "median_duration_s": None,
        "volume": "0.00"}
    assert public["by_symbol"] == [] and public["by_side"] == []
    assert snap.track.equity == ()
    assert public == expected_track([], T)


@pytest.mark.parametrize("pnl", ["-12.5", "0", "7.25"])
def test_a_single_trade(writer: psycopg.Connection, pool: ConnectionPool, pnl: str) -> None:
    only = [Trade(1, utc(2026, 1, 31, 23, 59, 59), Decimal(pnl), Decimal("0.1"))]
    insert(writer, only)
    public = track_at(pool)
    assert [m["month"] for m in public["months"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert [m["trades"] for m in public["months"]] == [1, 0, 0, 0]
    # a losing first trade falls from the 0 before it: an open episode that starts at that trade
    assert public["drawdowns"] == ([{"start": "2026-01-31T23:59:59Z", "trough_at": "2026-01-31T23:59:59Z",
                                     "end": None, "depth": "12.50", "duration_days": 88}] if pnl == "-12.5" else [])
    assert public == expected_track(only, T)


def test_a_month_of_zero_pnl_trades_is_neither_won_nor_lost(writer: psycopg.Connection,
                                                           pool: ConnectionPool) -> None:
    trades = [Trade(i, utc(2026, 3, 1 + i, 12), Decimal(0), Decimal("0.25")) for i in range(1, 6)]
    insert(writer, trades)
    public = track_at(pool)
    march = next(m for m in public["months"] if m["month"] == "2026-03")
    assert march == {"month": "2026-03", "trades": 5, "wins": 0, "losses": 0, "pnl": "0.00", "fees": "1.25"}
    # zero pnl ends both streaks and is never a drawdown
    assert public["stats"]["all"]["longest_win_streak"] == public["stats"]["all"]["longest_loss_streak"] == 0
    assert public["drawdowns"] == []
    assert public == expected_track(trades, T)


def test_a_history_that_starts_in_the_middle_of_a_month(writer: psycopg.Connection, pool: ConnectionPool) -> None:
    trades = [Trade(1, utc(2025, 11, 17, 8), Decimal("5")), Trade(2, utc(2026, 1, 2, 8), Decimal("-2"))]
    insert(writer, trades)
    snap = refresh_once(pool, T, 10)
    assert snap.track is not None
    public = snap.track.to_public(stale=False)
    assert public["months"][0]["month"] == "2025-11" and len(public["months"]) == 6  # Nov to Apr, Dec empty
    assert [y["year"] for y in public["years"]] == ["2025", "2026"]
    equity = snap.track.equity
    assert equity[0].day.isoformat() == "2025-11-17" and equity[-1].day == T.date()  # from the first trade's day
    assert [d.to_public() for d in equity] == expected_equity(trades, T)


def test_trades_on_the_edges_of_months_and_years_count_in_their_utc_month(writer: psycopg.Connection,
                                                                          pool: ConnectionPool) -> None:
    micro = timedelta(microseconds=1)
    trades = [
        Trade(1, utc(2026, 1, 1) - micro, Decimal("1")),  # the last microsecond of 2025
        Trade(2, utc(2026, 1, 1), Decimal("2")),  # the first of 2026
        Trade(3, utc(2026, 2, 1) - timedelta(seconds=1), Decimal("4")),  # the last second of January
        Trade(4, utc(2026, 2, 1), Decimal("8")),
    ]
    insert(writer, trades)
    public = track_at(pool)
    assert [(m["month"], m["pnl"]) for m in public["months"][:3]] == [
        ("2025-12", "1.00"), ("2026-01", "6.00"), ("2026-02", "8.00")]
    assert [(y["year"], y["pnl"]) for y in public["years"]] == [("2025", "1.00"), ("2026", "14.00")]


# --- odd rows, and rows the track record leaves out ---


ODD = [
    Trade(1, utc(2026, 4, 20, 10), Decimal("10"), opened_at=utc(2026, 4, 20, 12)),  # closed before it opened
    Trade(2, utc(2026, 4, 21, 10), Decimal("-4"), qty=Decimal(0)),
    Trade(3, utc(2026, 4, 22, 10), Decimal("6"), qty=Decimal("-2")),
    Trade(4, utc(2026, 4, 23, 10), Decimal("3"), symbol=""),
    Trade(5, utc(2026, 4, 24, 10), Decimal("-1"), symbol="   "),
    Trade(6, utc(2026, 4, 25, 10), Decimal("2"), opened_at=utc(2026, 4, 25, 8)),  # held two hours
]


def test_odd_rows_count_everywhere_but_where_the_odd_field_is_used(writer: psycopg.Connection,
                                                                   pool: ConnectionPool) -> None:
    insert(writer, ODD)
    snap = refresh_once(pool, T, 10)
    assert snap.track is not None and violations(snap) == []
    public = snap.track.to_public(stale=False)
    everything = public["stats"]["all"]
    assert everything["trades"] == 6 and public["months"][-1]["pnl"] == "16.00"
    # durations: trade 1 has none; 2-5 an hour, 6 two hours
    assert everything["avg_duration_s"] == (4 * 3600 + 7200) / 5 and everything["median_duration_s"] == 3600.0
    assert everything["volume"] == "804.00"  # trades 1, 4, 5, 6: quantity 1 at 100 and 101
    assert public["by_symbol"][-1] == {"symbol": None, "trades": 2, "wins": 1, "losses": 1, "win_rate": 0.5,
                                       "pnl": "2.00", "fees": "0.00"}
    assert snap.track.total.odd.to_public() == {"closed_before_opened": 1, "no_volume": 2, "blank_symbol": 2}
    assert public == expected_track(ODD, T)


def test_future_dated_and_not_a_number_rows_are_left_out_of_the_track_record(writer: psycopg.Connection,
                                                                            pg_dsn: str) -> None:
    """The track record's rule (track_trades.sql, which includes trade_valid.sql, the landing numbers'
    own), read on its own."""
    good = [Trade(1, utc(2026, 4, 28, 10), Decimal("5")), Trade(2, utc(2026, 4, 29, 10), Decimal("-3"))]
    left_out = [Trade(3, T + timedelta(minutes=1), Decimal("100")),  # later than the snapshot time allows
                Trade(4, utc(2026, 4, 29, 11), Decimal("NaN")), Trade(5, utc(2026, 4, 29, 12), Decimal("1"),
                                                                     fees=Decimal("NaN"))]
    insert(writer, good + left_out)
    until = datetime.combine(T.date() - timedelta(days=29), datetime.min.time(), UTC)
    days = [(until.date() + timedelta(days=i), 0, Decimal(0), Decimal(0)) for i in range(30)]
    days[-2] = (days[-2][0], 1, Decimal("5"), Decimal(0))
    days[-1] = (days[-1][0], 1, Decimal("-3"), Decimal(0))
    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(row_factory=dict_row) as cur:
            track = read_track(cur, T, until, (0, Decimal(0), Decimal(0)), days, TrackCache())
    assert track.to_public(stale=False) == expected_track(good, T)
    assert expected_track(good + left_out, T) == expected_track(good, T)  # the plain model agrees


# --- what is kept between refreshes ---


def test_a_late_trade_in_a_kept_day_is_read_again_and_the_history_is_not(writer: psycopg.Connection,
                                                                         pool: ConnectionPool) -> None:
    trades = [Trade(i, T - timedelta(days=i * 3.1), Decimal(i % 3 - 1) * 7) for i in range(1, 60)]
    insert(writer, trades)
    sealed = SealedCache()
    assert track_at(pool, T, sealed) == expected_track(trades, T)
    late = Trade(1000, T - timedelta(days=5, hours=3), Decimal("-400"))
    insert(writer, [late])
    assert track_at(pool, T, sealed) == expected_track([*trades, late], T)
    assert sealed.track.reads == 1  # the days since the landing's sealed range, not the history
    older = Trade(1001, T - timedelta(days=100), Decimal("55"))
    insert(writer, [older])
    assert track_at(pool, T, sealed) == expected_track([*trades, late, older], T)
    assert sealed.track.reads == 2  # the landing's totals before its range changed: everything again


def test_a_deleted_trade_is_noticed_too(writer: psycopg.Connection, pool: ConnectionPool) -> None:
    trades = [Trade(i, T - timedelta(days=i * 1.7), Decimal(i)) for i in range(1, 40)]
    insert(writer, trades)
    sealed = SealedCache()
    track_at(pool, T, sealed)
    writer.execute("DELETE FROM closed_trades WHERE id IN (3, 30)")
    left = [t for t in trades if t.id not in (3, 30)]
    assert track_at(pool, T, sealed) == expected_track(left, T)



def test_the_long_historys_durations_are_kept_as_a_band_and_read_again_when_the_median_leaves_it(
        writer: psycopg.Connection, pool: ConnectionPool, caplog: pytest.LogCaptureFixture) -> None:
    # 300 trades before the landing's range (durations 1 to 300 minutes, in shuffled order), 10 in it:
    # the history keeps 2 * 10 = 20 durations on each side of its median, the rest only counted
    history = [Trade(i, T - timedelta(days=40 + i / 10), Decimal(i % 5 - 2),
                     opened_at=T - timedelta(days=40 + i / 10, minutes=(i * 7919) % 300 + 1)) for i in range(300)]
    recent = [Trade(1000 + i, T - timedelta(days=2 + i), Decimal(1)) for i in range(10)]  # an hour each
    insert(writer, [*history, *recent])
    sealed = SealedCache()
    sealed.track.band_min = 1
    assert track_at(pool, T, sealed) == expected_track([*history, *recent], T)
    kept = sealed.track.base.part.sorted_durations  # 300 different minutes: 20 a side and the middle two
    assert kept.band is not None and kept.count == 300 and sum(len(run) for run in kept.runs) == 2 * 20 + 2
    # today's trades, all longer than any kept: 30 of them move the median up 15 ranks, inside the band
    today = [Trade(2000 + i, T - timedelta(minutes=10 + i), Decimal(3), opened_at=T - timedelta(days=1))
             for i in range(30)]
    insert(writer, today)
    assert track_at(pool, T, sealed) == expected_track([*history, *recent, *today], T)
    assert sealed.track.reads == 1
    # 60 more move it 45 ranks: past the band, so the history is read again, and the median is still exact
    more = [Trade(3000 + i, T - timedelta(minutes=50 + i / 10), Decimal(-1), opened_at=T - timedelta(days=1))
            for i in range(60)]
    insert(writer, more)
    everything = [*history, *recent, *today, *more]
    assert track_at(pool, T, sealed) == expected_track(everything, T)
    assert sealed.track.reads == 2
    assert "above the band kept: reading the track record's history again" in caplog.text
    # the new band is twice the range's trades, today's included, wide: here all 300, and it holds
    assert sealed.track.base.part.sorted_durations.count == 300
    assert track_at(pool, T, sealed) == expected_track(everything, T)
    assert sealed.track.reads == 2



def test_a_correction_the_count_and_sums_do_not_show_is_read_again_after_the_next_midnight(
        writer: psycopg.Connection, pool: ConnectionPool, caplog: pytest.LogCaptureFixture) -> None:
    # Trade 30 is 93 days old (the history before the landing's range), trade 2 six days (a kept day of
    # the range). Their symbol and opening time are corrected: no count, pnl or fees moves.
    trades = [Trade(i, T - timedelta(days=i * 3.1), Decimal(i % 3 - 1) * 7) for i in range(1, 60)]
    insert(writer, trades)
    sealed = SealedCache()
    assert track_at(pool, T, sealed) == expected_track(trades, T)
    writer.execute("UPDATE closed_trades SET symbol = 'ETH-USD' WHERE id = 30")
    writer.execute("UPDATE closed_trades SET opened_at = closed_at - interval '3 days' WHERE id = 2")
    fixed = [replace(t, symbol="ETH-USD") if t.id == 30 else
             replace(t, opened_at=t.closed_at - timedelta(days=3)) if t.id == 2 else t for t in trades]
    later = T + timedelta(days=1)
    assert track_at(pool, later, sealed) == expected_track(fixed, later)  # the day's check found them
    assert sealed.track.reads == 2
    assert "changed where their count and sums did not" in caplog.text
    assert track_at(pool, later + timedelta(minutes=1), sealed) == expected_track(fixed, later + timedelta(minutes=1))
    assert sealed.track.reads == 2  # checked once a day: nothing read again after it


# --- invariants ---


def test_a_track_record_that_disagrees_with_the_landing_numbers_is_rejected(writer: psycopg.Connection,
                                                                            pool: ConnectionPool) -> None:
    insert(writer, HAND)
    snap = refresh_once(pool, T, 10)
    assert snap.track is not None and violations(snap) == []
    total = snap.track.total
    broken_path = replace(total.path, closed=(Episode(99, utc(2026, 1, 1), Decimal(500), Decimal(1),
                                                      utc(2026, 1, 2), utc(2026, 1, 3)),))
    bad_tracks = {
        "deepest drawdown": replace(snap.track, total=replace(total, path=broken_path)),
        "by_side": replace(snap.track, total=replace(total, sides={})),
        "stats 7d": replace(snap.track, windows={**snap.track.windows, "7d": snap.track.windows["all"]}),
    }
    for problem, track in bad_tracks.items():
        found = violations(replace(snap, track=track))
        assert any(problem in p for p in found), (problem, found)


def test_a_rejected_snapshot_forgets_what_the_track_record_kept(writer: psycopg.Connection,
                                                                make_app: Callable[..., Flask]) -> None:
    insert(writer, HAND)
    rt = run_jobs(make_app(start_background=False), T, (refresh_job,), pool_ready=True)
    assert rt.state.sealed.track.base is not None
    # The engine's column turned whole dollars: the read passes its invariants, but its sums arrive as
    # integers, which cannot be rendered as money: rejected by the render check, and nothing kept.
    writer.execute("ALTER TABLE closed_trades ALTER COLUMN pnl TYPE integer")
    refresh_job(rt, T + timedelta(minutes=1))
    assert rt.state.rejected_in_row == 1
    assert rt.state.sealed.track.base is None and rt.state.sealed.track.days == {}


def test_a_trade_dated_just_after_midnight_waits_for_its_day(writer: psycopg.Connection,
                                                            pool: ConnectionPool) -> None:
    """Within the clock-skew tolerance, but on a day the daily series does not have yet: set aside
    until due, never a snapshot whose days and totals disagree."""
    insert(writer, HAND)
    late = utc(2026, 4, 30, 23, 59, 58)  # two seconds before midnight
    insert(writer, [Trade(50, late + timedelta(seconds=5), Decimal("1"))])
    snap = refresh_once(pool, late, 10, SealedCache())
    assert snap.windows["all"].trades == len(HAND)
    assert {reason: each.trades for reason, each in snap.excluded.items()} == {"future_closed_at": 1}
    after = refresh_once(pool, late + timedelta(seconds=6), 10, SealedCache())
    assert after.windows["all"].trades == len(HAND) + 1 and after.excluded == {}


def test_the_path_of_an_empty_segment_is_its_base() -> None:
    base = Path(cum=Decimal(3), peak=Decimal(5), at_peak=2)
    assert base.continued({"trades": 0}) is base
