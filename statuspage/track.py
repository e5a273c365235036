"""The track record: monthly and yearly returns, the daily equity curve, drawdown episodes, the
statistics per window and where the money was made, read in the snapshot's transaction.

Everything is computed by PostgreSQL (``statuspage/sql/track_segment.sql``) over *segments* of
the history, and only composed here: sums add, streaks join at the seams, the cumulative pnl path
is continued by the database from the state the previous segment ended in. The long history is
read once (in chunks, so no statement grows with it) and kept; every whole UTC day since the
landing's sealed range began is kept as a segment of its own, and today's whole hours and the rest
of the days where the 7- and 30-day windows begin for the hour; a refresh reads only the current
hour's trades and the two partial hours where those windows begin. What is kept is checked against
the landing numbers of the same transaction before it is used: the totals before the sealed range
(``landing_earlier``/``landing_sealed``) and each day's count, pnl and fees (the landing's daily
series); the hourly parts are dropped by the snapshot when the table's statistics show a possible
change before the current hour. A mismatch (a late, corrected or deleted trade) re-reads the part
that no longer agrees. Once a UTC day everything kept is also compared with the database's checksum
of every field of those trades (``_kept_holds``), for a correction the totals cannot show. Of the
long history's durations only a band around the median is kept (``Durations.banded``).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import json
import logging
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from itertools import pairwise
from typing import Any

from psycopg import Cursor
from psycopg.types.json import set_json_loads

from . import deadline
from .codec import LOCAL
from .db import sql, valid_until
from .db.chunks import ChunkedRead, Pieces, ReadInProgress
from .formatting import money, utc_iso

STAT_WINDOWS = ("7d", "30d", "all")
TOP_DRAWDOWNS = 5
BAND_MIN = 250_000  # the long history's durations kept on each side of its median, at the least
COLD_CHUNK_ROWS = 200_000  # rows per statement of a cold read: each stays well inside the statement timeout
CHECK_ROWS = 1_000_000  # rows per statement of the daily check: a plain scan, about 0.5 s a million
_SHORT_RUN = 4096  # a run merged into a longer one by bisection rather than by sorting both
_MAX_RUNS = 48  # sorted duration arrays kept apart (the history's chunks, a month of days) before merging
_ZERO = Decimal(0)
_MILLI = Decimal("0.001")
_MICROS = Decimal(1_000_000)
_NEVER = datetime.max.replace(tzinfo=UTC)

log = logging.getLogger(__name__)


def statement(name: str) -> str:
    """A track record statement: the one definition of the rows it counts, then its own text."""
    return sql("track_trades") + "\n" + sql(name)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _loads(text: str | bytes) -> Any:
    # numeric values arrive as JSON numbers: read them as exact decimals, never floats
    return json.loads(text, parse_float=Decimal)


# --- composable parts ---


@dataclass(frozen=True)
class Tally:
    """Trades, wins, losses, pnl and fees of a group (a day, a month, a symbol, a side)."""

    trades: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = _ZERO
    fees: Decimal = _ZERO

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.trades + other.trades, self.wins + other.wins, self.losses + other.losses,
                     self.pnl + other.pnl, self.fees + other.fees)

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    def to_public(self) -> dict[str, Any]:
        return {"trades": self.trades, "wins": self.wins, "losses": self.losses, "pnl": money(self.pnl),
                "fees": money(self.fees)}


def _merged(a: Mapping[Any, Tally], b: Mapping[Any, Tally]) -> dict[Any, Tally]:
    out = dict(a)
    for key, tally in b.items():
        out[key] = out[key] + tally if key in out else tally
    return out


@dataclass(frozen=True)
class Streaks:
    """Runs of wins and losses in trade order; a zero-pnl trade ends both. ``lead_*``/``trail_*``
    are the runs a part starts and ends with: what joins its neighbour's across the seam."""

    trades: int = 0
    longest_win: int = 0
    longest_loss: int = 0
    lead_wins: int = 0
    lead_losses: int = 0
    trail_wins: int = 0
    trail_losses: int = 0

    def then(self, later: Streaks) -> Streaks:
        if not self.trades or not later.trades:
            return later if not self.trades else self
        return Streaks(
            trades=self.trades + later.trades,
            longest_win=max(self.longest_win, later.longest_win, self.trail_wins + later.lead_wins),
            longest_loss=max(self.longest_loss, later.longest_loss, self.trail_losses + later.lead_losses),
            lead_wins=self.lead_wins + (later.lead_wins if self.lead_wins == self.trades else 0),
            lead_losses=self.lead_losses + (later.lead_losses if self.lead_losses == self.trades else 0),
            trail_wins=later.trail_wins + (self.trail_wins if later.trail_wins == later.trades else 0),
            trail_losses=later.trail_losses + (self.trail_losses if later.trail_losses == later.trades else 0),
        )


def _merge_sorted(a: array, b: array) -> array:
    """Two sorted runs as one. A short run (a refresh's few trades) goes into a long one (the
    history's) by bisection and slices: no Python int per value of the long run, which merging
    value by value would make (7 ms a refresh at 10 million trades)."""
    if len(a) < len(b):
        a, b = b, a
    if len(b) > _SHORT_RUN:
        return array("q", heapq.merge(a, b))  # comparable lengths: one pass, no list of every value
    merged, start = array("q"), 0
    for value in b:
        end = bisect_right(a, value, start)
        merged.extend(a[start:end])
        merged.append(value)
        start = end
    merged.extend(a[start:])
    return merged


