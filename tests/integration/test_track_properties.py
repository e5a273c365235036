"""Property tests of the track record: for random histories in the real PostgreSQL, every field of
``/performance/track-record.json`` and of the equity rows equals the plain recomputation of
tests/helpers/track_expected.py, and the snapshot keeps its invariants (the cross-checks with the landing
numbers included).

Trades cluster where the arithmetic is easy to get wrong: the first and last microsecond and second
of months and years, UTC midnights, the 7- and 30-day window edges, the first day the landing keeps
in its daily range (where the track record's kept history ends), ties in ``closed_at``, zero pnl,
amounts that round half away from zero; and odd rows: closed before opened, a quantity that is zero
or negative, a symbol that is empty or blank. Each example runs through a pool whose sessions are
in a time zone far from UTC (UTC+14, UTC-12; the page pins UTC, the SQL must not need it), with a
tiny chunk size so the cold read is many segments, and then:

- again, from the kept segments;
- a day later, with the same cache (the range moved on at midnight: a day joins the kept history);
- after a trade lands late, inside the kept days (only those days are read again) or before them
  (the landing's sealed totals change: the whole history is read again).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from statuspage.db import connect_kwargs
from statuspage.demo import seed
from statuspage.snapshot import DAILY_DAYS, SealedCache, refresh_once, violations

from ..helpers.app import settings_for
from ..helpers.track_expected import Trade, expected_equity, expected_track, insert

ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"]  # UTC, UTC+14 and UTC-12 (POSIX signs are inverted)

MICROSECONDS = [0, 1, 999_999, 1_000_000, 3_600_000_000]
PNL_EDGES = ["0", "0", "0.005", "-0.005", "2.675", "-2.675", "0.00499999", "1234.565", "-1234.565", "0.01", "-0.01",
             "15", "-15", "250.125", "-250.125"]

deltas = st.builds(lambda us, sign: sign * timedelta(microseconds=us), st.sampled_from(MICROSECONDS),
                   st.sampled_from([-1, 1]))


def month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


nows = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    # just after a month or a year began, or just before it ends
    st.builds(lambda year, month, delta: month_start(year, month) + abs(delta),
              st.integers(2025, 2027), st.sampled_from([1, 1, 2, 3, 12]), deltas),
    st.builds(lambda year, month, delta: month_start(year, month) - timedelta(microseconds=1) - abs(delta),
              st.integers(2025, 2027), st.sampled_from([1, 1, 7, 12]), deltas),
)


def instants(now: datetime) -> st.SearchStrategy[datetime]:
    """Moments at or before ``now`` where months, years, days and windows begin and end."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    edges = [month_start(now.year, now.month - k) for k in range(0, 14)]
    return st.one_of(
        # the first and last microsecond and second of a month (a year, in January)
        st.builds(lambda edge, offset: edge + offset, st.sampled_from(edges),
                  st.sampled_from([timedelta(0), timedelta(microseconds=999_999), timedelta(seconds=1),
                                   -timedelta(microseconds=1), -timedelta(seconds=1)])),
        st.builds(lambda days, delta: now - timedelta(days=days) + delta, st.sampled_from([7, 30]), deltas),
        st.builds(lambda days, delta: midnight - timedelta(days=days) + delta,
                  st.sampled_from([0, 1, 6, 7, 8, DAILY_DAYS - 2, DAILY_DAYS - 1, DAILY_DAYS, 31, 45]), deltas),
        st.builds(lambda days: now - timedelta(days=days), st.floats(0, 500)),
        st.just(now),
    ).map(lambda moment: min(moment, now))


pnls = st.one_of(st.sampled_from(PNL_EDGES).map(Decimal),
                 st.decimals(min_value=-500, max_value=500, places=2, allow_nan=False, allow_infinity=False))


