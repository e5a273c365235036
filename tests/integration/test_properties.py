"""Property tests of the landing snapshot: for random trade lists in the real PostgreSQL, the
snapshot keeps its invariants and every public field equals a plain recomputation in Python.

Trades cluster where the arithmetic is easy to get wrong: on and around the 7-day and 30-day
edges (to the microsecond, and an hour either side, where a daylight-saving change would move a
calendar-day interval), around UTC midnights and the first day of the daily range, with ties in
``closed_at`` (order then by id), zero pnl, and amounts that need rounding half away from zero.
Each example runs on a clean table, through the page's own pool, twice with the same SealedCache
(the second time from the cached long-history segment), and once more after a late trade lands
before the daily range (the cache must notice). The recomputation is ``tests/helpers/recompute.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from statuspage.demo import seed
from statuspage.snapshot import DAILY_DAYS, SealedCache, refresh_once, violations

from ..helpers.app import page_pool
from ..helpers.recompute import Trade, expected_public

NEW_YORK_ROLE = "statuspage_props_ny"  # a reader whose sessions default to a zone with DST


# --- what to generate ---

# Daylight-saving changes in New York (07:00 and 06:00 UTC), and the UTC times around which the
# 7- and 30-day windows of a snapshot taken soon after would cross them.
DST_CHANGES = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]
MICROSECONDS = [0, 1, 999_999, 1_000_000, 1_800_000_000, 3_600_000_000, 3_600_000_001, 3_660_000_000]
PNL_EDGES = ["0", "0.005", "-0.005", "0.015", "-0.015", "0.025", "-0.025", "2.675", "-2.675", "0.00499999",
             "-0.00499999", "0.00500001", "1234.565", "-1234.565", "0.01", "-0.01", "0.00000001"]

deltas = st.builds(lambda us, sign: sign * timedelta(microseconds=us), st.sampled_from(MICROSECONDS),
                   st.sampled_from([-1, 1]))
nows = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda change, days, delta: change + timedelta(days=days) + delta,
              st.sampled_from(DST_CHANGES), st.sampled_from([0, 1, 6, 7, 8, 29, 30, 31]), deltas),
    st.builds(lambda day, delta: datetime.combine(day, time(), UTC) + delta,
              st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), deltas),
)
pnls = st.one_of(
    st.sampled_from(PNL_EDGES).map(Decimal),
    *(st.decimals(min_value=-2000, max_value=2000, places=places, allow_nan=False, allow_infinity=False)
      for places in (2, 3, 8)),
)
fees = st.one_of(st.sampled_from(["0", "0.005", "0.015", "1.125"]).map(Decimal),
                 st.decimals(min_value=0, max_value=25, places=8, allow_nan=False, allow_infinity=False))


def instants(now: datetime) -> st.SearchStrategy[datetime]:
    """Moments at or before ``now`` where the windows and the days begin."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return st.one_of(
        st.builds(lambda days, delta: now - timedelta(days=days) + delta, st.sampled_from([7, 30]), deltas),
        st.builds(lambda days, delta: midnight - timedelta(days=days) + delta,
                  st.sampled_from([0, 1, 6, 7, 8, DAILY_DAYS - 1, DAILY_DAYS, 31, 35]), deltas),
        st.builds(lambda us: now - timedelta(microseconds=us), st.integers(0, 60 * 86_400 * 10**6)),
        st.builds(lambda days: now - timedelta(days=days), st.floats(40, 800)),
        st.just(now),
    ).map(lambda moment: min(moment, now))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[datetime, list[Trade], Trade | None]:
    now = draw(nows)
    moments = draw(st.lists(instants(now), min_size=1, max_size=12))  # few moments, many trades: ties
    ids = draw(st.lists(st.integers(1, 10**9), max_size=40, unique=True))
    trades = [Trade(i, draw(st.sampled_from(moments)), draw(pnls), draw(fees)) for i in ids]
    range_start = datetime.combine(now.astimezone(UTC).date() - timedelta(days=DAILY_DAYS - 1), time(), UTC)
    late = draw(st.none() | st.builds(
        lambda days, pnl: Trade(10**9 + 1, range_start - timedelta(days=days), pnl, Decimal(0)),
        st.floats(0.000001, 400), pnls))
    return now, trades, late


