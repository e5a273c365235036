"""The landing numbers, read from a real PostgreSQL and checked against hand computation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from statuspage.db import make_pool
from statuspage.demo import seed
from statuspage.jobs.scheduler import refresh_job
from statuspage.snapshot import SealedCache, read_snapshot, refresh_once, violations

from ..helpers.app import run_jobs, settings_for
from ..helpers.recompute import max_drawdown
from ..helpers.trades import add_trade, utc

T = utc(2026, 4, 30, 14, 30)


def days_old(days: float) -> datetime:
    return T - timedelta(days=days)


@pytest.fixture
def hand_fixture(writer: psycopg.Connection) -> None:
    """Trades 1, 6.5, 7.5, 29.5, 30.5 and 400 days before T, two of them with zero pnl."""
    add_trade(writer, 1, days_old(1), "10.005", "0.5")
    add_trade(writer, 2, days_old(6.5), "-4", "0.25")
    add_trade(writer, 3, days_old(7.5), "0", "0.1")
    add_trade(writer, 4, days_old(29.5), "-12.5", "1")
    add_trade(writer, 5, days_old(30.5), "-3", "0.3")
    add_trade(writer, 6, days_old(400), "0", "0")


@pytest.mark.usefixtures("hand_fixture")
def test_windows_match_hand_computation(pool) -> None:
    public = refresh_once(pool, T, 5).to_public(stale=False)
    assert public["as_of"] == "2026-04-30T14:30:00Z"
    w7, w30, wall = (public["windows"][k] for k in ("7d", "30d", "all"))
    # 7d: trades 1 (+10.005) and 2 (-4); cumulative -4 then +6.005, so the drawdown is 4
    assert w7 == {"trades": 2, "wins": 1, "losses": 1, "win_rate": 0.5, "pnl": "6.01", "fees": "0.75",
                  "best_trade": "10.01", "worst_trade": "-4.00", "profit_factor": pytest.approx(10.005 / 4),
                  "max_drawdown": "4.00"}
    # 30d adds 3 (zero pnl, neither win nor loss) and 4 (-12.5): cumulative -12.5, -12.5, -16.5, -6.495
    assert w30 == {"trades": 4, "wins": 1, "losses": 2, "win_rate": 0.25, "pnl": "-6.50", "fees": "1.85",
                   "best_trade": "10.01", "worst_trade": "-12.50", "profit_factor": pytest.approx(10.005 / 16.5),
                   "max_drawdown": "16.50"}
    # all: 6 (0), 5 (-3), 4, 3, 2, 1: cumulative 0, -3, -15.5, -15.5, -19.5, -9.495
    assert wall == {"trades": 6, "wins": 1, "losses": 3, "win_rate": pytest.approx(1 / 6), "pnl": "-9.50",
                    "fees": "2.15", "best_trade": "10.01", "worst_trade": "-12.50",
                    "profit_factor": pytest.approx(10.005 / 19.5), "max_drawdown": "19.50"}


@pytest.mark.usefixtures("hand_fixture")
def test_daily_series_is_thirty_utc_days_with_totals_since_the_first_trade(pool) -> None:
    daily = refresh_once(pool, T, 5).to_public(stale=False)["daily"]
    assert len(daily) == 30
    assert daily[0]["day"] == "2026-04-01" and daily[-1]["day"] == "2026-04-30"
    by_day = {d["day"]: d for d in daily}
    # trades 5 and 6 closed before the range: they start the cumulative totals at 2 trades, -3.00
    assert by_day["2026-04-01"] == {"day": "2026-04-01", "trades": 1, "pnl": "-12.50", "cum_trades": 3,
                                    "cum_pnl": "-15.50"}
    assert by_day["2026-04-23"] == {"day": "2026-04-23", "trades": 1, "pnl": "0.00", "cum_trades": 4,
                                    "cum_pnl": "-15.50"}
    assert by_day["2026-04-24"]["cum_trades"] == 5 and by_day["2026-04-24"]["cum_pnl"] == "-19.50"
    assert by_day["2026-04-29"] == {"day": "2026-04-29", "trades": 1, "pnl": "10.01", "cum_trades": 6,
                                    "cum_pnl": "-9.50"}
    assert by_day["2026-04-30"] == {"day": "2026-04-30", "trades": 0, "pnl": "0.00", "cum_trades": 6,
                                    "cum_pnl": "-9.50"}
    assert by_day["2026-04-10"] == {"day": "2026-04-10", "trades": 0, "pnl": "0.00", "cum_trades": 3,
                                    "cum_pnl": "-15.50"}


def test_empty_windows_have_zeroes_and_nulls(writer, pool) -> None:
    add_trade(writer, 1, days_old(400), "5")
    public = refresh_once(pool, T, 5).to_public(stale=False)
    assert public["windows"]["7d"] == {"trades": 0, "wins": 0, "losses": 0, "win_rate": None, "pnl": "0.00",
                                       "fees": "0.00", "best_trade": None, "worst_trade": None,
                                       "profit_factor": None, "max_drawdown": "0.00"}
    # one winning trade and no loss: no profit factor, no drawdown
    assert public["windows"]["all"]["profit_factor"] is None
    assert public["windows"]["all"]["max_drawdown"] == "0.00"


def test_daily_counts_are_integers_on_hundreds_of_trades_over_two_months(writer, pool) -> None:
    """Bug 2: SUM(bigint) OVER (...) is numeric; the restore query must cast it back."""
    now = datetime.now(UTC)
    trades = seed.history(480, 75, now)
    seed.insert(writer, trades)
    snap = read_snapshot(pool, now, 5)
    assert all(type(p.cum_trades) is int and type(p.trades) is int for p in snap.daily)
    # plain recomputation in Python
    today = now.date()
    for point in snap.daily:
        assert point.trades == sum(1 for t in trades if t.closed_at.date() == point.day)
        assert point.cum_trades == sum(1 for t in trades if t.closed_at.date() <= point.day)
        assert point.cum_pnl == sum((t.pnl for t in trades if t.closed_at.date() <= point.day), Decimal(0))
    assert snap.daily[-1].day == today and snap.daily[-1].cum_trades == 480
    for name, days in (("7d", 7), ("30d", 30)):
        inside = [t for t in trades if t.closed_at > now - timedelta(days=days)]
        assert snap.windows[name].trades == len(inside)
        assert snap.windows[name].pnl == sum((t.pnl for t in inside), Decimal(0))
    assert violations(snap) == []
    json.dumps(snap.to_public(stale=False))  # integers and strings only: serialisable as is


def test_drawdown_matches_a_plain_recomputation_on_seeded_history(writer, pool) -> None:
    now = datetime.now(UTC)
    trades = seed.history(600, 90, now, seed=11)
    seed.insert(writer, trades)
    snap = read_snapshot(pool, now, 5)
    ordered = sorted(trades, key=lambda t: (t.closed_at, t.id))
    for name, since in (("7d", now - timedelta(days=7)), ("30d", now - timedelta(days=30)),
                        ("all", datetime.min.replace(tzinfo=UTC))):
        pnls = [t.pnl for t in ordered if t.closed_at > since]
        assert snap.windows[name].max_drawdown == max_drawdown(pnls), name
    assert snap.windows["all"].max_drawdown > 0


def test_day_buckets_are_utc_whatever_the_database_timezone(writer, pg_dsn) -> None:
    # 23:30 UTC on the 28th is 19:30 in New York; 02:00 UTC on the 30th is 22:00 on the 29th there.
    add_trade(writer, 1, utc(2026, 4, 28, 23, 30), "1")
    add_trade(writer, 2, utc(2026, 4, 30, 2, 0), "2")
    writer.execute("ALTER ROLE postgres SET TimeZone = 'America/New_York'")
    try:
        with psycopg.connect(pg_dsn) as plain:  # what any other session of this role gets
            assert plain.execute("SHOW TimeZone").fetchone()[0] == "America/New_York"
        pool = make_pool(settings_for(pg_dsn))
        try:
            with pool.connection() as conn:  # the page's sessions pin UTC (db.connect_kwargs)
                assert conn.execute("SHOW TimeZone").fetchone()[0] == "UTC"
            snap = read_snapshot(pool, T, 5)
        finally:
            pool.close()
    finally:
        writer.execute("ALTER ROLE postgres RESET TimeZone")
    by_day = {p.day: p.trades for p in snap.daily}
    assert by_day[date(2026, 4, 28)] == 1 and by_day[date(2026, 4, 29)] == 0 and by_day[date(2026, 4, 30)] == 1


def test_a_trade_dated_after_today_is_set_aside_not_counted(writer, pool) -> None:
    # Engine clock skew across midnight: it would count in "all" but in no daily bucket (the
    # snapshot used to be rejected for that). Set aside until due; tests/test_bad_rows.py has more.
    add_trade(writer, 1, T - timedelta(hours=1), "1")
    add_trade(writer, 2, T + timedelta(days=1), "1")
    snap = refresh_once(pool, T, 5)
    assert snap.windows["all"].trades == snap.daily[-1].cum_trades == 1
    assert {reason: each.trades for reason, each in snap.excluded.items()} == {"future_closed_at": 1}


def test_refresh_after_the_table_vanishes_keeps_the_last_good_snapshot(writer, make_app) -> None:
    add_trade(writer, 1, T - timedelta(days=2), "12.5")
    app = make_app(start_background=False)
    rt = run_jobs(app, T, (refresh_job,), pool_ready=True)
    client = app.test_client()
    assert client.get("/performance/landing").get_json()["windows"]["all"]["trades"] == 1
    writer.execute("ALTER TABLE closed_trades RENAME TO closed_trades_moved")
    try:
        refresh_job(rt, T + timedelta(minutes=1))
    finally:
        writer.execute("ALTER TABLE closed_trades_moved RENAME TO closed_trades")
    body = client.get("/performance/landing").get_json()
    assert body["windows"]["all"]["trades"] == 1 and body["as_of"] == "2026-04-30T14:30:00Z"
    metrics = client.get("/metrics").text
    assert 'statuspage_refreshes_total{outcome="error"} 1.0' in metrics
    assert 'statuspage_refreshes_total{outcome="ok"} 1.0' in metrics
    assert "statuspage_db_connected 0.0" in metrics
    assert "UndefinedTable" in rt.state.last_refresh_error  # operator detail, not public
    assert "UndefinedTable" not in client.get("/status.json").text


def test_a_rejected_snapshot_is_counted_and_never_served(writer, make_app) -> None:
    add_trade(writer, 1, T - timedelta(days=2), "12.5")
    app = make_app(start_background=False)
    rt = run_jobs(app, T, (refresh_job,), pool_ready=True)
    # The engine's column turned whole dollars: the next read passes its invariants, but its sums
    # arrive as integers, which cannot be rendered as money: rejected by the render check.
    writer.execute("ALTER TABLE closed_trades ALTER COLUMN pnl TYPE integer")
    refresh_job(rt, T + timedelta(minutes=1))
    client = app.test_client()
    body = client.get("/performance/landing").get_json()
    assert body["windows"]["all"]["trades"] == 1 and body["windows"]["all"]["pnl"] == "12.50"
    metrics = client.get("/metrics").text
    assert 'statuspage_refreshes_total{outcome="rejected"} 1.0' in metrics
    assert "statuspage_db_connected 1.0" in metrics
    assert 'statuspage_landing_trades{window="all"} 1.0' in metrics


def test_long_history_is_read_once_and_again_only_when_it_changes(writer, pool) -> None:
    now = datetime.now(UTC)
    trades = seed.history(300, 120, now - timedelta(minutes=5), seed=5)
    seed.insert(writer, trades)
    sealed = SealedCache()
    first = refresh_once(pool, now, 5, sealed)
    add_trade(writer, 10_001, now - timedelta(minutes=1), "50")  # a new trade: inside the daily range
    second = refresh_once(pool, now, 5, sealed)
    assert sealed.reads == 1
    assert second.windows["all"].trades == first.windows["all"].trades + 1
    # a late trade 100 days back changes the sealed range's totals: it is read again, correctly
    add_trade(writer, 10_002, now - timedelta(days=100), "-1000")
    third = refresh_once(pool, now, 5, sealed)
    assert sealed.reads == 2
    assert third.windows["all"].trades == 302
    assert third.windows["all"].pnl == sum((t.pnl for t in trades), Decimal(0)) + Decimal("50") - Decimal("1000")
    assert third.windows["all"].max_drawdown >= Decimal("1000")


def test_at_midnight_the_history_is_read_whole_again_and_the_numbers_match_a_full_read(writer, pool) -> None:
    yesterday = T - timedelta(days=1)
    seed.insert(writer, seed.history(400, 120, yesterday - timedelta(hours=1), seed=11))
    sealed = SealedCache()
    refresh_once(pool, yesterday, 5, sealed)  # the daily range starts a day earlier

    today = refresh_once(pool, T, 5, sealed)  # the range has moved on by one midnight

    # read whole once a day, so a correction the totals cannot see is followed by the next midnight
    # (tests/test_corrections.py)
    assert sealed.reads == 2
    refresh_once(pool, T, 5, sealed)
    assert sealed.reads == 2  # and reused for the rest of the day
    assert today.to_public(stale=False) == refresh_once(pool, T, 5, SealedCache()).to_public(stale=False)
    # a correction before the midnight the segment was read up to: the totals differ, it is read whole
    writer.execute("UPDATE closed_trades SET pnl = pnl - 500 WHERE id = 1")
    corrected = refresh_once(pool, T, 5, sealed)
    assert sealed.reads == 3
    assert corrected.to_public(stale=False) == refresh_once(pool, T, 5, SealedCache()).to_public(stale=False)