@st.composite
def trade(draw: st.DrawFn, trade_id: int, moments: list[datetime]) -> Trade:
    closed = draw(st.sampled_from(moments))
    duration = draw(st.sampled_from([timedelta(hours=1), timedelta(0), timedelta(microseconds=1),
                                     timedelta(days=3, microseconds=7), timedelta(minutes=-5),
                                     timedelta(seconds=draw(st.integers(0, 90_000)))]))
    return Trade(
        id=trade_id, closed_at=closed, pnl=draw(pnls),
        fees=draw(st.sampled_from(["0", "0.005", "1.125", "0.33333333"]).map(Decimal)),
        symbol=draw(st.sampled_from(["BTC-USD", "ETH-USD", "SOL-USD", "", "  "])),
        side=draw(st.sampled_from(["long", "short"])),
        qty=draw(st.sampled_from(["1", "0.5", "2.125", "0", "-1"]).map(Decimal)),
        entry_price=draw(st.sampled_from(["100", "64000.5", "0.0001"]).map(Decimal)),
        exit_price=draw(st.sampled_from(["101", "63990.25", "0.0002"]).map(Decimal)),
        opened_at=closed - duration,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[datetime, list[Trade], Trade, int]:
    now = draw(nows)
    moments = draw(st.lists(instants(now), min_size=1, max_size=12))  # few moments, many trades: ties
    ids = draw(st.lists(st.integers(1, 10**9), max_size=40, unique=True))
    trades = [draw(trade(i, moments)) for i in ids]
    later = now + timedelta(days=1)
    until = datetime.combine(later.date() - timedelta(days=DAILY_DAYS - 1), time(), UTC)
    # a trade that lands late: inside the days kept one by one, or in the history before them
    when = draw(st.one_of(
        st.builds(lambda s: until + timedelta(seconds=s), st.integers(0, (DAILY_DAYS - 1) * 86_400 - 1)),
        st.builds(lambda s: until - timedelta(seconds=s), st.integers(1, 400 * 86_400))))
    late = draw(trade(10**9 + 1, [when]))
    return now, trades, late, draw(st.integers(1, 6))


# --- the database side ---


@pytest.fixture(scope="module")
def engine(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS closed_trades")
        seed.create_schema(conn)
        yield conn


@pytest.fixture(scope="module", params=ZONES)
def pool(request: pytest.FixtureRequest, pg_dsn: str, engine: psycopg.Connection) -> Iterator[ConnectionPool]:
    """The page's read-only pool, its sessions in a zone far from UTC (the page pins UTC itself)."""
    kwargs = connect_kwargs(settings_for(pg_dsn))
    kwargs["options"] = kwargs["options"].replace("TimeZone=UTC", f"TimeZone={request.param}")
    pool = ConnectionPool(pg_dsn, kwargs=kwargs, min_size=1, max_size=2, name=f"props-{request.param}",
                          open=True)
    pool.wait(timeout=10)
    with pool.connection() as conn:
        assert conn.execute("SHOW TimeZone").fetchone()[0] == request.param
    yield pool
    pool.close()


def load(engine: psycopg.Connection, trades: list[Trade]) -> None:
    engine.execute("TRUNCATE closed_trades")
    insert(engine, trades)


def check(pool: ConnectionPool, sealed: SealedCache, trades: list[Trade], now: datetime) -> None:
    snap = refresh_once(pool, now, 10, sealed)
    assert violations(snap) == []
    assert snap.track is not None
    assert snap.track.to_public(stale=False) == expected_track(trades, now)
    assert [d.to_public() for d in snap.track.equity] == expected_equity(trades, now)


# About 60 examples per zone, each five snapshots: a minute or so per zone.
@settings(max_examples=60, deadline=None)
@given(scenario=scenarios())
def test_every_track_record_field_equals_a_plain_recomputation(
        engine: psycopg.Connection, pool: ConnectionPool, scenario: tuple[datetime, list[Trade], Trade, int]) -> None:
    now, trades, late, chunk = scenario
    load(engine, trades)
    sealed = SealedCache()
    sealed.chunk_rows = sealed.track.chunk_rows = chunk  # many chunks: every seam of the cold reads is exercised
    sealed.track.band_min = 1  # the history's durations kept as narrow a band as the range's trades allow

    check(pool, sealed, trades, now)
    check(pool, sealed, trades, now)  # from the kept segments this time
    assert sealed.track.reads == 1

    later = now + timedelta(days=1)  # past a midnight: the kept range moves on by one day
    check(pool, sealed, trades, later)
    assert sealed.track.reads == 1

    load(engine, [*trades, late])
    check(pool, sealed, [*trades, late], later)
    until = sealed.track.until
    assert until is not None
    # a late trade inside the kept days costs those days; before them, the whole history
    assert sealed.track.reads == (1 if late.closed_at >= until else 2)


def test_the_zones_are_far_from_utc() -> None:
    from zoneinfo import ZoneInfo

    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    offsets = [noon.astimezone(ZoneInfo(zone)).utcoffset() for zone in ZONES]
    assert offsets == [timedelta(0), timedelta(hours=14), timedelta(hours=-12)]
    assert {noon.astimezone(ZoneInfo(zone)).date() for zone in ZONES} == {date(2026, 1, 1), date(2026, 1, 2),
                                                                          date(2026, 1, 1)}
