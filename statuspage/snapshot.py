"""The landing snapshot: one consistent read of the engine's trades, its invariants, its JSON.

Everything public comes from here, and only from the database: there is no other source.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from psycopg import Connection, Cursor
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from . import deadline
from .db import sql, valid_until
from .db.changes import ChangeWatch, TableStats, read_stats
from .db.chunks import ChunkedRead, Pieces
from .formatting import money, utc_iso
from .track import COLD_CHUNK_ROWS, TrackCache, TrackRecord, read_track
from .track import violations as track_violations

log = logging.getLogger(__name__)

WINDOWS = ("7d", "30d", "all")
DAILY_DAYS = 30
# Why a row is set aside: the names statuspage/sql/trade_fault.sql gives, in its order.
EXCLUSION_REASONS = ("closed_at_not_finite", "future_closed_at", "pnl_not_finite", "pnl_out_of_range",
                     "fees_not_finite", "fees_out_of_range")


def _pick(choose, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else choose(a, b)


class SnapshotRejected(Exception):
    """A snapshot that was read but failed its invariants; it must not be published."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        super().__init__("; ".join(violations))


@dataclass(frozen=True)
class WindowStats:
    """A window's numbers; also a segment of trades that composes with the next (``then``)."""

    trades: int
    wins: int
    losses: int
    pnl: Decimal
    fees: Decimal
    best_trade: Decimal | None
    worst_trade: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal  # sum of the losing trades: zero or negative
    max_drawdown: Decimal
    peak: Decimal = Decimal(0)  # highest cumulative pnl, counting the empty start
    trough: Decimal = Decimal(0)  # lowest cumulative pnl, counting the empty start

    def then(self, later: WindowStats) -> WindowStats:
        """These trades followed by ``later``'s: the numbers of the whole run."""
        return WindowStats(
            trades=self.trades + later.trades,
            wins=self.wins + later.wins,
            losses=self.losses + later.losses,
            pnl=self.pnl + later.pnl,
            fees=self.fees + later.fees,
            best_trade=_pick(max, self.best_trade, later.best_trade),
            worst_trade=_pick(min, self.worst_trade, later.worst_trade),
            gross_profit=self.gross_profit + later.gross_profit,
            gross_loss=self.gross_loss + later.gross_loss,
            # a fall may start at a peak in the first part and end at a trough in the second
            max_drawdown=max(self.max_drawdown, later.max_drawdown, self.peak - (self.pnl + later.trough)),
            peak=max(self.peak, self.pnl + later.peak),
            trough=min(self.trough, self.pnl + later.trough),
        )

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @property
    def profit_factor(self) -> float | None:
        return float(self.gross_profit / -self.gross_loss) if self.losses else None

    def to_public(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": self.win_rate,
            "pnl": money(self.pnl),
            "fees": money(self.fees),
            "best_trade": None if self.best_trade is None else money(self.best_trade),
            "worst_trade": None if self.worst_trade is None else money(self.worst_trade),
            "profit_factor": self.profit_factor,
            "max_drawdown": money(self.max_drawdown),
        }


NO_TRADES = WindowStats(trades=0, wins=0, losses=0, pnl=Decimal(0), fees=Decimal(0), best_trade=None,
                        worst_trade=None, gross_profit=Decimal(0), gross_loss=Decimal(0), max_drawdown=Decimal(0))


@dataclass(frozen=True)
class DayPoint:
    day: date
    trades: int
    pnl: Decimal
    cum_trades: int
    cum_pnl: Decimal

    def to_public(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "trades": self.trades,
            "pnl": money(self.pnl),
            "cum_trades": self.cum_trades,
            "cum_pnl": money(self.cum_pnl),
        }


@dataclass(frozen=True)
class SetAside:
    """Rows of one reason left out of every number (trade_fault.sql): how many, and the lowest and
    highest id among them, for the operator to look at."""

    trades: int
    first_id: int
    last_id: int

    def then(self, other: SetAside) -> SetAside:
        return SetAside(self.trades + other.trades, min(self.first_id, other.first_id),
                        max(self.last_id, other.last_id))


def _joined(*parts: dict[str, SetAside]) -> dict[str, SetAside]:
    """The rows set aside in several ranges, by reason."""
    found: dict[str, SetAside] = {}
    for part in parts:
        for reason, each in part.items():
            found[reason] = found[reason].then(each) if reason in found else each
    return found


def _set_aside(rows: list[dict[str, Any]]) -> dict[str, SetAside]:
    """The rows of a per-fault query that have a fault, by reason."""
    return {row["fault"]: SetAside(row["trades"], row["first_id"], row["last_id"])
            for row in rows if row["fault"] is not None}


