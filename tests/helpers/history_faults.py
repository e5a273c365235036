"""An engine's history and the changes a page must follow in it, with the plain-Python recomputation
a served snapshot is checked against (tests/integration/test_changes.py, test_published.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from statuspage.demo import seed
from statuspage.state import Runtime

from . import recompute
from .track_expected import Trade, expected_track, insert
from .trades import utc

T = utc(2026, 4, 30, 14, 30)
UNTIL = utc(2026, 4, 1)  # the first midnight of the landing's daily range at T: before it, the kept history


def history(n: int) -> list[Trade]:
    return [Trade(t.id, t.closed_at, t.pnl, t.fees, t.symbol, t.side, t.qty, t.entry_price, t.exit_price, t.opened_at)
            for t in seed.history(n, 300, T - timedelta(hours=1), seed=5)]


def assert_published(rt: Runtime, trades: list[Trade], now: datetime) -> None:
    """The served snapshot is that of ``trades`` at ``now``, recomputed in plain Python."""
    snap = rt.state.snapshot
    assert snap is not None and snap.as_of == now and snap.track is not None
    assert snap.to_public(stale=False) == recompute.expected_public(
        [recompute.Trade(t.id, t.closed_at, t.pnl, t.fees) for t in trades], now)
    assert snap.track.to_public(stale=False) == expected_track(trades, now)


def replace(trades: list[Trade], trade_id: int, **changes: object) -> list[Trade]:
    return [Trade(**{**t.__dict__, **changes}) if t.id == trade_id else t for t in trades]


def late_trade(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    late = Trade(max(t.id for t in trades) + 1, T - timedelta(days=200), Decimal("-250.5"), Decimal("1.25"))
    insert(writer, [late])
    return [*trades, late]


def corrected(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = next(t for t in trades if t.closed_at < UNTIL)
    writer.execute("UPDATE closed_trades SET pnl = pnl + 99.99 WHERE id = %s", (old.id,))
    return replace(trades, old.id, pnl=old.pnl + Decimal("99.99"))


def deleted(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    old = [t for t in trades if t.closed_at < UNTIL][3]
    writer.execute("DELETE FROM closed_trades WHERE id = %s", (old.id,))
    return [t for t in trades if t.id != old.id]


def truncated_and_refilled(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    # the same count, an old trade's pnl different: only the table's new file tells
    old = next(t for t in trades if t.closed_at < UNTIL)
    refilled = replace(trades, old.id, pnl=old.pnl - Decimal("40"))
    with writer.transaction():
        writer.execute("TRUNCATE closed_trades")
        insert(writer, refilled)
    return refilled


def statistics_reset(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    writer.execute("SELECT pg_stat_reset()")
    return trades


def table_statistics_reset(writer: psycopg.Connection, trades: list[Trade]) -> list[Trade]:
    writer.execute("SELECT pg_stat_reset_single_table_counters('closed_trades'::regclass)")
    return trades
