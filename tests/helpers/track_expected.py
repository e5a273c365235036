"""The track record recomputed in plain Python from the definitions in docs/numbers.md, trade by trade: no
segments, no SQL, nothing shared with statuspage.track. The tests compare the page's answers
with these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

ZERO = Decimal(0)


@dataclass(frozen=True)
class Trade:
    id: int
    closed_at: datetime
    pnl: Decimal
    fees: Decimal = ZERO
    symbol: str = "BTC-USD"
    side: str = "long"
    qty: Decimal = Decimal(1)
    entry_price: Decimal = Decimal(100)
    exit_price: Decimal = Decimal(101)
    opened_at: datetime | None = None  # None: opened an hour before it closed

    @property
    def opened(self) -> datetime:
        return self.opened_at if self.opened_at is not None else self.closed_at - timedelta(hours=1)


def insert(conn: psycopg.Connection, trades: Iterable[Trade]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at,"
            " closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(t.id, t.symbol, t.side, t.qty, t.entry_price, t.exit_price, t.pnl, t.fees, t.opened, t.closed_at)
             for t in trades])


def money(value: Decimal) -> str:
    """Two digits, half away from zero: round the magnitude half up, then put the sign back."""
    cents = int((abs(value) * 100).to_integral_value(rounding=ROUND_HALF_UP))
    return f"{'-' if value < 0 and cents else ''}{cents // 100}.{cents % 100:02d}"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finite(value: Decimal) -> bool:
    return value.is_finite()


def counted(trades: Iterable[Trade], now: datetime) -> list[Trade]:
    """The trades the track record counts, in trade order: closed by ``now``, finite pnl and fees."""
    return sorted((t for t in trades if t.closed_at <= now and finite(t.pnl) and finite(t.fees)),
                  key=lambda t: (t.closed_at, t.id))


def utc_day(t: Trade) -> date:
    return t.closed_at.astimezone(UTC).date()


def _tally(trades: list[Trade]) -> dict[str, Any]:
    return {"trades": len(trades), "wins": sum(t.pnl > 0 for t in trades), "losses": sum(t.pnl < 0 for t in trades),
            "pnl": money(sum((t.pnl for t in trades), ZERO)), "fees": money(sum((t.fees for t in trades), ZERO))}


def _seconds(micros: Decimal) -> float:
    return float((micros / 1_000_000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def stats(trades: list[Trade]) -> dict[str, Any]:
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl < 0]
    avg_win = sum(wins, ZERO) / len(wins) if wins else None
    avg_loss = sum(losses, ZERO) / len(losses) if losses else None
    longest = {1: 0, -1: 0}
    run_kind, run = 0, 0
    for t in trades:
        kind = 1 if t.pnl > 0 else -1 if t.pnl < 0 else 0
        run = run + 1 if kind == run_kind else 1
        run_kind = kind
        if kind:
            longest[kind] = max(longest[kind], run)
    durations = sorted(_micros(t.closed_at - t.opened) for t in trades if t.closed_at >= t.opened)
    n = len(durations)
    median = (Decimal(durations[(n - 1) // 2]) + Decimal(durations[n // 2])) / 2 if n else None
    volume = sum((t.qty * (t.entry_price + t.exit_price) for t in trades
                  if t.qty > 0 and all(v.is_finite() for v in (t.qty, t.entry_price, t.exit_price))), ZERO)
    return {
        "trades": len(trades),
        "expectancy": money(sum((t.pnl for t in trades), ZERO) / len(trades)) if trades else None,
        "avg_win": None if avg_win is None else money(avg_win),
        "avg_loss": None if avg_loss is None else money(avg_loss),
        "payoff_ratio": float(avg_win / -avg_loss) if avg_win is not None and avg_loss is not None else None,
        "longest_win_streak": longest[1],
        "longest_loss_streak": longest[-1],
        "avg_duration_s": _seconds(Decimal(sum(durations)) / n) if n else None,
        "median_duration_s": None if median is None else _seconds(median),
        "volume": money(volume),
    }


def episodes(trades: list[Trade]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every drawdown episode in order, and the current drawdown, from the cumulative pnl walked
    trade by trade; the running peak starts at the 0 before the first trade."""
    found: list[dict[str, Any]] = []
    cum = peak = ZERO
    peak_at: datetime | None = None  # the last trade at the peak
    current: dict[str, Any] | None = None
    for t in trades:
        cum += t.pnl
        if cum >= peak:
            if current is not None:
                current["end"] = t.closed_at
                current = None
            peak, peak_at = cum, t.closed_at
        elif current is None:
            current = {"start": peak_at or t.closed_at, "peak": peak, "trough": cum, "trough_at": t.closed_at,
                       "end": None}
            found.append(current)
        elif cum < current["trough"]:
            current["trough"], current["trough_at"] = cum, t.closed_at
    now_depth = peak - cum if current is not None else ZERO
    return found, {"depth": money(now_depth), "start": stamp(current["start"]) if current else None}