@dataclass(frozen=True)
class Snapshot:
    as_of: datetime  # when the database was read (UTC)
    windows: dict[str, WindowStats]
    daily: tuple[DayPoint, ...]
    last_trade_at: datetime | None
    excluded: dict[str, SetAside] = field(default_factory=dict)  # rows set aside, by reason
    track: TrackRecord | None = None  # read in the same transaction, at the same ``as_of``

    def slim(self) -> Snapshot:
        """This snapshot as another process gets it (statuspage/published.py, statuspage/handoff.py):
        the same numbers, its track record with every trade's duration but the middle ones dropped."""
        return self if self.track is None else replace(self, track=self.track.published())

    def to_public(self, *, stale: bool) -> dict[str, Any]:
        return {
            "as_of": utc_iso(self.as_of),
            "stale": stale,
            "currency": "USD",
            "windows": {name: self.windows[name].to_public() for name in WINDOWS},
            "daily": [point.to_public() for point in self.daily],
        }


@dataclass
class SealedCache:
    """The segment of every valid trade before the daily range, kept between refreshes.

    Reading it whole is the one full pass over the table (about 1 s at a million trades), made at
    start-up and again at the first refresh of every UTC day, when the range moves on. In between
    it is reused while PostgreSQL's statistics and the newest rows show no change before that
    midnight (db/changes.py: no scan of the history); when they may, and at every verification
    (``verify_every_s``, spread over the interval), while the database still reports the same
    count, pnl sum and fees sum of every row before that midnight (landing_earlier.sql, one scan),
    so a late, deleted or corrected trade there, or a row set aside or fixed, is not missed; which
    change is seen when is in db/changes.py. A correction that keeps all three (two trades
    exchanging part of their pnl) is: wins, losses and drawdown follow it at the next midnight's
    full read, or at the next start. So is one that only changes amounts while a NaN or infinite
    amount there makes the sums NaN or infinite.
    """

    key: tuple[Any, ...] | None = None  # (until, rows, pnl sum, fees sum) of every row before ``until``
    segment: WindowStats | None = None
    watch: ChangeWatch = field(default_factory=ChangeWatch)
    verify_every_s: float = 3600.0  # VERIFY_INTERVAL_S
    verify_after: datetime | None = None  # the next scan whatever the statistics say
    checks: Counter[str] = field(default_factory=Counter)  # how the kept segment was confirmed, drained by the job
    pending: ChunkedRead[WindowStats] | None = None  # a full pass that stopped part-way (db/chunks.py)
    chunk_rows: int = COLD_CHUNK_ROWS
    reserve_s: float = 3.0  # time a refresh keeps for the rest of its read (budgets.read_reserve_s)
    excluded: dict[str, SetAside] = field(default_factory=dict)  # rows set aside before ``until``
    # Each whole day of the daily range before today, kept while the range starts at ``days_until``
    # and nothing before the current hour may have changed, else while its (trades, pnl, fees) in the
    # range's daily totals still match (_recent).
    days: dict[date, WindowStats] = field(default_factory=dict)
    days_until: datetime | None = None
    days_excluded: dict[str, SetAside] = field(default_factory=dict)  # rows set aside in those days
    days_watch: ChangeWatch = field(default_factory=ChangeWatch)  # whether they may have changed since
    pieces: Pieces = field(default_factory=Pieces)  # today's whole hours, the windows' edge days' rest
    reads: int = 0  # full passes made: a figure for the benchmark and the tests
    track: TrackCache = field(default_factory=TrackCache)  # the track record's kept segments

    def verify_later(self, now: datetime) -> None:
        """The next verification, at a random moment in the second half of the interval: each
        process its own phase, so verifications never come all at once."""
        self.verify_after = now + timedelta(seconds=self.verify_every_s * random.uniform(0.5, 1))

    def forget(self) -> None:
        """Never trust a cached part of a snapshot that failed: the next refresh reads it all again."""
        self.key, self.pending = None, None
        self.days, self.days_until, self.days_watch = {}, None, ChangeWatch()
        self.pieces.drop()
        self.track.clear()


def query_params(now: datetime) -> dict[str, Any]:
    """The parameters of the snapshot's SQL at time ``now``."""
    range_start = datetime.combine(now.astimezone(UTC).date() - timedelta(days=DAILY_DAYS - 1), time(), UTC)
    return {"t": now, "recent_from": range_start, "until": range_start, "valid_until": valid_until(now)}


