"""The statements one refresh sends do not grow with the history: a short history and one twenty
times longer cost the same statements every refresh, and the same one more after midnight, counted
by the server itself (pg_stat_statements); the day's check of what the track record keeps grows by
one statement a million trades. Only a cold read grows, by one pair of statements per
chunk of ``chunk_rows`` trades: once at start-up, or after a trade lands before the kept range
(and, for the landing numbers, at each midnight: statuspage/snapshot.py, SealedCache)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from statuspage.snapshot import SealedCache, refresh_once

from ..helpers.track_expected import Trade, expected_track, insert
from ..helpers.trades import utc

T = utc(2026, 4, 30, 14, 30)

Count = Callable[[Callable[[], object]], Counter[str]]

_STATEMENTS = """
SELECT query, calls FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


@pytest.fixture
def counted(stat_statements: psycopg.Connection) -> Count:
    """Runs a function and returns the queries the database executed meanwhile, by their first
    words (what each SQL file starts with)."""

    def run(action: Callable[[], object]) -> Counter[str]:
        stat_statements.execute("SELECT pg_stat_statements_reset()")
        action()
        found: Counter[str] = Counter()
        for query, calls in stat_statements.execute(_STATEMENTS).fetchall():
            # transaction control left out: pg_stat_statements does not always report it
            if "pg_stat_statements_reset" not in query and not query.startswith(("BEGIN", "COMMIT", "SET")):
                found[" ".join(query.split()[:4])] += calls
        return found

    return run


def history(days: int, per_day: int = 3) -> list[Trade]:
    return [Trade(d * per_day + i, T - timedelta(days=d, hours=i * 5), Decimal((d * 7 + i) % 11 - 5))
            for d in range(days) for i in range(per_day)]


def test_statements_per_refresh_do_not_grow_with_history(writer: psycopg.Connection, pool: ConnectionPool,
                                                         counted: Count) -> None:
    per_history = {}
    for days in (40, 800):
        writer.execute("TRUNCATE closed_trades")
        trades = history(days)
        insert(writer, trades)
        sealed = SealedCache()
        sealed.track.chunk_rows = 500  # a cold read of the long history is five chunks
        cold = counted(lambda s=sealed: refresh_once(pool, T, 10, s))
        steady = counted(lambda s=sealed: refresh_once(pool, T, 10, s))
        after_midnight = counted(lambda s=sealed: refresh_once(pool, T + timedelta(days=1), 10, s))
        snap = refresh_once(pool, T + timedelta(days=1), 10, sealed)
        assert snap.track is not None
        assert snap.track.to_public(stale=False) == expected_track(trades, T + timedelta(days=1))
        per_history[days] = (cold, steady, after_midnight)

    (short_cold, short_steady, short_midnight), (long_cold, long_steady, long_midnight) = per_history.values()
    assert short_steady == long_steady, (short_steady, long_steady)
    assert short_midnight == long_midnight, (short_midnight, long_midnight)
    track = "WITH trades AS ("
    # every refresh: the current hour's trades and the two hours where the 7- and 30-day windows begin
    assert short_steady[track] == 3
    # once an hour (and on a new day): today's whole hours and the rest of the windows' first days too
    hourly = 3 + 3
    # and the day that just ended, once; and the day's check of everything kept before it: one
    # statement a million trades (CHECK_ROWS), so one at both sizes here, one more at each million
    assert short_midnight[track] == hourly + 1 + 1
    # the cold read: the history before the landing's range in chunks, then each of its 29 days
    until = utc(2026, 4, 1)  # the first day of the landing's daily range at T
    chunks = {days: -(-sum(t.closed_at < until for t in history(days)) // 500) or 1
              for days in (40, 800)}
    assert short_cold[track] == chunks[40] + 29 + hourly and long_cold[track] == chunks[800] + 29 + hourly
    # the cut before each chunk: the track record's, and the landing numbers' one (their 200,000 rows
    # a piece hold either history whole)
    assert long_cold["SELECT closed_at FROM closed_trades"] == chunks[800] + 1
    # the landing numbers' segments: that history in one piece, each of the range's 29 whole days, then
    # the hourly ones; every refresh the current hour and the two hours where the windows begin
    landing = "WITH valid AS NOT"
    assert long_cold[landing] == 1 + 29 + hourly and long_steady[landing] == 3