# --- the database side ---


@pytest.fixture(scope="module")
def engine(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """The engine's connection: the table, and a reader role whose sessions default to New York."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS closed_trades")
        seed.create_schema(conn)
        _drop_role(conn)
        try:
            conn.execute(f"CREATE ROLE {NEW_YORK_ROLE} LOGIN")
            conn.execute(f"ALTER ROLE {NEW_YORK_ROLE} SET timezone = 'America/New_York'")
            conn.execute(f"GRANT SELECT ON closed_trades TO {NEW_YORK_ROLE}")
        except psycopg.errors.InsufficientPrivilege:
            pass  # a TEST_DATABASE_URL without CREATEROLE: the New York case is skipped
        yield conn
        _drop_role(conn)


def _drop_role(conn: psycopg.Connection) -> None:
    if _role_exists(conn):
        conn.execute(f"DROP OWNED BY {NEW_YORK_ROLE}")
        conn.execute(f"DROP ROLE {NEW_YORK_ROLE}")


def _role_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (NEW_YORK_ROLE,)).fetchone() is not None


@pytest.fixture(scope="module", params=["UTC", "America/New_York"])
def pool(request: pytest.FixtureRequest, pg_dsn: str, engine: psycopg.Connection) -> Iterator[ConnectionPool]:
    """The page's own read-only pool, as the page builds it; once for a database whose sessions
    default to UTC, once for one whose reader role defaults to a zone with daylight saving."""
    dsn = pg_dsn
    if request.param != "UTC":
        if not _role_exists(engine):
            pytest.skip("cannot create a role on this test database")
        parts = urlsplit(pg_dsn)
        dsn = urlunsplit(parts._replace(netloc=f"{NEW_YORK_ROLE}@{parts.hostname}:{parts.port}"))
    with page_pool(dsn) as pool:
        yield pool


def load(engine: psycopg.Connection, trades: list[Trade]) -> None:
    engine.execute("TRUNCATE closed_trades")
    with engine.cursor() as cur:
        cur.executemany(
            "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at,"
            " closed_at) VALUES (%s, 'BTC-USD', 'long', 1, 100, 101, %s, %s, %s, %s)",
            [(t.id, t.pnl, t.fees, t.closed_at, t.closed_at) for t in trades])


# One table and one pool for every example (module fixtures), the table truncated per example.
# About 250 examples for each session zone: a few seconds each.
@settings(max_examples=250, deadline=None)
@given(scenario=scenarios(), piece=st.integers(1, 12))
def test_every_public_field_equals_a_plain_recomputation(engine: psycopg.Connection, pool: ConnectionPool,
                                                         scenario: tuple[datetime, list[Trade], Trade | None],
                                                         piece: int) -> None:
    now, trades, late = scenario
    load(engine, trades)
    sealed = SealedCache()
    sealed.chunk_rows = piece  # the history before the daily range read in pieces: every seam exercised
    expected = expected_public(trades, now)

    first = refresh_once(pool, now, 10, sealed)
    assert violations(first) == []
    assert first.to_public(stale=False) == expected
    assert first.last_trade_at == max((t.closed_at for t in trades), default=None)

    again = refresh_once(pool, now, 10, sealed)  # the long history from the cache this time
    assert sealed.reads == 1
    assert violations(again) == [] and again.to_public(stale=False) == expected

    if late is not None:  # a trade lands late, before the daily range: the cached segment is stale
        load(engine, [*trades, late])
        after = refresh_once(pool, now, 10, sealed)
        assert violations(after) == []
        assert after.to_public(stale=False) == expected_public([*trades, late], now)