def _sealed_segment(cur: Cursor[dict[str, Any]], params: dict[str, Any], sealed: SealedCache,
                    stats: TableStats | None) -> tuple[WindowStats, dict[str, SetAside]]:
    """The valid trades before the daily range, and the rows set aside there: the cached segment
    while the range starts at the same midnight and nothing shows a change before it (the table's
    statistics, else the fingerprint of every row before it: one order-free scan); otherwise read
    whole (the full pass, in pieces that may take several refreshes, and a scan for the rows set
    aside when there are some), so at least once every UTC day."""
    until, now = params["until"], params["t"]
    # a read whole under way (a change was found) goes on, whatever the statistics say since
    kept = sealed.segment is not None and sealed.key is not None and sealed.key[0] == until and sealed.pending is None
    verifying = kept and sealed.verify_after is not None and now >= sealed.verify_after
    if kept and not verifying:
        why = sealed.watch.change(cur, stats, until)
        if why is None:
            sealed.checks["statistics"] += 1
            return sealed.segment, sealed.excluded
        sealed.checks["scan"] += 1
        log.debug("refresh: scanning the history before %s: %s", utc_iso(until), why)
    row = cur.execute(sql("landing_earlier"), params).fetchone()
    key = (until, row["trades"], row["pnl"], row["fees"])
    if verifying:
        sealed.checks["verified_same" if sealed.key == key else "verified_changed"] += 1
        sealed.verify_later(now)
        if sealed.key != key:
            log.warning("refresh: verification found the history before %s changed where the table's "
                        "statistics showed nothing; reading it again", utc_iso(until))
    if sealed.segment is not None and sealed.key == key:
        sealed.watch.confirm(cur, stats)
        return sealed.segment, sealed.excluded
    if sealed.pending is None or sealed.pending.key != key:
        sealed.pending = ChunkedRead(key, until, NO_TRADES)

    def piece(whole: WindowStats, start: datetime | str, end: datetime) -> WindowStats:
        return whole.then(_segment(cur, params, start, end))

    segment = sealed.pending.advance(cur, piece, sealed.chunk_rows, sealed.reserve_s, lambda w: w.trades,
                                     row["trades"], "history")
    # the scan for the rows set aside only when there are some: never in a healthy history
    sealed.excluded = (_set_aside(cur.execute(sql("landing_excluded_before"), params).fetchall())
                       if row["trades"] > segment.trades else {})
    # the read whole is dropped only once kept: a refresh cut before this goes on from it, not from the start
    sealed.segment, sealed.key, sealed.pending = segment, key, None
    sealed.reads += 1
    sealed.watch.confirm(cur, stats)
    if sealed.verify_after is None:
        sealed.verify_later(now)
    return segment, sealed.excluded


def _segment(cur: Cursor[dict[str, Any]], params: dict[str, Any], start: datetime | str, end: datetime) -> WindowStats:
    """The valid trades with ``start <= closed_at < end`` as one segment (landing_sealed.sql)."""
    return WindowStats(**cur.execute(sql("landing_sealed"), {**params, "scan_from": start, "scan_to": end}).fetchone())