def expected_track(trades: Iterable[Trade], now: datetime, stale: bool = False) -> dict[str, Any]:
    ordered = counted(trades, now)
    today = now.astimezone(UTC).date()
    months: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    if ordered:
        year, month = utc_day(ordered[0]).year, utc_day(ordered[0]).month
        while (year, month) <= (today.year, today.month):
            inside = [t for t in ordered if (utc_day(t).year, utc_day(t).month) == (year, month)]
            months.append({"month": f"{year:04d}-{month:02d}", **_tally(inside)})
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        for y in range(utc_day(ordered[0]).year, today.year + 1):
            years.append({"year": str(y), **_tally([t for t in ordered if utc_day(t).year == y])})
    found, current = episodes(ordered)
    deepest = sorted(enumerate(found), key=lambda ie: (-(ie[1]["peak"] - ie[1]["trough"]), ie[0]))[:5]
    drawdowns = [{"start": stamp(e["start"]), "trough_at": stamp(e["trough_at"]),
                  "end": stamp(e["end"]) if e["end"] else None, "depth": money(e["peak"] - e["trough"]),
                  "duration_days": ((e["end"] or now) - e["start"]).days} for _, e in deepest]

    def breakdown(name: str, key: Any) -> list[dict[str, Any]]:
        groups: dict[Any, list[Trade]] = {}
        for t in ordered:
            groups.setdefault(key(t), []).append(t)
        rows = []
        for k, members in groups.items():
            tally = _tally(members)
            rows.append((sum((t.pnl for t in members), ZERO), k,
                         {name: k, **tally, "win_rate": tally["wins"] / tally["trades"]}))
        rows.sort(key=lambda r: (-r[0], r[1] is None, r[1] or ""))
        return [{name: r[name], "trades": r["trades"], "wins": r["wins"], "losses": r["losses"],
                 "win_rate": r["win_rate"], "pnl": r["pnl"], "fees": r["fees"]} for _, _, r in rows]

    return {
        "as_of": stamp(now), "stale": stale, "currency": "USD",
        "months": months, "years": years, "drawdowns": drawdowns, "current_drawdown": current,
        "stats": {
            "7d": stats([t for t in ordered if t.closed_at > now - timedelta(days=7)]),
            "30d": stats([t for t in ordered if t.closed_at > now - timedelta(days=30)]),
            "all": stats(ordered),
        },
        "by_symbol": breakdown("symbol", lambda t: t.symbol if t.symbol.strip() else None),
        "by_side": breakdown("side", lambda t: t.side),
    }


def expected_equity(trades: Iterable[Trade], now: datetime) -> list[dict[str, Any]]:
    ordered = counted(trades, now)
    if not ordered:
        return []
    rows = []
    day, today = utc_day(ordered[0]), now.astimezone(UTC).date()
    cum_trades, cum_pnl, best = 0, ZERO, ZERO
    while day <= today:
        inside = [t for t in ordered if utc_day(t) == day]
        pnl = sum((t.pnl for t in inside), ZERO)
        cum_trades, cum_pnl = cum_trades + len(inside), cum_pnl + pnl
        best = max(best, cum_pnl)
        rows.append({"day": day.isoformat(), "trades": len(inside), "pnl": money(pnl),
                     "fees": money(sum((t.fees for t in inside), ZERO)), "cum_trades": cum_trades,
                     "cum_pnl": money(cum_pnl), "drawdown": money(cum_pnl - best)})
        day += timedelta(days=1)
    return rows


def expected_csv(trades: Iterable[Trade], now: datetime) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ["day", "trades", "pnl", "fees", "cum_trades", "cum_pnl", "drawdown"]
    writer.writerow(columns)
    for row in expected_equity(trades, now):
        writer.writerow([row[c] for c in columns])
    return out.getvalue()