class MedianOutOfBand(Exception):
    """The all-time median is no longer among the long history's durations kept (``Band``): the
    history must be read again."""


@dataclass(frozen=True)
class Band:
    """What was dropped of some durations to keep only those near their median: the ``below`` ones
    smaller than ``lo`` and the ``above`` ones larger than ``hi``, only counted. Every duration from
    ``lo`` to ``hi`` is kept, so every count there is exact; trades since move the all-time median a
    rank at a time, so it is found there for as long as it stays inside (``Durations.kth``)."""

    below: int
    lo: int
    hi: int
    above: int


@dataclass(frozen=True)
class Durations:
    """Trade durations in microseconds, as a few sorted arrays (a median needs every value, and
    merging the long history's million values into one array on every refresh would cost more
    than selecting across a few arrays); of the long history, only those near its median
    (``cut``, ``band``)."""

    runs: tuple[array, ...] = ()
    band: Band | None = field(default=None, metadata=LOCAL)  # never published: middle() drops it

    @property
    def count(self) -> int:
        return sum(len(run) for run in self.runs) + (self.band.below + self.band.above if self.band else 0)

    def then(self, later: Durations) -> Durations:
        if self.band and later.band:
            raise ValueError("two bands: only the long history, read first, is cut to one")
        runs = sorted((run for run in (*self.runs, *later.runs) if run), key=len)
        while len(runs) > _MAX_RUNS:  # merge the two smallest, like a binary counter: amortised n log n
            runs = sorted([_merge_sorted(runs[0], runs[1]), *runs[2:]], key=len)
        return Durations(tuple(runs), self.band or later.band)

    def _at_most(self, value: int) -> int:
        return sum(bisect_right(run, value) for run in self.runs)

    def kth(self, k: int) -> int:
        """The ``k``-th smallest value (from 0): the least v with more than k values <= v. With a
        band, v is found only from its ``lo`` to its ``hi``, where every count is exact; anything
        else raises ``MedianOutOfBand``."""
        band = self.band
        below = band.below if band else 0
        if band is None:
            lo, hi = min(run[0] for run in self.runs), max(run[-1] for run in self.runs)
        else:
            lo, hi = band.lo, band.hi
            if below + sum(bisect_left(run, lo) for run in self.runs) > k:
                raise MedianOutOfBand(f"the {k:,}th duration is below the band kept")
            if below + self._at_most(hi) <= k:
                raise MedianOutOfBand(f"the {k:,}th duration is above the band kept")
        while lo < hi:
            mid = (lo + hi) // 2
            if below + self._at_most(mid) > k:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def median_us(self) -> Decimal | None:
        n = self.count
        if not n:
            return None
        return (Decimal(self.kth((n - 1) // 2)) + Decimal(self.kth(n // 2))) / 2

    def middle(self) -> Durations:
        """The one or two middle values, as a run of two: the same median from two numbers instead
        of every trade's (what a published track record carries, statuspage/published.py)."""
        n = self.count
        if not n:
            return Durations()
        return Durations((array("q", [self.kth((n - 1) // 2), self.kth(n // 2)]),))

    def cut(self, first: int, last: int) -> Durations:
        """Only the values ranked ``first`` to ``last`` (from 0) and any equal to those two kept, the
        rest counted. Unchanged when that drops nothing, or when those ranks are outside a band
        already cut. The runs are trimmed in place: only for durations nothing else holds (a history
        read's, read_history)."""
        n = self.count
        first, last = max(first, 0), min(last, n - 1)
        if first > last or (first == 0 and last == n - 1 and self.band is None):
            return self
        try:
            lo, hi = self.kth(first), self.kth(last)
        except MedianOutOfBand:
            return self
        cuts = [(run, bisect_left(run, lo), bisect_right(run, hi)) for run in self.runs]
        below = (self.band.below if self.band else 0) + sum(a for _, a, _ in cuts)
        above = (self.band.above if self.band else 0) + sum(len(run) - b for run, _, b in cuts)
        if self.band is None and not below and not above:
            return self
        for run, a, b in cuts:  # in place: a copy would hold both for a moment (the read's peak RSS)
            del run[b:]
            del run[:a]
        return Durations(tuple(run for run in self.runs if run), Band(below, lo, hi, above))

    def banded(self, half: int) -> Durations:
        """Only about ``half`` values on each side of the median kept, the rest counted: what the
        long history keeps once read (10 million trades: 80 MB of durations, a band of 540,000 a
        side 8.6 MB)."""
        n = self.count
        return self.cut((n - 1) // 2 - half, n // 2 + half)


@dataclass(frozen=True)
class Part:
    """The order-free sums and the streaks of some trades: what a statistics window is made of."""

    tally: Tally = Tally()  # trades, wins, losses, pnl and fees
    win_sum: Decimal = _ZERO
    loss_sum: Decimal = _ZERO  # zero or negative
    durations: int = 0  # trades with a duration (closed at or after they opened)
    duration_sum_us: int = 0
    volume: Decimal = _ZERO
    streaks: Streaks = Streaks()
    sorted_durations: Durations = Durations()
    # of every field of these trades (trade_checksum.sql): what the daily check compares; never published
    checksum: int = field(default=0, metadata=LOCAL)

    def then(self, later: Part) -> Part:
        return Part(
            tally=self.tally + later.tally, win_sum=self.win_sum + later.win_sum,
            loss_sum=self.loss_sum + later.loss_sum, durations=self.durations + later.durations,
            duration_sum_us=self.duration_sum_us + later.duration_sum_us, volume=self.volume + later.volume,
            streaks=self.streaks.then(later.streaks),
            sorted_durations=self.sorted_durations.then(later.sorted_durations),
            checksum=self.checksum + later.checksum,
        )


@dataclass(frozen=True)
class OddRows:
    """Valid trades with a field that cannot be used (docs/numbers.md, "Track record"): counted, and left
    out only of what that field feeds."""

    closed_before_opened: int = 0  # no duration
    no_volume: int = 0  # quantity not positive, or a quantity or price not finite
    blank_symbol: int = 0  # counted under the symbol null

    def __add__(self, other: OddRows) -> OddRows:
        return OddRows(self.closed_before_opened + other.closed_before_opened, self.no_volume + other.no_volume,
                       self.blank_symbol + other.blank_symbol)

    def to_public(self) -> dict[str, int]:
        return {"closed_before_opened": self.closed_before_opened, "no_volume": self.no_volume,
                "blank_symbol": self.blank_symbol}


# --- the cumulative pnl path and its drawdown episodes ---


@dataclass(frozen=True)
class Episode:
    """A fall from a peak of the trade-by-trade cumulative pnl to its trough and, unless it is still
    open, back to the peak. ``id`` counts the trades at the running peak before it: episodes in
    trade order."""

    id: int
    start: datetime
    peak: Decimal
    trough: Decimal
    trough_at: datetime
    end: datetime | None

    @property
    def depth(self) -> Decimal:
        return self.peak - self.trough

    def duration_days(self, as_of: datetime) -> int:
        return ((self.end or as_of) - self.start).days

    def to_public(self, as_of: datetime) -> dict[str, Any]:
        return {"start": utc_iso(self.start), "trough_at": utc_iso(self.trough_at),
                "end": utc_iso(self.end) if self.end else None, "depth": money(self.depth),
                "duration_days": self.duration_days(as_of)}


def deepest(episodes: Iterable[Episode], n: int = TOP_DRAWDOWNS) -> tuple[Episode, ...]:
    """The ``n`` deepest, deepest first; equal depths earliest first."""
    return tuple(sorted(episodes, key=lambda e: (-e.depth, e.id))[:n])


@dataclass(frozen=True)
class Path:
    """Where the cumulative pnl stands after some trades: what the next segment continues from."""

    cum: Decimal = _ZERO
    peak: Decimal = _ZERO  # the running peak, counting the 0 before the first trade
    peak_at: datetime | None = None  # closed_at of the last trade at the peak; None before any
    at_peak: int = 0  # trades at the running peak so far: the next episode's id
    open: Episode | None = None  # the episode in progress (end None), if below the peak
    closed: tuple[Episode, ...] = ()  # the deepest finished episodes

    def continued(self, row: Mapping[str, Any]) -> Path:
        """This path after a segment the database read from it (``track_segment.sql``'s row)."""
        if not row["trades"]:
            return self
        found = {e["grp"]: e for e in row["episodes"] or []}
        first = found.pop(0, None)  # rows below the peak before the segment's first trade at it
        carried = self.open
        if first is not None:
            trough, trough_at = _decimal(first["trough"]), datetime.fromisoformat(first["trough_at"])
            end = datetime.fromisoformat(first["end_at"]) if first["end_at"] else None
            if carried is None:
                start = self.peak_at or datetime.fromisoformat(first["first_at"])  # the very first trade
                carried = Episode(self.at_peak, start, _decimal(first["peak"]), trough, trough_at, end)
            elif trough < carried.trough:
                carried = replace(carried, trough=trough, trough_at=trough_at, end=end)
            else:  # an equal trough was reached first before the segment
                carried = replace(carried, end=end)
        elif carried is not None:  # the segment's first trade is back at the peak
            carried = replace(carried, end=row["first_at"])
        later = [Episode(self.at_peak + grp, datetime.fromisoformat(e["first_at"]), _decimal(e["peak"]),
                         _decimal(e["trough"]), datetime.fromisoformat(e["trough_at"]),
                         datetime.fromisoformat(e["end_at"]) if e["end_at"] else None)
                 for grp, e in sorted(found.items())]
        episodes = [e for e in (carried, *later) if e is not None]
        return Path(cum=row["cum"], peak=row["peak"], peak_at=row["peak_at"] or self.peak_at,
                    at_peak=self.at_peak + row["at_peak"], open=next((e for e in episodes if e.end is None), None),
                    closed=deepest([*self.closed, *(e for e in episodes if e.end is not None)]))


# --- a segment: some trades, everything the track record needs of them ---


@dataclass(frozen=True)
class Segment:
    part: Part = Part()
    path: Path = Path()
    days: Mapping[date, Tally] = field(default_factory=dict)
    symbols: Mapping[str | None, Tally] = field(default_factory=dict)
    sides: Mapping[str, Tally] = field(default_factory=dict)
    odd: OddRows = OddRows()

    def then(self, later: Segment) -> Segment:
        """These trades followed by ``later``'s, which the database read continuing this path."""
        return Segment(part=self.part.then(later.part), path=later.path, days=_merged(self.days, later.days),
                       symbols=_merged(self.symbols, later.symbols), sides=_merged(self.sides, later.sides),
                       odd=self.odd + later.odd)


EMPTY = Segment()


def _tallies(rows: list[dict[str, Any]] | None, key: Any = lambda k: k) -> dict[Any, Tally]:
    return {key(r["key"]): Tally(int(r["trades"]), int(r["wins"]), int(r["losses"]), _decimal(r["pnl"]),
                                 _decimal(r["fees"])) for r in rows or []}


def read_segment(cur: Cursor[dict[str, Any]], start: datetime | str, end: datetime | str, t: datetime,
                 base: Path) -> Segment:
    """The valid trades with ``start <= closed_at < end`` (and at or before ``t``), the path
    continued from ``base``."""
    row = cur.execute(statement("track_segment"), {
        "scan_from": start, "scan_to": end, "valid_until": valid_until(t), "base_cum": base.cum,
        "base_peak": base.peak,
    }).fetchone()
    assert row is not None  # an aggregate without GROUP BY always answers one row
    raw = row["durations_sorted"]
    runs = array("q")
    if raw:
        runs.frombytes(raw)
        if sys.byteorder == "little":
            runs.byteswap()  # int8send writes network order
    part = Part(
        tally=Tally(row["trades"], row["wins"], row["losses"], row["pnl"], row["fees"]),
        win_sum=row["win_sum"], loss_sum=row["loss_sum"], durations=row["durations"],
        duration_sum_us=row["duration_sum_us"], volume=row["volume"],
        streaks=Streaks(row["trades"], row["longest_win"], row["longest_loss"], row["lead_wins"],
                        row["lead_losses"], row["trail_wins"], row["trail_losses"]),
        sorted_durations=Durations((runs,) if runs else ()),
        checksum=int(row["checksum"]),
    )
    return Segment(part=part, path=base.continued(row), days=_tallies(row["days"], date.fromisoformat),
                   symbols=_tallies(row["symbols"]), sides=_tallies(row["sides"]),
                   odd=OddRows(row["closed_before_opened"], row["no_volume"], row["blank_symbol"]))


def read_history(cur: Cursor[dict[str, Any]], until: datetime, t: datetime, cache: TrackCache,
                 before_until: tuple[int, Decimal, Decimal], half: int) -> Segment:
    """Every valid trade before ``until``, in statements of about ``cache.chunk_rows`` trades each,
    over as many refreshes as the deadline asks (db/chunks.py); ``before_until`` (the landing's
    totals there, of the same transaction) keys the read: another one starts it again. Its durations
    come back as a band of ``half`` (that of the read's first refresh) on each side of the median,
    and as the pieces come in, durations that cannot end up in it are dropped already (counted)."""
    key, total = (until, before_until), before_until[0]
    if cache.pending is None or cache.pending.key != key:
        cache.pending, cache.band_half = ChunkedRead(key, until, EMPTY), half

    def piece(whole: Segment, start: datetime | str, end: datetime) -> Segment:
        whole = whole.then(read_segment(cur, start, end, t, whole.path))
        durations, rest = whole.part.sorted_durations, max(0, total - whole.part.tally.trades)
        # A duration ranked i now ends up ranked at most i + rest (rest: the trades still to come)
        # and at least i; the band will hold ranks (n-1)//2 - half to n//2 + half of the n <= total.
        n = durations.count
        first, last = (n - 1) // 2 - cache.band_half - rest, total // 2 + cache.band_half
        held = sum(len(run) for run in durations.runs)
        if held > last - max(first, 0) + 1 + cache.chunk_rows:
            whole = _with_durations(whole, durations.cut(first, last))
            _give_back_freed_memory()  # the ends cut off: resident until handed back
        return whole

    # kept until read_track keeps what it returns: a refresh cut before that goes on from it
    whole = cache.pending.advance(cur, piece, cache.chunk_rows, cache.reserve_s, lambda w: w.part.tally.trades,
                                  total, "track record's history")
    # the pending read holds the same runs, now cut: it holds the band too, should this refresh fail later
    cache.pending.whole = _with_durations(whole, whole.part.sorted_durations.banded(cache.band_half))
    return cache.pending.whole


def _with_durations(segment: Segment, durations: Durations) -> Segment:
    return replace(segment, part=replace(segment.part, sorted_durations=durations))


# --- what is published ---


def _seconds(micros: Decimal) -> float:
    return float((micros / _MICROS).quantize(_MILLI, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Stats:
    """A window's statistics. Undefined values are None, never NaN or a division by zero."""

    part: Part

    @cached_property
    def median_duration_us(self) -> Decimal | None:
        return self.part.sorted_durations.median_us()

    @property
    def avg_win(self) -> Decimal | None:
        return self.part.win_sum / self.part.tally.wins if self.part.tally.wins else None

    @property
    def avg_loss(self) -> Decimal | None:
        return self.part.loss_sum / self.part.tally.losses if self.part.tally.losses else None

    @property
    def expectancy(self) -> Decimal | None:
        return self.part.tally.pnl / self.part.tally.trades if self.part.tally.trades else None

    @property
    def payoff_ratio(self) -> float | None:
        win, loss = self.avg_win, self.avg_loss
        return float(win / -loss) if win is not None and loss is not None else None

    @property
    def avg_duration_us(self) -> Decimal | None:
        p = self.part
        return Decimal(p.duration_sum_us) / p.durations if p.durations else None

    def to_public(self) -> dict[str, Any]:
        p, avg, median = self.part, self.avg_duration_us, self.median_duration_us
        return {
            "trades": p.tally.trades,
            "expectancy": None if self.expectancy is None else money(self.expectancy),
            "avg_win": None if self.avg_win is None else money(self.avg_win),
            "avg_loss": None if self.avg_loss is None else money(self.avg_loss),
            "payoff_ratio": self.payoff_ratio,
            "longest_win_streak": p.streaks.longest_win,
            "longest_loss_streak": p.streaks.longest_loss,
            "avg_duration_s": None if avg is None else _seconds(avg),
            "median_duration_s": None if median is None else _seconds(median),
            "volume": money(p.volume),
        }


@dataclass(frozen=True)
class EquityDay:
    day: date
    trades: int
    pnl: Decimal
    fees: Decimal
    cum_trades: int
    cum_pnl: Decimal
    drawdown: Decimal  # the day's closing cum_pnl minus the highest close so far (and 0): <= 0

    def to_public(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "trades": self.trades, "pnl": money(self.pnl), "fees": money(self.fees),
                "cum_trades": self.cum_trades, "cum_pnl": money(self.cum_pnl), "drawdown": money(self.drawdown)}


EQUITY_COLUMNS = ("day", "trades", "pnl", "fees", "cum_trades", "cum_pnl", "drawdown")


def _months_between(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _breakdown(name: str, tallies: Mapping[Any, Tally]) -> tuple[dict[str, Any], ...]:
    # pnl descending; equal pnl by name, a blank symbol (None) last
    ordered = sorted(tallies.items(), key=lambda kv: (-kv[1].pnl, kv[0] is None, kv[0] or ""))
    return tuple({name: key, "trades": t.trades, "wins": t.wins, "losses": t.losses, "win_rate": t.win_rate,
                  "pnl": money(t.pnl), "fees": money(t.fees)} for key, t in ordered)


@dataclass(frozen=True)
class TrackRecord:
    as_of: datetime
    total: Segment  # every valid trade up to as_of
    windows: Mapping[str, Part]  # "7d", "30d", "all"

    @cached_property
    def stats(self) -> dict[str, Stats]:
        return {name: Stats(self.windows[name]) for name in STAT_WINDOWS}

    @cached_property
    def months(self) -> tuple[tuple[date, Tally], ...]:
        """Every month from the first trade's to the current one, months without trades included."""
        days = self.total.days
        if not days:
            return ()
        per_month: dict[date, Tally] = {}
        for day, tally in days.items():
            month = day.replace(day=1)
            per_month[month] = per_month[month] + tally if month in per_month else tally
        today = self.as_of.astimezone(UTC).date()
        return tuple((m, per_month.get(m, Tally())) for m in _months_between(min(days), today))

    @cached_property
    def years(self) -> tuple[tuple[int, Tally], ...]:
        per_year: dict[int, Tally] = {}
        for month, tally in self.months:
            per_year[month.year] = per_year.get(month.year, Tally()) + tally
        return tuple(per_year.items())

    @cached_property
    def equity(self) -> tuple[EquityDay, ...]:
        """One row per UTC day from the first trade's to today."""
        days = self.total.days
        if not days:
            return ()
        rows, cum_trades, cum_pnl, best = [], 0, _ZERO, _ZERO
        day, today = min(days), self.as_of.astimezone(UTC).date()
        while day <= today:
            tally = days.get(day, Tally())
            cum_trades, cum_pnl = cum_trades + tally.trades, cum_pnl + tally.pnl
            best = max(best, cum_pnl)
            rows.append(EquityDay(day, tally.trades, tally.pnl, tally.fees, cum_trades, cum_pnl, cum_pnl - best))
            day += timedelta(days=1)
        return tuple(rows)

    @cached_property
    def drawdowns(self) -> tuple[Episode, ...]:
        path = self.total.path
        return deepest([*path.closed, *([path.open] if path.open else [])])

    @property
    def current_drawdown(self) -> tuple[Decimal, datetime | None]:
        path = self.total.path
        if path.open is None:
            return _ZERO, None
        return path.peak - path.cum, path.open.start

    def published(self) -> TrackRecord:
        """This record with every duration but the middle ones dropped: the same numbers, pages and
        JSON; at ten million trades the whole publication is about 120 kB instead of 80 MB."""
        def slim(part: Part) -> Part:
            return replace(part, sorted_durations=part.sorted_durations.middle(), checksum=0)

        return TrackRecord(self.as_of, replace(self.total, part=slim(self.total.part)),
                           {name: slim(part) for name, part in self.windows.items()})

    def to_public(self, *, stale: bool) -> dict[str, Any]:
        depth, since = self.current_drawdown
        return {
            "as_of": utc_iso(self.as_of),
            "stale": stale,
            "currency": "USD",
            "months": [{"month": m.strftime("%Y-%m"), **t.to_public()} for m, t in self.months],
            "years": [{"year": str(y), **t.to_public()} for y, t in self.years],
            "drawdowns": [e.to_public(self.as_of) for e in self.drawdowns],
            "current_drawdown": {"depth": money(depth), "start": utc_iso(since) if since else None},
            "stats": {name: self.stats[name].to_public() for name in STAT_WINDOWS},
            "by_symbol": list(_breakdown("symbol", self.total.symbols)),
            "by_side": list(_breakdown("side", self.total.sides)),
        }

    def equity_public(self, *, stale: bool) -> dict[str, Any]:
        return {"as_of": utc_iso(self.as_of), "stale": stale, "currency": "USD",
                "days": [d.to_public() for d in self.equity]}


# --- reading it, incrementally ---


@dataclass
class TrackCache:
    """What is kept between refreshes: every valid trade before ``until`` (the landing's sealed
    range), and each whole UTC day since, each read continuing the path of the one before."""

    until: datetime | None = None
    base: Segment | None = None
    days: dict[date, Segment] = field(default_factory=dict)
    reads: int = 0  # cold reads of the long history: a figure for the benchmark and the tests
    band_min: int = BAND_MIN
    band_half: int = BAND_MIN  # of the history read under way
    chunk_rows: int = COLD_CHUNK_ROWS
    reserve_s: float = 3.0  # time a refresh keeps for the rest of its read (budgets.read_reserve_s)
    days_reserve_s: float = 1.0  # what the read of the days since the history leaves for the rest (3 statements)
    pending: ChunkedRead[Segment] | None = None  # a cold read that stopped part-way
    pieces: Pieces = field(default_factory=Pieces)  # today's whole hours, the windows' first days' rest
    checked_on: date | None = None  # the UTC day whose check of everything kept from before it is done
    checking: ChunkedRead[tuple[int, int]] | None = None  # that check, part-way: (checksum, trades) so far
    check_rows: int = CHECK_ROWS
    # compositions of kept parts, by what they were composed of: rebuilt only when that changes
    _composed: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def clear(self) -> None:
        self.until, self.base, self.days, self.pending, self.checking = None, None, {}, None, None
        self.pieces.drop()

    def _compose(self, kind: str, days: list[date], build: Any) -> Any:
        parts = (self.base, *(self.days[d] for d in days))
        key = (kind, *(id(p) for p in parts))
        if key not in self._composed:
            if len(self._composed) > 8:  # only this refresh's compositions are worth keeping
                self._composed.clear()
            # the parts are kept with the result: while it is here, their ids cannot be reused
            self._composed[key] = (parts, build())
        return self._composed[key][1]

    def prefix(self, before: date) -> Segment:
        """The base and then every kept day before ``before``."""
        days = sorted(d for d in self.days if d < before)

        def build() -> Segment:
            whole = self.base or EMPTY
            for day in days:
                whole = whole.then(self.days[day])
            return whole

        return self._compose("prefix", days, build)

    def days_part(self, since: date) -> Part:
        """The window part of every kept day from ``since`` on."""
        days = sorted(d for d in self.days if d >= since)
        return self._compose("part", days, lambda: _parts(self.days[d] for d in days))


def _parts(segments: Iterable[Segment]) -> Part:
    whole = Part()
    for segment in segments:
        whole = whole.then(segment.part)
    return whole


Kept = tuple[Segment, datetime, dict[date, Segment]]


def _kept(cur: Cursor[dict[str, Any]], now: datetime, until: datetime, before_until: tuple[int, Decimal, Decimal],
          daily: Sequence[tuple[date, int, Decimal, Decimal]], cache: TrackCache) -> Kept:
    """What of the cache still holds at ``now``, as new values (the cache itself is not changed, but
    for the pieces of a cold read that stopped part-way): the history before ``until`` and the kept
    days since, the ones the database now disagrees with left out. Reads what the range left behind
    at midnight, or the whole history when the landing's totals before ``until`` no longer match (a
    late, corrected or deleted old trade)."""
    today = now.astimezone(UTC).date()
    days = dict(cache.days)
    # Kept days whose count, pnl or fees differ from the landing's daily series of the same transaction,
    # and every day after the first of them (their paths continued from it).
    landing_days = {day: (trades, pnl, fees) for day, trades, pnl, fees in daily}
    for day in sorted(days):
        part = days[day].part.tally
        mine = (part.trades, part.pnl, part.fees)
        if day >= today or landing_days.get(day, mine) != mine:
            days = {d: s for d, s in days.items() if d < day}
            break
    base = cache.base
    if base is not None and cache.until is not None and cache.until <= until:
        # the range moved on (midnight): the days it left behind join the history
        day = cache.until.date()
        while _midnight(day) < until and day in days:
            base = base.then(days.pop(day))
            day += timedelta(days=1)
        if _midnight(day) < until:  # days that were never kept: read them together
            base = base.then(read_segment(cur, _midnight(day), until, now, base.path))
            days = {d: s for d, s in days.items() if _midnight(d) >= until}
        if (base.part.tally.trades, base.part.tally.pnl, base.part.tally.fees) == before_until:
            return base, until, days
    # its durations kept as a band around the median, wide enough for every trade of the daily range twice over
    half = max(cache.band_min, 2 * sum(trades for _, trades, _, _ in daily))
    history = read_history(cur, until, now, cache, before_until, half)
    cache.reads += 1
    cache.checked_on = now.astimezone(UTC).date()  # all of it read today, and every day after it too
    return history, until, {}


def _give_back_freed_memory() -> None:
    """Hand the heap a history read freed (its every duration: 80 MB at 10 million trades) back to
    the OS, which glibc would otherwise keep in the process for good."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator decides
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def read_track(cur: Cursor[dict[str, Any]], now: datetime, until: datetime, before_until: tuple[int, Decimal, Decimal],
               daily: Sequence[tuple[date, int, Decimal, Decimal]], cache: TrackCache) -> TrackRecord:
    """The track record at ``now``, in the landing's transaction. ``until`` is the landing's sealed
    boundary (the first day of its daily range), ``before_until`` its (trades, pnl, fees) of every
    trade before it, ``daily`` its (day, trades, pnl, fees) of each day since: what the kept parts must
    still agree with."""
    set_json_loads(_loads, cur)
    today = now.astimezone(UTC).date()
    reads = cache.reads
    base, kept_until, days = _kept(cur, now, until, before_until, daily, cache)
    # every whole day since, each continuing the path of the day before (normally none: one after
    # midnight, 29 after a cold read, when the pieces left only their reserve: the days read are
    # kept, and the next refresh goes on with the rest, as with the pieces)
    day, read_now = until.date(), 0
    while day < today:
        if day not in days:
            left = deadline.remaining()
            if read_now and left is not None and left < cache.days_reserve_s:
                cache.base, cache.until, cache.days, cache.pending = base, kept_until, days, None
                if cache.reads != reads:
                    _give_back_freed_memory()
                raise ReadInProgress("track record's days", _midnight(today), len(days),
                                     (today - until.date()).days, unit="days")
            before = days[day - timedelta(days=1)].path if day > until.date() else base.path
            days[day] = read_segment(cur, _midnight(day), _midnight(day + timedelta(days=1)), now, before)
            read_now += 1
        day += timedelta(days=1)
    # Only now, with every read done, does the cache change (or above, with the days read so far,
    # each whole): a refresh that fails half-way (the database went away) leaves it as it was.
    cache.base, cache.until, cache.days, cache.pending = base, kept_until, days, None
    if cache.reads != reads:
        _give_back_freed_memory()
    prefix = cache.prefix(today)
    # Today: its whole hours before this one, kept for the hour (and while the path they continue
    # holds), then the trades since. The snapshot drops the pieces when anything before may have changed.
    midnight, hour = _midnight(today), now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    done = cache.pieces.get("today", (hour, prefix.path), lambda: (
        read_segment(cur, midnight, hour, now, prefix.path) if hour > midnight else Segment(path=prefix.path)))
    live = done.then(read_segment(cur, hour, "infinity", now, done.path))

    def edge(name: str, start: datetime, end: datetime) -> Part:
        """A window's first day (closed_at > now - 7 days): up to the next hour read every refresh,
        the rest of that day kept for the hour."""
        after = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if after >= end:
            return read_segment(cur, start, end, now, Path()).part
        rest = cache.pieces.get(name, (after, end), lambda: read_segment(cur, after, end, now, Path()).part)
        return read_segment(cur, start, after, now, Path()).part.then(rest)

    tick = timedelta(microseconds=1)
    start30, start7 = now - timedelta(days=30), now - timedelta(days=7)
    day7 = start7.astimezone(UTC).date() + timedelta(days=1)
    windows = {
        "7d": edge("7d edge", start7 + tick, _midnight(day7)).then(cache.days_part(day7)).then(live.part),
        "30d": edge("30d edge", start30 + tick, until).then(cache.days_part(until.date())).then(live.part),
    }
    total = prefix.then(live)
    try:
        total.part.sorted_durations.median_us()
    except MedianOutOfBand as exc:
        if cache.reads != reads:  # a band just cut around the median: cannot be, and must not loop
            raise
        log.warning("%s: reading the track record's history again", exc)
        cache.clear()
        return read_track(cur, now, until, before_until, daily, cache)
    if not _kept_holds(cur, now, prefix, cache):
        cache.clear()
        return read_track(cur, now, until, before_until, daily, cache)
    return TrackRecord(as_of=now, total=total, windows={**windows, "all": total.part})


def _kept_holds(cur: Cursor[dict[str, Any]], now: datetime, prefix: Segment, cache: TrackCache) -> bool:
    """Once a UTC day, what the record keeps from before today (``prefix``) is compared with the
    database's checksum and count of those trades (track_checksum.sql; in pieces of ``check_rows``,
    over as many refreshes as the deadline asks, each publishing its numbers meanwhile). False when
    they differ: a correction that the count and sums did not show (a trade's symbol, side, times,
    size or prices), and all that is kept must be read again."""
    today = now.astimezone(UTC).date()
    if cache.checked_on == today:
        return True
    expected = (prefix.part.checksum, prefix.part.tally.trades)
    key = (today, expected)
    if cache.checking is None or cache.checking.key != key:
        cache.checking = ChunkedRead(key, _midnight(today), (0, 0))

    def piece(whole: tuple[int, int], start: datetime | str, end: datetime) -> tuple[int, int]:
        row = cur.execute(statement("track_checksum"), {"scan_from": start, "scan_to": end,
                                                        "valid_until": valid_until(now)}).fetchone()
        assert row is not None  # an aggregate without GROUP BY always answers one row
        return whole[0] + int(row["checksum"]), whole[1] + row["trades"]

    try:
        found = cache.checking.advance(cur, piece, cache.check_rows, cache.reserve_s, lambda w: w[1],
                                       expected[1], "track record's daily check")
    except ReadInProgress:
        return True  # goes on at the next refresh
    cache.checking, cache.checked_on = None, today
    if found != expected:
        log.warning("refresh: the track record's trades before %s changed where their count and sums did "
                    "not (a symbol, side, time, size or price corrected): reading them again", today.isoformat())
    return found == expected


# --- invariants ---


def violations(track: TrackRecord, landing: Mapping[str, Any], landing_max_drawdown: Decimal) -> list[str]:
    """Every broken invariant of ``track``, checked against itself and against the landing numbers
    of the same snapshot (``landing``: window name to its WindowStats)."""
    problems: list[str] = []
    for name in STAT_WINDOWS:
        part, w = track.windows[name], landing[name]
        t = part.tally
        mine, theirs = (t.trades, t.wins, t.losses, t.pnl), (w.trades, w.wins, w.losses, w.pnl)
        if mine != theirs:
            problems.append(f"stats {name}: trades, wins, losses, pnl {mine} != landing's {theirs}")
        if t.wins + t.losses > t.trades or part.durations > t.trades:
            problems.append(f"stats {name}: more wins, losses or durations than trades")
        if part.streaks.longest_win > t.wins or part.streaks.longest_loss > t.losses:
            problems.append(f"stats {name}: a streak longer than its wins or losses")
    everything = track.windows["all"].tally
    total = (everything.trades, everything.wins, everything.losses, everything.pnl, everything.fees)

    def sums(tallies: Iterable[Tally]) -> tuple[int, int, int, Decimal, Decimal]:
        t = sum(tallies, Tally())
        return t.trades, t.wins, t.losses, t.pnl, t.fees

    months = [m for m, _ in track.months]
    if months and months != _months_between(months[0], track.as_of.astimezone(UTC).date()):
        problems.append("months are not every month from the first trade's to the current one")
    for what, tallies in (("months", [t for _, t in track.months]), ("years", [t for _, t in track.years]),
                          ("by_symbol", track.total.symbols.values()), ("by_side", track.total.sides.values())):
        if sums(tallies) != total:
            problems.append(f"{what} add up to {sums(tallies)}, all-time is {total}")
        if any(t.wins + t.losses > t.trades or not isinstance(t.trades, int) for t in tallies):
            problems.append(f"{what}: wins + losses > trades, or a count that is not an integer")
    equity = track.equity
    if equity:
        days = [e.day for e in equity]
        if any(b - a != timedelta(days=1) for a, b in pairwise(days)) or days[-1] != track.as_of.astimezone(UTC).date():
            problems.append("equity days are not every UTC day from the first trade's to today")
        last = equity[-1]
        if (last.cum_trades, last.cum_pnl) != (everything.trades, everything.pnl):
            problems.append(f"equity ends at {last.cum_trades} trades, {last.cum_pnl}; all-time is "
                            f"{everything.trades}, {everything.pnl}")
        if any(e.drawdown > 0 for e in equity):
            problems.append("equity drawdown above zero")
    elif everything.trades:
        problems.append("trades but no equity days")
    drawdowns = track.drawdowns
    deepest_depth = drawdowns[0].depth if drawdowns else _ZERO
    if deepest_depth != landing_max_drawdown:
        problems.append(f"deepest drawdown {deepest_depth} != landing max_drawdown {landing_max_drawdown}")
    for e in drawdowns:
        if e.depth <= 0 or not e.start <= e.trough_at <= (e.end or _NEVER) or e.trough_at > track.as_of:
            problems.append(f"drawdown from {e.start}: depth {e.depth}, trough at {e.trough_at}, end {e.end}")
    if sum(e.end is None for e in drawdowns) > 1:
        problems.append("more than one open drawdown")
    depth, _ = track.current_drawdown
    if not _ZERO <= depth <= deepest_depth:
        problems.append(f"current drawdown {depth} outside 0..{deepest_depth}")
    return problems