def _recent(cur: Cursor[dict[str, Any]], params: dict[str, Any], sealed: SealedCache, stats: TableStats | None,
            earlier: WindowStats, verifying: bool) -> tuple[dict[str, WindowStats], tuple[DayPoint, ...],
                                                            dict[date, Decimal], dict[str, SetAside], bool]:
    """The daily range: its windows (7d, 30d and the whole range, "recent"), its daily series, each
    day's fees, the rows set aside in it, and whether nothing before the current hour may have
    changed (what was kept of it holds).

    Each whole day before today is one segment, kept while the range starts at the same midnight and
    PostgreSQL's statistics and the newest rows show no change before the current hour (db/changes.py,
    the same watch as for the history before the range). When they may (and at every verification),
    the daily totals of the whole range are read (landing_daily.sql) and a day whose count, pnl or fees
    no longer match is read again, alone. Every refresh reads the current hour's trades and the parts
    of the two hours where the windows begin (closed_at > t - 7 days, > t - 30 days); today's whole
    hours and the rest of those two days are read once an hour."""
    until, t = params["until"], params["t"]
    today = t.astimezone(UTC).date()
    midnight, hour = _midnight(today), _hour(t)
    kept = sealed.days_until == until and not verifying and sealed.days_watch.change(cur, stats, hour) is None
    pieces = sealed.pieces
    if not kept:
        pieces.drop()
        rows = cur.execute(sql("landing_daily"), {**params, "earlier_trades": earlier.trades,
                                                  "earlier_pnl": earlier.pnl}).fetchall()
        fresh = {row["day"]: (row["trades"], row["pnl"], row["fees"]) for row in rows}
        before = sealed.days if sealed.days_until == until else {}
        days: dict[date, WindowStats] = {}
        day = until.date()
        while day < today:
            segment = before.get(day)
            if segment is None or (segment.trades, segment.pnl, segment.fees) != fresh.get(day):
                if segment is not None and verifying:
                    log.warning("refresh: verification found %s changed where the table's statistics showed "
                                "nothing; reading it again", day.isoformat())
                segment = _segment(cur, params, _midnight(day), _midnight(day + timedelta(days=1)))
            days[day] = segment
            day += timedelta(days=1)
        excluded = _set_aside(cur.execute(sql("landing_excluded"), {
            **params, "excluded_from": until, "excluded_to": midnight}).fetchall())
        # every day read whole: a failure above changes nothing
        sealed.days, sealed.days_until, sealed.days_excluded = days, until, excluded
        sealed.days_watch.confirm(cur, stats)
    days = sealed.days

    def set_aside(start: datetime, end: datetime | None) -> dict[str, SetAside]:
        return _set_aside(cur.execute(sql("landing_excluded"), {
            **params, "excluded_from": start, "excluded_to": end}).fetchall())

    # today: its whole hours before this one, kept for the hour, then the trades since (valid_until
    # bounds them: trade_valid.sql), and the same for the rows set aside there (future-dated too)
    done = pieces.get("today", hour, lambda: _segment(cur, params, midnight, hour) if hour > midnight else NO_TRADES)
    live = done.then(_segment(cur, params, hour, "infinity"))
    done_aside = pieces.get("today set aside", hour, lambda: set_aside(midnight, hour))
    excluded = _joined(sealed.days_excluded, done_aside, set_aside(hour, None))

    # the daily series: each day's valid trades, counted on from the history before the range
    points, fees, cum_trades, cum_pnl = [], {}, earlier.trades, earlier.pnl
    day = until.date()
    while day <= today:
        segment = days[day] if day < today else live
        cum_trades, cum_pnl = cum_trades + segment.trades, cum_pnl + segment.pnl
        points.append(DayPoint(day, segment.trades, segment.pnl, cum_trades, cum_pnl))
        fees[day] = segment.fees
        day += timedelta(days=1)

    def since(first: date) -> WindowStats:
        whole = NO_TRADES
        for d in sorted(d for d in days if d >= first):
            whole = whole.then(days[d])
        return whole

    def edge(name: str, start: datetime, end: datetime) -> WindowStats:
        """The trades of a window's first day: up to the next hour read every refresh, the rest of
        the day kept for the hour."""
        after = _hour(start) + timedelta(hours=1)
        if after >= end:
            return _segment(cur, params, start, end)
        return _segment(cur, params, start, after).then(pieces.get(name, (after, end),
                                                                    lambda: _segment(cur, params, after, end)))

    tick = timedelta(microseconds=1)  # closed_at > x is closed_at >= x + 1 µs
    start7, start30 = t - timedelta(days=7), t - timedelta(days=30)
    day7 = start7.astimezone(UTC).date() + timedelta(days=1)
    edge7 = edge("7d edge", start7 + tick, _midnight(day7))
    edge30 = edge("30d edge", start30 + tick, until)
    recent = since(until.date())
    windows = {"7d": edge7.then(since(day7)).then(live), "30d": edge30.then(recent).then(live),
               "recent": recent.then(live)}
    return windows, tuple(points), fees, excluded, kept


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _hour(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC hour."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def read_snapshot(pool: ConnectionPool, now: datetime | Callable[[], datetime], timeout_s: float,
                  sealed: SealedCache | None = None) -> Snapshot:
    """Read every window and the daily series in one repeatable-read transaction at time ``now``.

    ``now`` may be a clock: it is then read once the connection is checked out, right before the
    transaction, so ``as_of`` (and every window edge) is when the data was read, not when a wait
    for a connection began; a refresh that waited never reports data older than it is."""
    sealed = sealed if sealed is not None else SealedCache()
    # The pool watches a lent connection for ``call_s`` (deadline.GuardedPool): a long read in pieces
    # (db/chunks.py) measures what it has left against that, too.
    lent_s = getattr(pool, "call_s", math.inf)
    with pool.connection(timeout=timeout_s) as conn, deadline.within(lent_s, "snapshot refresh"):
        # before the transaction: every write these counters count, its snapshot sees (db/changes.py)
        stats = read_stats(conn)
        with conn.transaction():
            return _read(conn, now() if callable(now) else now, sealed, stats)


def _read(conn: Connection[Any], as_of: datetime, sealed: SealedCache, stats: TableStats | None) -> Snapshot:
    """The snapshot in the transaction just begun on ``conn``."""
    params = query_params(as_of)
    # One snapshot of the table for every query, so the windows agree with each other.
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    with conn.cursor(row_factory=dict_row) as cur:
        full_reads = sealed.reads
        # taken before the history's check, which moves the next verification on
        verifying = sealed.verify_after is not None and as_of >= sealed.verify_after
        earlier, before = _sealed_segment(cur, params, sealed, stats)
        windows, daily, fees, since, kept = _recent(cur, params, sealed, stats, earlier, verifying)
        if not kept:
            sealed.track.pieces.drop()  # the track record's parts of today and of the windows' first days
        excluded = _joined(before, since)
        last = cur.execute(sql("last_trade"), params).fetchone()
        landing_daily = [(p.day, p.trades, p.pnl, fees[p.day]) for p in daily]
        before_until = (earlier.trades, earlier.pnl, earlier.fees)
        track = read_track(cur, as_of, params["until"], before_until, landing_daily, sealed.track)
        windows["all"] = earlier.then(windows.pop("recent"))
        if sealed.reads != full_reads and track_violations(track, windows, windows["all"].max_drawdown):
            # The landing numbers read their long history whole (every new day, or a change their
            # fingerprint saw) and found what the track record's kept part missed: a correction
            # that keeps every total. The track record reads its own long history again, in the
            # same transaction, so the two count the same trades.
            sealed.track.clear()
            track = read_track(cur, as_of, params["until"], before_until, landing_daily, sealed.track)
    return Snapshot(as_of=as_of, windows=windows, daily=daily, last_trade_at=last["last_trade_at"] if last else None,
                    excluded=excluded, track=track)


def refresh_once(pool: ConnectionPool, now: datetime | Callable[[], datetime], timeout_s: float,
                 sealed: SealedCache | None = None) -> Snapshot:
    """Read and validate a snapshot; raise SnapshotRejected rather than return a bad one."""
    snap = read_snapshot(pool, now, timeout_s, sealed)
    problems = violations(snap)
    if problems:
        if sealed is not None:
            sealed.forget()
        raise SnapshotRejected(problems)
    return snap


def violations(snap: Snapshot) -> list[str]:
    """Every broken invariant of ``snap``; empty when it may be published."""
    problems: list[str] = []
    if sorted(snap.windows) != sorted(WINDOWS):
        return [f"windows are {sorted(snap.windows)}, expected {list(WINDOWS)}"]
    for name in WINDOWS:
        w = snap.windows[name]
        if w.trades == 0 and (w.pnl != 0 or w.fees != 0 or w.wins != 0):
            problems.append(f"{name}: no trades but pnl {w.pnl}, fees {w.fees}, wins {w.wins}")
        if w.wins + w.losses > w.trades:
            problems.append(f"{name}: wins {w.wins} + losses {w.losses} > trades {w.trades}")
    t7, t30, tall = (snap.windows[name].trades for name in WINDOWS)
    if not t7 <= t30 <= tall:
        problems.append(f"window trades not nested: 7d {t7}, 30d {t30}, all {tall}")
    if len(snap.daily) != DAILY_DAYS:
        problems.append(f"daily has {len(snap.daily)} days, expected {DAILY_DAYS}")
    expected_days = [snap.as_of.astimezone(UTC).date() - timedelta(days=DAILY_DAYS - 1 - i)
                     for i in range(DAILY_DAYS)]
    if [p.day for p in snap.daily] != expected_days:
        problems.append("daily days are not the last 30 UTC days in order")
    for point in snap.daily:
        if not isinstance(point.cum_trades, int) or not isinstance(point.trades, int):
            problems.append(f"daily counts are {type(point.cum_trades).__name__}, not integers")
            break
    cums = [p.cum_trades for p in snap.daily]
    if any(b < a for a, b in pairwise(cums)):
        problems.append("daily cum_trades decreases")
    if snap.daily and snap.daily[-1].cum_trades != tall:
        problems.append(f"last daily cum_trades {snap.daily[-1].cum_trades} != all-time trades {tall}")
    if snap.track is not None:
        problems += [f"track record: {p}" for p in track_violations(snap.track, snap.windows,
                                                                     snap.windows["all"].max_drawdown)]
    return problems


def is_stale(as_of: datetime, now: datetime, stale_after_s: float) -> bool:
    return (now - as_of).total_seconds() > stale_after_s
